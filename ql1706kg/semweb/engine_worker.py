"""The query engine behind the ``serve`` gate: Oxigraph (pyoxigraph, the same engine and
version as the ``oxigraph`` binary) in a child process that listens on a Unix socket.

Why not the ``oxigraph serve-read-only`` binary: it listens on a TCP port, and any local user
could send it queries there, past the gate (``SERVICE`` included); it has no option for a Unix
socket nor for a secret. This child listens on a socket file in a folder only its owner can
enter (mode 0700), and answers only requests that carry the secret the gate was started with
(header ``X-Ql1706kg-Engine``, compared in constant time; read from a pipe on its standard
input, never from its command line or environment, which other users may read). It is a
child process so the gate can stop a runaway query by killing it, as before.

It answers what the gate passes on (HTTP/1.1, one request a connection, the body delimited by
closing the connection):

- ``POST /query`` with a form (``query``, ``default-graph-uri``, ``named-graph-uri``): the
  query, over the union of the graphs unless graphs are named, in the result format the
  ``Accept`` header asks for (SPARQL JSON by default; CSV, TSV, XML; N-Triples, Turtle… for
  CONSTRUCT and DESCRIBE), its relative IRIs resolved against ``base`` (the endpoint's URL);
- ``GET``/``HEAD /store?graph=IRI`` or ``?default``: a graph (404 if the store has no such
  graph), or ``/store`` alone: the whole dataset.

    python -m ql1706kg.semweb.engine_worker --location STORE --socket PATH
"""

from __future__ import annotations

import argparse
import hmac
import os
import socketserver
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pyoxigraph as ox

SECRET_HEADER = "X-Ql1706kg-Engine"
MAX_BODY = 1 << 21
_NO_GRAPH = "urn:ql1706kg:no-graph"  # stands for "no graph" where a list must not be empty


def _choice(accept: str | None, kinds: dict[str, object], default: object) -> object | None:
    """The first media type of ``Accept`` (by q-value, then order) this engine writes;
    ``default`` for ``*/*`` or no header; None when nothing asked for can be written."""
    if not accept:
        return default
    ranked = []
    for order, part in enumerate(accept.split(",")):
        kind, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((-q, order, kind.lower()))
    for q, _order, kind in sorted(ranked):
        if q == 0:
            continue
        if kind in kinds:
            return kinds[kind]
        if kind in ("*/*", "application/*", "text/*"):
            return default
    return None


_RESULTS = {f.media_type: f for f in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML,
                                      ox.QueryResultsFormat.CSV, ox.QueryResultsFormat.TSV)}
_RESULTS.update({"application/json": ox.QueryResultsFormat.JSON,
                 "application/xml": ox.QueryResultsFormat.XML})
_GRAPHS = {f.media_type: f for f in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.TURTLE,
                                     ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD,
                                     ox.RdfFormat.N3)}
_DATASETS = {f.media_type: f for f in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)}


class EveryMethod:
    """Each HTTP method handed to ``_handle`` (the gate's handler and the engine's)."""

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")


class EngineServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    store: ox.Store
    secret: str


class EngineHandler(EveryMethod, BaseHTTPRequestHandler):
    server: EngineServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        """Quiet: requests carry patient data."""

    def address_string(self) -> str:
        return "gate"

    def _handle(self, method: str) -> None:
        self.close_connection = True
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return self._error(413, "the request is too large")
        self.body = self.rfile.read(length) if length else b""  # read first: answered whole
        given = (self.headers.get(SECRET_HEADER) or "").encode()
        if not hmac.compare_digest(given, self.server.secret.encode()):
            return self._error(403, "only the gate may query this engine")
        parts = urllib.parse.urlsplit(self.path)
        try:
            if parts.path == "/query" and method == "POST":
                self._query()
            elif parts.path == "/store" and method in ("GET", "HEAD"):
                self._store(parts.query, method)
            else:
                self._error(404, f"{method} {parts.path} is not offered")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except SyntaxError as exc:
            self._error(400, f"not a valid SPARQL query: {exc}")
        except (OSError, ValueError, RuntimeError) as exc:
            self._error(500, f"the query failed: {exc}")

    def _query(self) -> None:
        form = urllib.parse.parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        query = (form.get("query") or [""])[0]
        default = [ox.NamedNode(iri) for iri in form.get("default-graph-uri", [])]
        named = [ox.NamedNode(iri) for iri in form.get("named-graph-uri", [])]
        base = (form.get("base") or [None])[0]
        options: dict = {"base_iri": base} if base else {}
        if default or named:  # as the SPARQL 1.1 Protocol says: only the graphs named
            options.update(default_graph=default or ox.NamedNode(_NO_GRAPH),
                           named_graphs=named or [ox.NamedNode(_NO_GRAPH)])
        else:
            options["use_default_graph_as_union"] = True
        results = self.server.store.query(query, **options)
        accept = self.headers.get("Accept")
        if isinstance(results, ox.QueryTriples):
            fmt = _choice(accept, _GRAPHS, ox.RdfFormat.N_TRIPLES)
        else:
            fmt = _choice(accept, _RESULTS, ox.QueryResultsFormat.JSON)
        if fmt is None:
            return self._error(406, "the engine cannot write the results in the types asked")
        self._head(200, fmt.media_type)
        results.serialize(self.wfile, fmt)

    def _store(self, query: str, method: str) -> None:
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        store = self.server.store
        accept = self.headers.get("Accept")
        if "graph" in params or "default" in params:
            if "graph" in params:
                graph = ox.NamedNode(params["graph"][0])
                if not store.contains_named_graph(graph):
                    return self._error(404, "the store has no such graph")
            else:
                graph = ox.DefaultGraph()
            fmt = _choice(accept, _GRAPHS, ox.RdfFormat.N_TRIPLES)
            if fmt is None:
                return self._error(406, "the engine cannot write a graph in the types asked")
            self._head(200, fmt.media_type)
            if method == "GET":
                triples = (quad.triple for quad in store.quads_for_pattern(None, None, None,
                                                                            graph))
                ox.serialize(triples, self.wfile, fmt)
            return None
        fmt = _choice(accept, _DATASETS, ox.RdfFormat.N_QUADS)
        if fmt is None:
            return self._error(406, "the engine cannot write a dataset in the types asked")
        self._head(200, fmt.media_type)
        if method == "GET":
            ox.serialize(iter(store), self.wfile, fmt)
        return None

    def _head(self, status: int, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Connection", "close")
        self.end_headers()

    def _error(self, status: int, message: str) -> None:
        body = (" ".join(message.split())[:300] + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def reachable(path: str) -> str:
    """A name for a socket file that fits the 107 bytes a Unix socket address may hold: the
    path itself, or, when the folder's path is long, the same file through an open descriptor
    of its folder (``/proc/self/fd/N/NAME``, Linux); the descriptor stays open."""
    if fits(path):
        return path
    folder, name = os.path.split(path)
    return through_descriptor(folder) + name


def fits(path: str) -> bool:
    """Whether ``path`` can be a Unix socket address as it is (or must be, off Linux)."""
    return len(os.fsencode(path)) < 100 or not os.path.isdir("/proc/self/fd")


def through_descriptor(folder: str) -> str:
    """``folder`` named through a descriptor of it opened now and kept open, ending in '/'."""
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    return f"/proc/self/fd/{descriptor}/"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--location", required=True)
    parser.add_argument("--socket", required=True)
    options = parser.parse_args(argv)
    secret = sys.stdin.readline().strip()  # a pipe from the gate: never in /proc's views
    if len(secret) < 16:
        raise SystemExit("the engine needs its secret (at least 16 characters) on its "
                         "standard input")
    os.umask(0o077)
    server = EngineServer(reachable(options.socket), EngineHandler)
    server.store = ox.Store.read_only(options.location)
    server.secret = secret
    server.serve_forever()


if __name__ == "__main__":
    main()
