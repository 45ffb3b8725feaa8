"""`serve` answers SPARQL over HTTP with the verdicts; `push` lands them in a real store.

Both run against real Oxigraph servers started on loopback by the tests.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from ql1706kg.semweb.serve import oxigraph_binary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
ELIGIBLE_COUNT = """PREFIX ql: <https://w3id.org/ql1706kg#>
SELECT (COUNT(?a) AS ?n) WHERE { ?a a ql:Assessment ; ql:verdict "eligible" }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sparql(port: int, query: str) -> dict:
    url = f"http://127.0.0.1:{port}/query?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_until_up(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "server exited")
        try:
            sparql(port, "ASK {}")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.fixture
def server(request, tmp_path):
    processes = []

    def start(command: list[str], port: int) -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, cwd=tmp_path)
        processes.append(process)
        wait_until_up(port, process)
        return process

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_serve_answers_select_with_the_verdicts(server):
    port = free_port()
    server([sys.executable, "-m", "ql1706kg.cli", "serve", str(EXAMPLES), "--as-of",
            "2026-11-20", "--port", str(port)], port)
    rows = sparql(port, ELIGIBLE_COUNT)["results"]["bindings"]
    assert rows[0]["n"]["value"] == "9"
    graphs = sparql(port, "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert graphs["results"]["bindings"][0]["n"]["value"] == str(19 + 2)  # + ontology, shapes


def test_serve_is_read_only(server):
    port = free_port()
    server([sys.executable, "-m", "ql1706kg.cli", "serve", str(EXAMPLES / "ineligible-age-77.json"),
            "--as-of", "2026-11-20", "--port", str(port)], port)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/update", method="POST",
                                     data=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
                                     headers={"Content-Type": "application/sparql-update"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10)


def test_push_lands_verdicts_in_a_real_store(server, tmp_path):
    port = free_port()
    server([oxigraph_binary(), "serve", "--location", str(tmp_path / "store"), "--bind",
            f"127.0.0.1:{port}", "--union-default-graph"], port)
    endpoint = f"http://127.0.0.1:{port}/store"
    command = [sys.executable, "-m", "ql1706kg.cli", "push", str(EXAMPLES), "--as-of",
               "2026-11-20", "--endpoint", endpoint]
    for _ in range(2):  # a second push replaces, never duplicates
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "19 assessment graph(s) stored" in proc.stdout
    assert sparql(port, ELIGIBLE_COUNT)["results"]["bindings"][0]["n"]["value"] == "9"
    evidence = sparql(port, """PREFIX ql: <https://w3id.org/ql1706kg#>
        SELECT ?value WHERE { ?r ql:criterion ql:IC9.2-AST ; ql:evidence ?obs .
                              ?obs ql:value ?value . FILTER(CONTAINS(STR(?r), "QL-DDL-003")) }""")
    assert [b["value"]["value"] for b in evidence["results"]["bindings"]] == ["105"]


def test_push_to_nowhere_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "ql1706kg.cli", "push",
                           str(EXAMPLES / "ineligible-age-77.json"), "--as-of", "2026-11-20",
                           "--endpoint", f"http://127.0.0.1:{free_port()}/store"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "cannot reach" in proc.stderr
    assert "Traceback" not in proc.stderr
