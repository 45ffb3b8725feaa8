"""`serve` answers SPARQL over HTTP with the verdicts, behind its gate; `push` lands them in a
real store.

Every server here is the real program (``.venv/bin/ql1706kg serve``, or Oxigraph itself for
`push`), started on a free loopback port (or 0.0.0.0 for the token test) with its temporary
folder inside the test's own, stopped with SIGTERM and waited for; after each test no Oxigraph
child of the test process may remain, and no temporary store.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from ql1706kg.semweb.serve import oxigraph_binary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
ONE_PATIENT = EXAMPLES / "ineligible-age-77.json"
PROGRAM = str(Path(sys.executable).parent / "ql1706kg")
ELIGIBLE_COUNT = """PREFIX ql: <https://w3id.org/ql1706kg#>
SELECT (COUNT(?a) AS ?n) WHERE { ?a a ql:Assessment ; ql:verdict "eligible" }"""
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


SHARED: set[int] = set()  # servers a module-scoped fixture keeps for several tests


def _is_engine(process: psutil.Process) -> bool:
    """An Oxigraph process: the binary (push's store, the loader), or serve's engine child."""
    return "oxigraph" in process.name() or "ql1706kg.semweb.engine_worker" in " ".join(
        process.cmdline())


def oxigraph_children(but_shared: bool = False) -> list[psutil.Process]:
    """Oxigraph processes under this test process (but those of shared servers)."""
    skip = set()
    if but_shared:
        for pid in SHARED:
            with contextlib.suppress(psutil.Error):
                skip |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if (_is_engine(child) and child.status() != psutil.STATUS_ZOMBIE
                    and child.pid not in skip):
                found.append(child)
    return found


def assert_none_left(but_shared: bool = False) -> None:
    deadline = time.monotonic() + 5
    while oxigraph_children(but_shared) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert oxigraph_children(but_shared) == []


@pytest.fixture(scope="module", autouse=True)
def no_oxigraph_left_at_the_end():
    """When the module is done (shared servers stopped): no Oxigraph child at all."""
    yield
    assert_none_left()


@pytest.fixture(autouse=True)
def no_oxigraph_left_behind():
    """After every test: no Oxigraph child of this test process is left running, but those
    of the shared server."""
    yield
    assert_none_left(but_shared=True)


def http(port: int, path: str, data: bytes | None = None, method: str | None = None,
         headers: dict | None = None, timeout: float = 15) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def sparql(port: int, query: str, headers: dict | None = None) -> tuple[int, bytes]:
    status, body, _ = http(port, "/query?" + urllib.parse.urlencode({"query": query}),
                           headers={"Accept": "application/sparql-results+json",
                                    **(headers or {})})
    return status, body


def rows(port: int, query: str) -> list[dict]:
    status, body = sparql(port, query)
    assert status == 200, body
    return json.loads(body)["results"]["bindings"]


@dataclass
class Endpoint:
    process: subprocess.Popen
    port: int
    log: Path
    tmp: Path

    def stderr(self) -> str:
        return self.log.read_text()

    def engine(self) -> psutil.Process:
        (child,) = [c for c in psutil.Process(self.process.pid).children(recursive=True)
                    if _is_engine(c) and c.status() != psutil.STATUS_ZOMBIE]
        return child

    def engine_socket(self) -> str:
        command = self.engine().cmdline()
        return command[command.index("--socket") + 1]

    def store(self) -> Path:
        command = self.engine().cmdline()
        return Path(command[command.index("--location") + 1])

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start(where: Path, *arguments: str, host: str = "127.0.0.1") -> Endpoint:
    """The real program serving on a free port, up and answering."""
    where.mkdir(parents=True, exist_ok=True)
    tmp = where / "tmp"
    tmp.mkdir(exist_ok=True)
    port = free_port()
    log = where / "serve.log"
    with log.open("w") as err:
        process = subprocess.Popen([PROGRAM, "serve", *arguments, "--host", host, "--port",
                                    str(port)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err,
                                   env={**os.environ, "TMPDIR": str(tmp)}, cwd=where)
    endpoint = Endpoint(process, port, log, tmp)
    deadline = time.monotonic() + 90
    while "SPARQL endpoint" not in endpoint.stderr():
        if process.poll() is not None or time.monotonic() > deadline:
            endpoint.stop()
            raise AssertionError(endpoint.stderr())
        time.sleep(0.05)
    return endpoint


@contextlib.contextmanager
def running(where: Path, *arguments: str, host: str = "127.0.0.1"):
    endpoint = start(where, *arguments, host=host)
    try:
        yield endpoint
    finally:
        endpoint.stop()
        assert list(endpoint.tmp.iterdir()) == [], "a temporary store was left behind"


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """The 19 examples and one unreadable verdict file, served with a 2 s timeout."""
    where = tmp_path_factory.mktemp("serve")
    bad = where / "utf16.ttl"
    bad.write_bytes("<urn:a> <urn:b> <urn:c> .".encode("utf-16"))
    with running(where, str(EXAMPLES), str(bad), "--as-of", "2026-11-20", "--timeout",
                 "2") as endpoint:
        endpoint.bad = bad
        SHARED.add(endpoint.process.pid)
        yield endpoint
        SHARED.clear()
        assert endpoint.stop() == 1  # an input could not be read; the others were served


def test_serve_answers_select_with_the_verdicts(examples):
    assert rows(examples.port, ELIGIBLE_COUNT)[0]["n"]["value"] == "9"
    graphs = rows(examples.port,
                  "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert graphs[0]["n"]["value"] == str(19 + 2)  # + ontology, shapes
    status, body = sparql(examples.port, "ASK { ?s ?p ?o }")
    assert status == 200 and json.loads(body)["boolean"] is True


def test_serve_prints_input_errors_like_the_other_commands(examples):
    lines = [line for line in examples.stderr().splitlines() if line.startswith("error:")]
    assert lines == [f"error: {examples.bad}: is UTF-16 text; RDF input must be UTF-8"]
    assert "ScreeningError(" not in examples.stderr() and "Traceback" not in examples.stderr()


def test_serve_is_read_only_and_offers_the_graph_store_read(examples):
    port = examples.port
    status, body, _ = http(port, "/update", method="POST",
                           data=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
                           headers={"Content-Type": "application/sparql-update"})
    assert status == 403 and body.decode().count("\n") == 1
    for method in ("PUT", "POST", "DELETE"):
        status, _, _ = http(port, "/store?default", method=method, data=b"",
                            headers={"Content-Type": "text/turtle"})
        assert status == 403
    graph = urllib.parse.quote("https://w3id.org/ql1706kg", safe="")
    status, body, headers = http(port, f"/store?graph={graph}",
                                 headers={"Accept": "application/n-triples"})
    assert status == 200 and headers["Content-Type"].startswith("application/n-triples")
    assert body.count(b"\n") > 100
    assert http(port, f"/store?graph={graph}", method="HEAD")[0] == 200
    assert http(port, "/")[0] == 200 and http(port, "/nowhere")[0] == 404
    assert http(port, "/yasgui.min.js")[0] == 404  # no engine page is passed on


def test_serve_makes_no_outbound_connection_for_any_query(examples):
    """A real listener on loopback: no query sent through the endpoint may reach it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        there = f"http://127.0.0.1:{listener.getsockname()[1]}"
        refused = [
            f"SELECT * WHERE {{ SERVICE <{there}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ SERVICE SILENT <{there}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ BIND(<{there}/sparql> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
            f"PREFIX x: <{there}/>\nSELECT * WHERE {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ \\u0053ERVICE <{there}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ ?s ?p ?o . serVICE # comment\n <{there}/x> {{ ?a ?b ?c }} }}",
            f"LOAD <{there}/data.ttl>",
        ]
        for query in refused:
            status, body = sparql(examples.port, query)
            assert status == 403, (query, body)
            assert body.decode().count("\n") == 1 and b"refused" in body
        form = urllib.parse.urlencode({"query": refused[0]}).encode()
        for path, data, kind in [("/query", form, "application/x-www-form-urlencoded"),
                                 ("/sparql", refused[1].encode(), "application/sparql-query"),
                                 ("/update", f"LOAD <{there}/x>".encode(),
                                  "application/sparql-update")]:
            status, _, _ = http(examples.port, path, data=data, headers={"Content-Type": kind})
            assert status == 403, path
        # Dataset clauses and parameters name graphs of the store: answered, nothing fetched.
        query = f"SELECT * FROM <{there}/g> FROM NAMED <{there}/h> WHERE {{ ?s ?p ?o }} LIMIT 1"
        assert sparql(examples.port, query)[0] == 200
        status, _, _ = http(examples.port, "/query?" + urllib.parse.urlencode(
            {"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "default-graph-uri": f"{there}/g",
             "named-graph-uri": f"{there}/h"}))
        assert status == 200
        graph = urllib.parse.quote(f"{there}/g", safe="")
        assert http(examples.port, f"/store?graph={graph}")[0] == 404
        assert select.select([listener], [], [], 0.3)[0] == [], "the endpoint connected out"
        # The engine is reachable by the gate only: its socket is in a folder of its owner's,
        # and without the run's secret it answers 403, whatever the query.
        path = examples.engine_socket()
        assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0
        status, _ = engine_request(path, refused[0], secret=None)
        assert status == 403
        assert select.select([listener], [], [], 0.3)[0] == []
        assert "QL1706KG" not in " ".join(examples.engine().cmdline())
        assert not any(c.laddr and getattr(c.laddr, "port", None) for c in
                       examples.engine().net_connections(kind="inet")), "a TCP listener"


def engine_request(path: str, query: str, secret: str | None) -> tuple[int, bytes]:
    """A query sent straight to the engine's socket, past the gate."""
    from ql1706kg.semweb.engine import UnixConnection

    connection = UnixConnection(path, timeout=5)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if secret is not None:
            headers["X-Ql1706kg-Engine"] = secret
        connection.request("POST", "/query", body=urllib.parse.urlencode(
            {"query": query}).encode(), headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serve_stops_a_runaway_query_at_its_timeout(examples):
    before = examples.engine()
    began = time.monotonic()
    status, body = sparql(examples.port, RUNAWAY)
    took = time.monotonic() - began
    assert status == 504 and body == b"the query was stopped at the endpoint's 2 s timeout\n"
    assert 2 <= took < 6
    # The child that ran it is gone (its CPU with it); a new one answers at once, idle.
    assert not before.is_running() or before.status() == psutil.STATUS_ZOMBIE
    deadline = time.monotonic() + 10
    while True:
        try:
            after = examples.engine()
            break
        except (ValueError, psutil.Error):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert after.pid != before.pid
    assert after.cpu_percent(interval=0.5) < 20
    assert rows(examples.port, ELIGIBLE_COUNT)[0]["n"]["value"] == "9"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_serve_leaves_no_process_behind_on_sigterm(tmp_path, signum):
    endpoint = start(tmp_path, str(ONE_PATIENT), "--as-of", "2026-11-20")
    engine, store = endpoint.engine(), endpoint.store()
    assert store.is_dir() and store.is_relative_to(endpoint.tmp)
    assert endpoint.stop(signum) == 0
    assert not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE
    assert not store.exists() and list(endpoint.tmp.iterdir()) == []
    assert endpoint.stderr().splitlines()[-1] == "stopped"


def test_serve_answers_401_without_the_token_when_bound_beyond_loopback(tmp_path):
    token = "a-token-of-32-characters-0123456"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    with running(tmp_path / "with", str(ONE_PATIENT), "--as-of", "2026-11-20",
                 "--token-file", str(token_file), host="0.0.0.0") as endpoint:
        assert "(bearer token required)" in endpoint.stderr()
        assert token not in endpoint.stderr()
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {token}"}):
            status, _, answer = http(endpoint.port, "/query?query=ASK%7B%7D",
                                     headers=headers)
            assert status == 401 and answer["WWW-Authenticate"].startswith("Bearer")
            assert http(endpoint.port, "/store", headers=headers)[0] == 401
        status, _ = sparql(endpoint.port, "ASK {}", {"Authorization": f"Bearer {token}"})
        assert status == 200


def test_serve_beyond_loopback_without_a_token_file_prints_a_new_one_once(tmp_path):
    with running(tmp_path, str(ONE_PATIENT), "--as-of", "2026-11-20",
                 host="0.0.0.0") as endpoint:
        lines = [line for line in endpoint.stderr().splitlines() if line.startswith("token")]
        assert len(lines) == 1
        token = lines[0].rsplit(" ", 1)[1]
        assert len(token) >= 32
        assert sparql(endpoint.port, "ASK {}")[0] == 401
        assert sparql(endpoint.port, "ASK {}", {"Authorization": f"Bearer {token}"})[0] == 200


def test_a_port_in_use_is_one_line_and_exit_3_before_any_banner(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        began = time.monotonic()
        proc = subprocess.run([PROGRAM, "serve", str(EXAMPLES), "--port", str(port)],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 3
    assert proc.stderr == f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use\n"
    assert time.monotonic() - began < 10  # refused before screening anything
    assert list(tmp_path.iterdir()) == []


def test_push_lands_verdicts_in_a_real_store(tmp_path):
    port = free_port()
    store = subprocess.Popen([oxigraph_binary(), "serve", "--location", str(tmp_path / "store"),
                              "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            assert time.monotonic() < deadline and store.poll() is None
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port}/store"
        command = [sys.executable, "-m", "ql1706kg.cli", "push", str(EXAMPLES), "--as-of",
                   "2026-11-20", "--endpoint", endpoint]
        for _ in range(2):  # a second push replaces, never duplicates
            proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr
            assert "19 assessment graph(s) stored" in proc.stdout
        assert rows(port, ELIGIBLE_COUNT)[0]["n"]["value"] == "9"
        evidence = rows(port, """PREFIX ql: <https://w3id.org/ql1706kg#>
            SELECT ?value WHERE { ?r ql:criterion ql:IC9.2-AST ; ql:evidence ?obs .
                ?obs ql:value ?value . FILTER(CONTAINS(STR(?r), "QL-DDL-003")) }""")
        assert [b["value"]["value"] for b in evidence] == ["105"]
    finally:
        store.terminate()
        store.wait(timeout=10)


def test_push_to_nowhere_is_one_line_and_exit_3():
    proc = subprocess.run([sys.executable, "-m", "ql1706kg.cli", "push", str(ONE_PATIENT),
                           "--as-of", "2026-11-20", "--endpoint",
                           f"http://127.0.0.1:{free_port()}/store"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and proc.stderr.startswith("Error: cannot reach")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_serve_answers_its_service_description_at_the_endpoint(examples):
    """SPARQL 1.1 Service Description §2: a GET of the endpoint without a query."""
    from rdflib import Graph, Namespace, URIRef
    from rdflib.namespace import RDF

    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    status, body, headers = http(examples.port, "/query", headers={"Accept": "text/turtle"})
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    graph = Graph().parse(data=body, format="turtle")
    (service,) = graph.subjects(RDF.type, sd.Service)
    assert graph.value(service, sd.endpoint) == URIRef(
        f"http://127.0.0.1:{examples.port}/query")
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in set(
        graph.objects(service, sd.resultFormat))
    dataset = graph.value(service, sd.defaultDataset)
    names = {str(graph.value(node, sd.name)) for node in graph.objects(dataset, sd.namedGraph)}
    assert len(names) == 19 + 2 and {"https://w3id.org/ql1706kg",
                                     "https://w3id.org/ql1706kg/shapes"} <= names
    assert sd.BasicFederatedQuery not in set(graph.objects(service, sd.feature))


def test_serve_answers_a_void_description_of_what_it_holds(examples):
    """VoID §6.2: /.well-known/void; the counts are the store's."""
    from rdflib import Graph, Namespace, URIRef
    from rdflib.namespace import RDF

    void = Namespace("http://rdfs.org/ns/void#")
    status, body, headers = http(examples.port, "/.well-known/void",
                                 headers={"Accept": "text/turtle"})
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    graph = Graph().parse(data=body, format="turtle")
    (dataset,) = graph.subjects(RDF.type, void.Dataset)
    assert graph.value(dataset, void.sparqlEndpoint) == URIRef(
        f"http://127.0.0.1:{examples.port}/query")
    distinct = rows(examples.port, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o "
                                   "WHERE { GRAPH ?g { ?s ?p ?o } } }")
    assert graph.value(dataset, void.triples).toPython() == int(distinct[0]["n"]["value"])
    classes = {str(graph.value(p, void["class"])): graph.value(p, void.entities).toPython()
               for p in graph.objects(dataset, void.classPartition)}
    assert classes["https://w3id.org/ql1706kg#Assessment"] == 19
    properties = {str(graph.value(p, void.property)): graph.value(p, void.triples).toPython()
                  for p in graph.objects(dataset, void.propertyPartition)}
    assert properties["https://w3id.org/ql1706kg#verdict"] == 19
    assert URIRef("https://w3id.org/ql1706kg#") in set(graph.objects(dataset, void.vocabulary))
    assert http(examples.port, "/.well-known/void", method="POST", data=b"")[0] == 405


def test_concurrent_queries_all_answer(examples):
    """Twenty queries at once through the gate (its parser is not shared unguarded between
    threads): each answers 200 with the same rows as alone."""
    from concurrent.futures import ThreadPoolExecutor

    queries = [ELIGIBLE_COUNT, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
               "PREFIX ql: <https://w3id.org/ql1706kg#>\nSELECT ?id WHERE { ?c ql:criterionId "
               "?id } ORDER BY ?id # a comment\n", "ASK { ?s ?p ?o }"] * 5
    alone = {q: sparql(examples.port, q) for q in set(queries)}
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda q: sparql(examples.port, q), queries))
    for query, answer in zip(queries, answers, strict=True):
        assert answer == alone[query] and answer[0] == 200


def test_a_host_header_of_another_name_is_refused(examples):
    """DNS rebinding: a page of another site whose name now points at 127.0.0.1 sends its own
    name as Host; only loopback names and addresses (and --host) are answered."""
    for host in ("evil.example", "evil.example:7878", "127.0.0.1.evil.example", "bad host"):
        status, _ = sparql(examples.port, ELIGIBLE_COUNT, headers={"Host": host})
        assert status == 421, host
    for host in ("localhost", f"localhost:{examples.port}", "127.0.0.1", "[::1]:80",
                 "app.localhost"):
        assert sparql(examples.port, ELIGIBLE_COUNT, headers={"Host": host})[0] == 200, host


def test_serve_store_never_touches_a_folder_it_did_not_make(tmp_path):
    """--store DIR keeps the store; its scratch files live in the run's own temporary folder,
    so a user's DIR-scratch beside it is never removed (it was)."""
    sibling = tmp_path / "kept-scratch"
    sibling.mkdir()
    (sibling / "notes.txt").write_text("mine")
    with running(tmp_path / "run", str(ONE_PATIENT), "--as-of", "2026-11-20", "--store",
                 str(tmp_path / "kept")) as endpoint:
        assert rows(endpoint.port, ELIGIBLE_COUNT)[0]["n"]["value"] == "0"
    assert (sibling / "notes.txt").read_text() == "mine"
    assert (tmp_path / "kept" / "CURRENT").is_file()
