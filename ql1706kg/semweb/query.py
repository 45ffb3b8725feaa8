"""Named SPARQL queries over verdict graphs, the ontology and the shapes; and query safety.

The named queries ship in ``ql1706kg/queries/*.rq``; each opens with a comment saying why it
exists. A query is run over one graph holding the verdicts (screened from patient inputs, or
read from verdict graphs written by ``screen --format turtle|jsonld``), the ontology and the
shapes, so a query can join results to criteria and thresholds.

User-supplied SPARQL never reaches the network: updates, ``SERVICE``, ``LOAD`` and dataset
clauses (``FROM``, which rdflib would dereference) are refused; JSON-LD input with a remote
``@context`` and RDF/XML with a DOCTYPE (external entities) are refused before parsing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from rdflib import Graph
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.algebra import traverse
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from ..errors import InputError, Ql1706kgError
from ..pipeline.validate import load_shapes_graph
from ..protocol.namespaces import bind_prefixes
from ..protocol.terminology import load_ontology

RDF_SUFFIXES = {".ttl": "turtle", ".jsonld": "json-ld", ".nt": "nt", ".rdf": "xml",
                ".owl": "xml", ".xml": "xml", ".trig": "trig", ".nq": "nquads"}


class QueryError(Ql1706kgError):
    """A query that cannot or must not run."""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    purpose: str
    text: str


def named_queries() -> dict[str, NamedQuery]:
    """The queries shipped with the package, by name (file stem)."""
    folder = resources.files("ql1706kg") / "queries"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".rq"):
            text = entry.read_text(encoding="utf-8")
            out[entry.name[:-3]] = NamedQuery(entry.name[:-3], _purpose(text), text)
    return out


def _purpose(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(lines).removeprefix("Why: ")


def query_text(name_or_path: str) -> str:
    """The text of a named query, or of a ``.rq`` file."""
    known = named_queries()
    if name_or_path in known:
        return known[name_or_path].text
    path = Path(name_or_path)
    if path.suffix == ".rq" and path.is_file():
        return path.read_text(encoding="utf-8")
    raise QueryError(f"no query named '{name_or_path}' (known: {', '.join(known)}; or give a "
                     ".rq file)")


def check_safe(text: str):
    """Parse a query and refuse anything that could reach the network or change data."""
    try:
        prepared = prepareQuery(text)
    except Exception as exc:
        if _is_update(text):
            raise QueryError("updates (INSERT, DELETE, LOAD, CLEAR, ...) are refused: queries "
                             "are read-only") from None
        raise QueryError(f"not a valid SPARQL query: {exc}") from None
    if prepared.algebra.get("datasetClause"):
        raise QueryError("FROM / FROM NAMED is refused: a query never loads a graph by IRI")
    services: list[CompValue] = []
    traverse(prepared.algebra, lambda node: services.append(node) if isinstance(
        node, CompValue) and node.name == "ServiceGraphPattern" else None)
    if services:
        raise QueryError("SERVICE is refused: queries never reach the network")
    return prepared


def _is_update(text: str) -> bool:
    try:
        parseUpdate(text)
    except Exception:
        return False
    return True


def read_rdf(path: Path) -> Graph:
    """Parse a verdict graph file safely (no remote JSON-LD context, no XML entities)."""
    fmt = RDF_SUFFIXES[path.suffix.lower()]
    text = path.read_text(encoding="utf-8")
    if fmt == "json-ld":
        _refuse_remote_context(json.loads(text), str(path))
    if fmt == "xml" and re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise InputError(str(path), "RDF/XML with a DOCTYPE or entities is refused (external "
                                    "entities are never resolved)")
    graph = Graph()
    try:
        graph.parse(data=text, format=fmt)
    except Exception as exc:
        raise InputError(str(path), f"not valid {fmt}: {exc}") from None
    return graph


def _refuse_remote_context(data: object, source: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "@context":
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        raise InputError(source, f"JSON-LD with a remote @context ('{item}') "
                                                 "is refused: contexts are never fetched")
            _refuse_remote_context(value, source)
    elif isinstance(data, list):
        for item in data:
            _refuse_remote_context(item, source)


def is_rdf(path: Path) -> bool:
    return path.suffix.lower() in RDF_SUFFIXES


def query_graph(inputs: Iterable[str | Path], as_of: date | str | None = None,
                window_days: int | None = None) -> tuple[Graph, list]:
    """One graph to query: verdicts (read, or screened from patient inputs), ontology, shapes."""
    from ..api import screen
    from ..outputs.render import verdict_graph

    graph = bind_prefixes(Graph())
    graph += load_ontology()
    graph += load_shapes_graph()
    patient_inputs, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_rdf(path):
            try:
                graph += read_rdf(path)
            except InputError as exc:
                errors.append(exc)
        else:
            patient_inputs.append(path)
    if patient_inputs:
        options = {} if window_days is None else {"window_days": window_days}
        screening = screen(patient_inputs, as_of=as_of, **options)
        graph += verdict_graph(screening)
        errors.extend(screening.errors)
    return graph, errors


def run(text: str, graph: Graph) -> tuple[list[str], list[list[str]]]:
    """Run a (checked) SELECT or ASK query; return column names and rows of plain strings."""
    prepared = check_safe(text)
    result = graph.query(prepared)
    if result.type == "ASK":
        return ["ask"], [[str(bool(result.askAnswer)).lower()]]
    if result.type != "SELECT":
        raise QueryError("only SELECT and ASK queries are run")
    names = [str(v) for v in result.vars]
    rows = [["" if value is None else str(value) for value in row] for row in result]
    return names, rows


def format_rows(names: list[str], rows: list[list[str]], fmt: str) -> str:
    """Table for people, CSV or JSON (SPARQL 1.1 results JSON) for programs."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "json":
        bindings = [{n: {"type": "literal", "value": v} for n, v in zip(names, row, strict=True)
                     if v != ""} for row in rows]
        return json.dumps({"head": {"vars": names}, "results": {"bindings": bindings}},
                          indent=2, ensure_ascii=False) + "\n"
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines) + f"\n({len(rows)} row{'s' * (len(rows) != 1)})\n"
