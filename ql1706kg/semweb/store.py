"""An Oxigraph store on disk, filled by the ``oxigraph`` binary's bulk loader and queried by
its ``query`` command: each a child process of its own, so a query is stopped at its timeout
by killing it (its CPU and memory go with it), and no triple of the cohort is ever held in
this Python process.

Why the binary (shipped in the ``oxigraph`` wheel ``serve`` already uses) and not rdflib:
rdflib held ~1 GB and 31 s to answer ``attrition`` over 1,000 patients; Oxigraph's bulk
loader reads the verdicts as N-Quads written by the screening (this process only moves
bytes) and every named query over 10,000 patients answers in under 0.4 s. Why not the
``pyoxigraph`` package: an evaluation inside this process cannot be stopped at a timeout, and
a worker process that forks after the loader's threads have run is not safe; the binary needs
neither, and adds no dependency.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson
from rdflib import BNode, Literal, URIRef

from ..errors import EnvironmentFailure
from .results import QueryResult
from .safety import QueryError
from .tether import tethered

DEFAULT_TIMEOUT = 30.0
# A result larger than this on disk stops the query (a runaway SELECT * writes gigabytes).
MAX_RESULT_BYTES = 512 << 20
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class StoreError(EnvironmentFailure):
    """The Oxigraph binary is missing or failed for a reason that is not the input's."""


class LoadError(Exception):
    """Oxigraph refused the data given to one loader (its message, one line)."""


class QueryTimeout(EnvironmentFailure):
    """A query ran past its timeout and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the query was stopped at its {seconds:g} s timeout (allow more with "
                         "--timeout SECONDS, or narrow the query)")


def oxigraph_binary() -> str:
    """The ``oxigraph`` executable of this environment."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        raise StoreError("the oxigraph server is not installed (pip install oxigraph)")
    return found


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.startswith(("Some files like", "If you plan to", "note:"))]
    return " ".join(" ".join(lines[:3]).split())[:300] or "no message"


class Store:
    """An Oxigraph store folder (created if missing) and a scratch folder beside it;
    ``patients`` counts the assessments loaded into it by this object."""

    def __init__(self, location: Path, scratch: Path) -> None:
        self.location, self.scratch = location, scratch
        self.patients = 0
        self.binary = oxigraph_binary()
        location.mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _child(self, arguments: list[str], stdin=subprocess.DEVNULL) -> Iterator[_Child]:
        """An ``oxigraph`` child process; killed (and waited for) if still running when the
        block ends; its standard error kept in a file and read into ``message``."""
        with tempfile.TemporaryFile(dir=self.scratch) as log:
            child = _Child(subprocess.Popen(tethered([self.binary, *arguments]), stdin=stdin,
                                            stdout=subprocess.DEVNULL, stderr=log))
            try:
                yield child
            finally:
                if child.process.poll() is None:
                    child.process.kill()
                child.process.wait()
                if child.process.stdin is not None:
                    with contextlib.suppress(BrokenPipeError):
                        child.process.stdin.close()
                log.seek(0)
                child.message = _one_line(log.read().decode("utf-8", "replace"))

    @contextlib.contextmanager
    def loader(self, fmt: str, graph: str | None = None, base: str | None = None
               ) -> Iterator[BinaryIO]:
        """A pipe into Oxigraph's bulk loader: write ``fmt`` bytes (``nq``, ``ttl``…), and
        the data is in the store when the block ends (all of it, or, on :class:`LoadError`,
        none: Oxigraph loads atomically). Triples go to ``graph`` (default: the default
        graph)."""
        arguments = ["load", "--location", str(self.location), "--format", fmt]
        arguments += ["--graph", graph] if graph else []
        arguments += ["--base", base] if base else []
        with self._child(arguments, stdin=subprocess.PIPE) as child:
            with contextlib.suppress(BrokenPipeError):  # the loader stopped: it says why
                yield child.process.stdin
                child.process.stdin.close()
            child.code = child.process.wait()
        if child.code != 0:
            raise LoadError(child.message)

    def load_files(self, files: list[Path], graph: str | None = None, fmt: str | None = None,
                   base: str | None = None) -> None:
        """Load files (in parallel; a line-based file is also parsed in parallel, ~1.7× the
        rate of the same bytes through :meth:`loader`'s pipe); the format is ``fmt``, or
        what each suffix tells. Raise :class:`LoadError` with Oxigraph's message."""
        arguments = ["load", "--location", str(self.location), "--file", *map(str, files)]
        arguments += ["--graph", graph] if graph else []
        arguments += ["--format", fmt] if fmt else []
        arguments += ["--base", base] if base else []
        with self._child(arguments) as child:
            child.code = child.process.wait()
        if child.code != 0:
            raise LoadError(child.message)

    def optimize(self) -> None:
        """Compact the store (``oxigraph optimize``). The bulk loader leaves many overlapping
        files, and a lookup reads each: measured on 100,000 patients (56 million quads),
        compacting took 110 s and made the named queries ~10× faster (eligible-patients
        102 s to 10 s, unknown-worklist 47 s to 3.4 s)."""
        with self._child(["optimize", "--location", str(self.location)]) as child:
            child.code = child.process.wait()
        if child.code != 0:
            raise StoreError(f"oxigraph could not compact the store: {child.message}")

    def query(self, text: str, timeout: float | None = DEFAULT_TIMEOUT) -> QueryResult:
        """Evaluate a query (checked by the caller) over the union of the store's graphs;
        stopped at ``timeout`` seconds (:class:`QueryTimeout`)."""
        folder = Path(tempfile.mkdtemp(prefix="query-", dir=self.scratch))
        try:
            query, results = folder / "query.rq", folder / "results.srj"
            query.write_text(text, encoding="utf-8")
            with self._child(["query", "--location", str(self.location), "--query-file",
                              str(query), "--results-file", str(results),
                              "--results-format", "json", "--union-default-graph"]) as child:
                child.code = _wait(child.process, results, timeout)
            if child.code != 0:
                raise QueryError(f"the query failed: {child.message}")
            return parse_results(results.read_bytes())
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class _Child:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.code, self.message = process, None, ""


def _wait(process: subprocess.Popen, results: Path, timeout: float | None) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            raise QueryTimeout(timeout)
        with contextlib.suppress(OSError):
            if os.stat(results).st_size > MAX_RESULT_BYTES:
                raise QueryError(f"the result is larger than {MAX_RESULT_BYTES >> 20} MB; "
                                 "narrow the query (LIMIT, or fewer variables)")


def parse_results(data: bytes) -> QueryResult:
    """W3C SPARQL JSON results as a :class:`QueryResult` of rdflib terms."""
    document = orjson.loads(data)
    if "boolean" in document:
        return QueryResult(boolean=bool(document["boolean"]))
    names = list(document.get("head", {}).get("vars", []))
    rows = [[_term(binding.get(name)) for name in names]
            for binding in document.get("results", {}).get("bindings", [])]
    return QueryResult(names, rows)


def _term(value: dict | None):
    if value is None:
        return None
    kind, text = value.get("type"), value.get("value", "")
    if kind == "uri":
        return URIRef(text)
    if kind == "bnode":
        return BNode(text)
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in value:
            return Literal(text, lang=value["xml:lang"])
        datatype = value.get("datatype")
        if datatype == _XSD_STRING:
            datatype = None  # a simple literal, as rdflib reads one
        return Literal(text, datatype=URIRef(datatype) if datatype else None)
    return Literal(orjson.dumps(value).decode())  # a quoted triple: shown as its JSON
