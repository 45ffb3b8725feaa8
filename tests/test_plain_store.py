"""`push` into a plain SPARQL 1.1 store: a real, writable ``oxigraph serve`` (the binary of the
``oxigraph`` wheel that ``serve`` and ``query`` use) whose default graph is *not* the union of
its named graphs. The named queries must return there exactly the rows ``ql1706kg query``
returns locally, and a pseudonymised push must leave no identity in the store.

Each server is started by the test in its own folder under ``tmp_path``, stopped (SIGTERM,
then SIGKILL) and waited for, and its folder removed; no Oxigraph process of this test process
may remain afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from ql1706kg.semweb.query import named_queries
from ql1706kg.semweb.store import oxigraph_binary
from tests.conftest import protocol_criteria_rows

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
PROGRAM = [sys.executable, "-m", "ql1706kg.cli"]
AS_OF = "2026-11-20"
ROWS = {"eligible-patients": 9, "attrition": 28, "unknown-worklist": 24,
        "failing-only-on-labs": 2, "protocol-criteria": protocol_criteria_rows()}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _oxigraph_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "oxigraph" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found


@contextlib.contextmanager
def plain_store(folder: Path):
    """A writable Oxigraph server with a default graph of its own (no
    ``--union-default-graph``) on a free loopback port; yields its base URL."""
    folder.mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([oxigraph_binary(), "serve", "--location", str(folder / "db"),
                                "--bind", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder)
        assert _oxigraph_children() == []
        assert not folder.exists()


def remote(base: str, query: str) -> list[dict]:
    request = urllib.request.Request(
        f"{base}/query", data=urllib.parse.urlencode({"query": query}).encode(),
        headers={"Accept": "application/sparql-results+json",
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["results"]["bindings"]


def normalised(bindings: list[dict]) -> list[dict]:
    """Rows as comparable values: xsd:string is a simple literal."""
    out = []
    for row in bindings:
        cells = {}
        for name, cell in row.items():
            value = cell["value"]
            datatype = cell.get("datatype")
            cells[name] = (cell["type"].replace("typed-literal", "literal"), value,
                           None if datatype == XSD_STRING else datatype, cell.get("xml:lang"))
        out.append(cells)
    return out


def cli(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*PROGRAM, *arguments], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory) -> dict[str, list[dict]]:
    """What ``ql1706kg query NAME`` returns on the examples (one kept store, loaded once)."""
    kept = tmp_path_factory.mktemp("local") / "store"
    out = {}
    for index, name in enumerate(ROWS):
        inputs = [str(EXAMPLES), "--as-of", AS_OF] if index == 0 else []
        proc = cli("query", name, *inputs, "--store", str(kept), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        out[name] = json.loads(proc.stdout)["results"]["bindings"]
    return out


def test_named_queries_answer_the_same_in_a_plain_store_after_push(tmp_path, local_rows):
    with plain_store(tmp_path / "oxigraph") as base:
        proc = cli("push", str(EXAMPLES), "--as-of", AS_OF, "--endpoint", f"{base}/store")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("19 assessment graph(s) stored")
        # the store's default graph is its own (empty), not the union of the named graphs
        assert remote(base, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]["value"] == "0"
        graphs = remote(base, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        names = {row["g"]["value"] for row in graphs}
        assert {"https://w3id.org/ql1706kg", "https://w3id.org/ql1706kg/shapes"} <= names
        assert len(names) == 19 + 2
        for name, query in named_queries().items():
            there = remote(base, query.text)
            assert len(there) == ROWS[name], name
            assert normalised(there) == normalised(local_rows[name]), name
        # a second push replaces every graph, ontology and shapes included: same rows
        assert cli("push", str(EXAMPLES), "--as-of", AS_OF, "--endpoint",
                   f"{base}/store").returncode == 0
        assert len(remote(base, named_queries()["protocol-criteria"].text)) == ROWS[
            "protocol-criteria"]
        total = remote(base, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert len({row["g"]["value"] for row in remote(
            base, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}) == 21
        assert int(total[0]["n"]["value"]) > 0


def test_local_query_reads_verdict_files_of_every_syntax_like_patient_inputs(tmp_path,
                                                                             local_rows):
    """Triples of a Turtle or JSON-LD verdict file go to the file's own named graph, so the
    GRAPH patterns of the named queries read them as they read N-Quads' assessment graphs."""
    for fmt, suffix in (("turtle", "ttl"), ("jsonld", "jsonld"), ("nquads", "nq")):
        verdicts = tmp_path / f"verdicts.{suffix}"
        assert cli("screen", str(EXAMPLES), "--as-of", AS_OF, "--format", fmt, "-o",
                   str(verdicts)).returncode == 0
        for name in ("eligible-patients", "unknown-worklist"):
            proc = cli("query", name, str(verdicts), "--format", "json")
            assert proc.returncode == 0, proc.stderr
            assert normalised(json.loads(proc.stdout)["results"]["bindings"]) == normalised(
                local_rows[name]), (fmt, name)


# -- pseudonymised push -----------------------------------------------------------------------
NAME = "Zelda Quuxworth"
IDENTIFYING = ("ZQ-IDENT-88231", "1959-07-29", "zelda-quuxworth-mrn-4471", "Quuxworth",
               "Zelda", "mrn-4471", "scar near Zelda", ".json")


def identifying_record(base: dict) -> dict:
    record = json.loads(json.dumps(base))
    record["id"] = "ZQ-IDENT-88231"
    record["birth_date"] = "1959-07-29"
    record["prior_therapies"][0]["name"] = f"{NAME}'s regimen (Dr Quuxworth)"
    record["lesions"][0]["site"] = "lung, scar near Zelda Quuxworth's port"
    return record


@pytest.fixture
def inputs(tmp_path, base) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "zelda-quuxworth-mrn-4471.json").write_text(
        json.dumps(identifying_record(base)))
    for example in sorted(EXAMPLES.glob("eligible-*.json"))[:3]:
        shutil.copy(example, folder / example.name)
    return folder


def _secrets(folder: Path) -> list[str]:
    """Every id, birth date and file name of the inputs, and the free text planted."""
    found = list(IDENTIFYING)
    for path in folder.glob("*.json"):
        record = json.loads(path.read_text())
        found += [record["id"], record["birth_date"], path.name, path.stem]
    return found


def _key(path: Path, fill: bytes) -> Path:
    path.write_bytes(fill * 32)
    return path


def test_a_pseudonymised_push_leaves_no_identity_in_the_store(tmp_path, inputs):
    key = _key(tmp_path / "site.key", b"k")
    with plain_store(tmp_path / "oxigraph") as base:
        proc = cli("push", str(inputs), "--as-of", AS_OF, "--endpoint", f"{base}/store",
                   "--pseudonymise", str(key))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("4 assessment graph(s) stored")
        quads = remote(base, "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                             "FILTER(?g NOT IN (<https://w3id.org/ql1706kg>, "
                             "<https://w3id.org/ql1706kg/shapes>)) }")
        dumped = json.dumps(quads).lower()
        for secret in _secrets(inputs):
            assert secret.lower() not in dumped, secret
        predicates = {row["p"]["value"].rsplit("#", 1)[-1] for row in quads}
        assert not predicates & {"birthDate", "sourceFile", "explanation", "label",
                                 "histologyText", "testText"}
        # what a feasibility registry needs is there: verdicts, outcomes, counts, ages
        eligible = remote(base, named_queries()["eligible-patients"].text)
        assert len(eligible) == 4  # the three eligible examples and the planted record
        assert all(len(row["id"]["value"]) == 32 for row in eligible)
        ages = remote(base, """PREFIX ql: <https://w3id.org/ql1706kg#>
            SELECT ?age WHERE { GRAPH ?g { ?p ql:age/ql:normalisedValue ?age } }""")
        assert {row["age"]["datatype"] for row in ages} == {
            "http://www.w3.org/2001/XMLSchema#integer"}
        assert "67" in {row["age"]["value"] for row in ages}  # 1959-07-29 to the ICF


def _export(inputs: Path, key: Path, out: Path) -> str:
    proc = cli("export", "--what", "verdicts", str(inputs), "--as-of", AS_OF,
               "--pseudonymise", str(key), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


PROTOCOL_ENDS = ("<https://w3id.org/ql1706kg> .", "<https://w3id.org/ql1706kg/shapes> .")


def _graph_names(nquads: str) -> set[str]:
    return {line.rsplit(" ", 2)[-2] for line in nquads.splitlines() if line}


def test_pseudonyms_are_stable_for_a_key_and_differ_between_keys(tmp_path, inputs):
    one, two = _key(tmp_path / "one.key", b"a"), _key(tmp_path / "two.key", b"b")
    first = _export(inputs, one, tmp_path / "first.nq")
    again = _export(inputs, one, tmp_path / "again.nq")
    other = _export(inputs, two, tmp_path / "other.nq")
    verdicts = "\n".join(line for line in first.splitlines()
                         if not line.endswith(PROTOCOL_ENDS)).lower()
    for secret in _secrets(inputs):
        assert secret.lower() not in verdicts, secret
    assessments = _graph_names(first) - {"<https://w3id.org/ql1706kg>",
                                         "<https://w3id.org/ql1706kg/shapes>"}
    assert len(assessments) == 4
    assert _graph_names(again) == _graph_names(first)
    assert not assessments & _graph_names(other)


@pytest.mark.parametrize("content", [None, b"", b"\n\n", b"x" * 31])
def test_an_unusable_key_file_is_a_usage_error(tmp_path, content):
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
    for command in (["push", str(EXAMPLES / "eligible-leiomyosarcoma.json"), "--endpoint",
                     "http://127.0.0.1:9/store"],
                    ["export", "--what", "verdicts", str(EXAMPLES)]):
        proc = cli(*command, "--as-of", AS_OF, "--pseudonymise", str(key), timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "--pseudonymise" in proc.stderr and "Traceback" not in proc.stderr
    assert os.path.exists(tmp_path)
