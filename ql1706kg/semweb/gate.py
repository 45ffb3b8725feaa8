"""The gate of ``serve``: the only listener on ``--host``, in front of the engine child.

Oxigraph evaluates ``SERVICE`` by calling the named host, and has no option to turn that
off; its own timeout does not stop every runaway query (see :mod:`.engine`). So the port users
reach is this small threaded HTTP server (standard library), which:

- answers only requests whose ``Host`` header is a loopback name or address or the name it
  was given (421 otherwise: DNS rebinding), beyond loopback with a token any name;
- checks a bearer token on every request when one is set (401 without it; the comparison is
  constant-time), before anything else;
- reads every query (``GET``/``POST /query`` and ``/sparql``, form or
  ``application/sparql-query`` bodies) in its canonical form and parses that with rdflib's
  SPARQL parser (:func:`~.safety.checked_query`): ``SERVICE`` in any form and updates are
  refused with 403 and one line, a text that does not read or parse with 400; an accepted
  query is sent on as exactly the canonical text that was checked, with only the protocol's
  dataset parameters (``default-graph-uri``, ``named-graph-uri``), which the engine resolves
  in its own store, never over the network;
- passes on, read-only, the Graph Store read (``GET``/``HEAD /store``, ``?graph=IRI``,
  ``?default``); answers the service description (``GET /query`` without a query) and the
  VoID description (``/.well-known/void``) itself (:mod:`.describe`), in the RDF syntax the
  Accept header negotiates (:mod:`.negotiation`; a browser asking for HTML is sent to the
  query page), and a small query page at ``/``;
- refuses every write (``/update``, ``PUT``/``POST``/``DELETE /store``) with 403;
- stops waiting for an answer at the timeout: 504 and one line if nothing has been sent yet
  (answers are held up to :data:`HOLD_BYTES` so that a slow query still gets a proper status),
  or, for a larger answer already streaming, the connection is cut before the end of its
  chunked body, so the client sees an incomplete answer, never a short one taken for whole.
  Either way the engine's child is replaced, so the query stops using CPU.

The engine is reached on its Unix socket with the run's secret (:mod:`.engine`); nothing else
can reach it.
"""

from __future__ import annotations

import hmac
import http.client
import ipaddress
import socket
import socketserver
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .describe import (
    VOID_PATHS,
    Statistics,
    endpoint_url,
    engine_asker,
    service_description,
    void_description,
)
from .engine import Engine, EngineUnavailable
from .engine_worker import EveryMethod
from .negotiation import OFFERED, serialise, wants_page
from .safety import QueryError, QueryRefused, checked_query

MAX_BODY_BYTES = 1 << 20
HOLD_BYTES = 16 << 20
PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ql1706kg "
        b"SPARQL endpoint</title></head><body><h1>ql1706kg SPARQL endpoint (read-only)</h1>"
        b"<form action=\"/query\" method=\"get\"><textarea name=\"query\" rows=\"12\" "
        b"cols=\"80\">SELECT * WHERE { ?s ?p ?o } LIMIT 10</textarea><br><button>Run"
        b"</button></form><p>SPARQL 1.1 Protocol at /query; graphs at /store?graph=IRI."
        b"</p></body></html>\n")
QUERY_PATHS = ("/query", "/sparql")
DATASET_PARAMETERS = ("default-graph-uri", "named-graph-uri", "union-default-graph")


class Refusal(Exception):
    """An answer of the gate's own: a status and one line."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class _Cut(Exception):
    """The answer was streaming when the timeout came: the connection is dropped."""


class Gate(ThreadingHTTPServer):
    """The listening socket (bound at construction, so a busy port is known before anything
    else is done) and what the handler needs."""

    daemon_threads = True
    engine: Engine | None = None
    token: str | None = None
    timeout_s: float = 30.0

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn): never at run time here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def attach(self, engine: Engine, token: str | None, timeout: float,
               names: tuple[str, ...] = ()) -> None:
        self.engine, self.token, self.timeout_s = engine, token, timeout
        self.statistics = Statistics()
        self.names = {name.lower().strip("[]") for name in names if name}

    def host_allowed(self, host: str | None) -> bool:
        """The Host header names this endpoint: a loopback name or address, or a name it was
        given (``--host``). Against DNS rebinding: a page of another site whose name now
        points at 127.0.0.1 sends its own name. Beyond loopback with a token, any name (the
        token is what a page cannot have). No header (HTTP/1.0) is let through."""
        if host is None:
            return True
        name = _host_name(host)
        if name is None:
            return False
        if name in getattr(self, "names", set()) or name == "localhost" or \
                name.endswith(".localhost"):
            return True
        try:
            if ipaddress.ip_address(name).is_loopback:
                return True
        except ValueError:
            pass
        return self.token is not None


def _host_name(host: str) -> str | None:
    """The name of a Host header (``name``, ``name:port``, ``[v6]:port``), lower case; None
    when it is not one."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest[1:].isdigit()) or (rest and rest[0] != ":"):
            return None
        return name
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    return name if name and all(c.isalnum() or c in "-._" for c in name) else None


class Gate6(Gate):
    address_family = socket.AF_INET6


class GateHandler(EveryMethod, BaseHTTPRequestHandler):
    server: Gate
    server_version = "ql1706kg-gate"
    protocol_version = "HTTP/1.1"
    timeout = 30  # reading a request

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:
        """Quiet: no access log on the terminal (requests carry patient data)."""

    def _handle(self, method: str) -> None:
        self.close_connection = True
        try:
            if not self.server.host_allowed(self.headers.get("Host")):
                raise Refusal(421, "this endpoint answers only to its own name (the Host "
                                   "header names another: a page that rebinds a name to this "
                                   "machine is refused)")
            if not self._authorised():
                raise Refusal(401, "a bearer token is required (Authorization: Bearer TOKEN)",
                              {"WWW-Authenticate": 'Bearer realm="ql1706kg"'})
            self._route(method)
        except Refusal as refusal:
            self._reply(refusal.status, refusal.message, refusal.headers, method)
        except _Cut:
            pass
        except (ConnectionError, TimeoutError):
            pass  # the client went away
        except Exception as exc:  # a bug: one line, and the gate keeps serving
            self._reply(500, f"internal error in the gate: {type(exc).__name__}", {}, method)

    def _authorised(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        scheme, _, given = (self.headers.get("Authorization") or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8"), token.encode("utf-8"))

    def _route(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/":
            self._allow(method, ("GET", "HEAD"))
            _send(self, PAGE, "text/html; charset=utf-8", method)
        elif parts.path in QUERY_PATHS:
            self._allow(method, ("GET", "POST"))
            self._query(method, parts.query)
        elif parts.path.startswith("/store"):
            if method not in ("GET", "HEAD"):
                raise Refusal(403, "the endpoint is read-only: the Graph Store can be read "
                                   "(GET, HEAD), never written")
            self._forward(method, self.path, None, {})
        elif parts.path in VOID_PATHS:
            self._allow(method, ("GET", "HEAD"))
            self._describe(method, void_description)
        elif parts.path == "/update":
            raise Refusal(403, "the endpoint is read-only: updates are refused")
        else:
            raise Refusal(404, f"{method} {parts.path} is not offered here (queries go to "
                               "/query, graphs are read at /store)")

    @staticmethod
    def _allow(method: str, allowed: tuple[str, ...]) -> None:
        if method not in allowed:
            raise Refusal(405, f"{method} is not allowed here", {"Allow": ", ".join(allowed)})

    def _query(self, method: str, url_query: str) -> None:
        params = urllib.parse.parse_qsl(url_query, keep_blank_values=True)
        if method == "POST":
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            body = self._body()
            if kind == "application/x-www-form-urlencoded":
                params += urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True)
            elif kind == "application/sparql-query":
                try:
                    params.append(("query", body.decode("utf-8")))
                except UnicodeDecodeError:
                    raise Refusal(400, "the query is not UTF-8 text") from None
            else:
                raise Refusal(415, "send the query as application/sparql-query or as a form "
                                   "(application/x-www-form-urlencoded)")
        queries = [value for key, value in params if key == "query"]
        if not queries:
            if method == "GET" and not params:  # the service description
                if wants_page(self.headers.get("Accept")):  # a browser: the query page
                    raise Refusal(303, "the query page is at /", {"Location": "/"})
                else:
                    self._describe(method, service_description)
                return
            raise Refusal(400, "no query: give the 'query' parameter")
        if len(queries) > 1:
            raise Refusal(400, "more than one 'query' parameter")
        try:
            _tree, checked = checked_query(queries[0])
        except QueryRefused as exc:
            raise Refusal(403, str(exc)) from None
        except QueryError as exc:
            raise Refusal(400, str(exc)) from None
        # the engine is given the text that was checked (its canonical form), nothing else;
        # relative IRIs resolve against the endpoint's URL, as Oxigraph's server does
        sent = [("query", checked), ("base", f"http://{self._host()}/query")] + [
            (k, v) for k, v in params if k in DATASET_PARAMETERS]
        self._forward("POST", "/query", urllib.parse.urlencode(sent).encode("utf-8"),
                      {"Content-Type": "application/x-www-form-urlencoded"})

    def _host(self) -> str:
        host = self.headers.get("Host")
        if host and _host_name(host) is not None:
            return host.strip()
        return f"{self.server.server_name}:{self.server.server_port}"

    def _describe(self, method: str, make) -> None:
        """The service or VoID description (:mod:`.describe`), counted once in the store."""
        server = self.server
        try:
            engine = server.engine
            address, _generation = engine.current(wait=min(10.0, server.timeout_s))
            found = server.statistics.get(engine_asker(
                lambda: engine.connection(address, server.timeout_s), engine.headers()))
        except (EngineUnavailable, OSError, ValueError, KeyError, http.client.HTTPException):
            raise Refusal(503, "the description cannot be made now; try again") from None
        where = endpoint_url(self.headers.get("Host"), f"{server.server_name}:"
                                                        f"{server.server_port}")
        answer = serialise(make(where, found), self.headers.get("Accept"))
        if answer is None:
            raise Refusal(406, f"the description is offered as {OFFERED}")
        _send(self, answer[0], answer[1], method)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise Refusal(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise Refusal(400, "the Content-Length is not a number") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise Refusal(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _forward(self, method: str, path: str, body: bytes | None,
                 headers: dict[str, str]) -> None:
        deadline = time.monotonic() + self.server.timeout_s
        engine = self.server.engine
        try:
            address, generation = engine.current(wait=min(10.0, self.server.timeout_s))
        except EngineUnavailable as exc:
            raise Refusal(503, str(exc)) from None
        sent = {"Accept": self.headers.get("Accept") or "*/*", **headers, **engine.headers()}
        connection = engine.connection(address, timeout=None)
        try:
            connection.timeout = _left(deadline)
            connection.request(method, path, body=body, headers=sent)
            upstream = connection.sock
            response = connection.getresponse()
            _relay(self, method, response, upstream, deadline)
        except TimeoutError:
            engine.replace(generation)
            engine.wait_replaced(generation, 5.0)  # answered once the query has stopped
            raise Refusal(504, f"the query was stopped at the endpoint's "
                               f"{self.server.timeout_s:g} s timeout") from None
        except _Cut:
            engine.replace(generation)
            raise
        except (OSError, http.client.HTTPException):
            raise Refusal(503, "the query engine was restarting; try again") from None
        finally:
            connection.close()

    def _reply(self, status: int, message: str, headers: dict[str, str], method: str) -> None:
        body = (message + "\n").encode("utf-8")
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass


def _send(handler: GateHandler, body: bytes, kind: str, method: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    if method != "HEAD":
        handler.wfile.write(body)


def _relay(handler: GateHandler, method: str, response: http.client.HTTPResponse,
           upstream: socket.socket, deadline: float) -> None:
    """Hold the answer up to HOLD_BYTES, then stream it chunked; cut at the deadline."""
    held: list[bytes] = []
    size = 0
    while True:
        try:
            upstream.settimeout(_left(deadline))
            chunk = response.read1(1 << 16) if method != "HEAD" else b""
        except TimeoutError:
            if size < 0:
                raise _Cut from None
            raise
        if not chunk:
            break
        if size < 0:  # streaming
            _chunk(handler, chunk, deadline)
            continue
        held.append(chunk)
        size += len(chunk)
        if size > HOLD_BYTES:
            _head(handler, response, None)
            for part in held:
                _chunk(handler, part, deadline)
            held, size = [], -1
    if size < 0:
        handler.wfile.write(b"0\r\n\r\n")
        return
    data = b"".join(held)
    _head(handler, response, len(data))
    if method != "HEAD":
        handler.wfile.write(data)


def _head(handler: GateHandler, response: http.client.HTTPResponse, length: int | None) -> None:
    handler.send_response(response.status, response.reason)
    for name in ("Content-Type", "Content-Disposition", "Vary"):
        if response.getheader(name):
            handler.send_header(name, response.getheader(name))
    if length is None:
        handler.send_header("Transfer-Encoding", "chunked")
    else:
        handler.send_header("Content-Length", str(length))
    handler.send_header("Connection", "close")
    handler.end_headers()


def _chunk(handler: GateHandler, data: bytes, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise _Cut
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
