"""Push verdicts to any SPARQL store, with credentials that never appear on a command line.

Each assessment graph goes in one HTTP PUT of the SPARQL 1.1 Graph Store Protocol
(``?graph=IRI``), which every conforming store accepts, so results live where the hospital's
knowledge graph lives; a PUT replaces that graph, so re-screening a patient is idempotent.
Graphs are put as patients are screened (each encoded as Turtle by the worker that screened
it), so a cohort of any size is pushed in the memory of a few patients. The ontology and the
shapes go first, each in its named graph (:func:`protocol_graphs`), so the named queries, which
read them with ``GRAPH`` patterns, answer in the store as they do locally. With a key
(``--pseudonymise``) every assessment graph is pseudonymised where it is encoded
(:mod:`ql1706kg.outputs.pseudonym`); :func:`cohort_graphs` also gives N-Quads, for ``export
--what verdicts``.

Credentials come from a file (``--credentials-file``: its first line, a bearer token, or
``user:password``) or else from the environment: ``QL1706KG_PUSH_TOKEN`` (a bearer token), or
``QL1706KG_PUSH_USER`` and ``QL1706KG_PUSH_PASSWORD`` (HTTP Basic). Never from the command
line: an endpoint URL with ``user:password@`` is refused (without echoing it). They are never
printed: a message shows the endpoint without its query string, and any text from the store
is shown with the secrets masked.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import ipaddress
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rdflib import Graph

from ..errors import InputError
from ..pipeline.results import ScreeningError
from .dataset import ONTOLOGY_GRAPH, SHAPES_GRAPH, assessment_graphs, input_error
from .rdf_input import is_rdf, read_rdf
from .serve import ServeError, SettingError

ENV_TOKEN = "QL1706KG_PUSH_TOKEN"
ENV_USER = "QL1706KG_PUSH_USER"
ENV_PASSWORD = "QL1706KG_PUSH_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """An ``Authorization`` header and the secrets to mask in any message."""

    kind: str
    header: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text


def bearer(token: str) -> Credentials:
    return Credentials("bearer token", f"Bearer {token}", (token, f"Bearer {token}"))


def basic(user: str, password: str) -> Credentials:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return Credentials("user and password", f"Basic {encoded}", (password, encoded))


def credentials_from(environ: Mapping[str, str] = os.environ, file: Path | None = None
                     ) -> Credentials | None:
    """The push credentials: the file's if given, else the environment's, else none."""
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingError(f"cannot read the credentials file {file}: "
                               f"{getattr(exc, 'strerror', None) or type(exc).__name__}"
                               ) from None
        line = lines[0].strip() if lines else ""
        if not line:
            raise SettingError(f"the credentials file {file} is empty")
        user, colon, password = line.partition(":")
        return basic(user, password) if colon else bearer(line)
    token = environ.get(ENV_TOKEN, "")
    user, password = environ.get(ENV_USER, ""), environ.get(ENV_PASSWORD, "")
    if token and (user or password):
        raise SettingError(f"set either {ENV_TOKEN} or {ENV_USER} and {ENV_PASSWORD}, not both")
    if token:
        return bearer(token)
    if user or password:
        if not (user and password):
            raise SettingError(f"{ENV_USER} and {ENV_PASSWORD} go together")
        return basic(user, password)
    return None


def shown(endpoint: str) -> str:
    """The endpoint as messages show it: no user information, no query string."""
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_endpoint(endpoint: str) -> None:
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingError("the endpoint is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError("the endpoint must be an http(s) Graph Store URL, e.g. "
                           "http://host:7878/store")
    if parts.username is not None or parts.password is not None:
        raise SettingError(f"the endpoint URL must not carry a user name or password: put "
                           f"them in {ENV_USER} and {ENV_PASSWORD} or in --credentials-file")


def plain_http_beyond_loopback(endpoint: str) -> bool:
    """Whether credentials would cross the network unencrypted."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return False
    try:
        return not ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return True


PROTOCOL_GRAPHS = (ONTOLOGY_GRAPH, SHAPES_GRAPH)
FORMATS = ("turtle", "nquads")


def protocol_graphs(fmt: str = "turtle") -> Iterator[tuple[str, bytes]]:
    """The ontology and the shapes, each as the body of its named graph
    (:data:`~.dataset.ONTOLOGY_GRAPH`, :data:`~.dataset.SHAPES_GRAPH`): N-Triples (a subset of
    Turtle, so a ``text/turtle`` PUT body) or N-Quads in that graph. The named queries read
    the criteria and limits there (``GRAPH <…>``), so they answer in any store."""
    from ..outputs.rdf_stream import nquads_block
    from .publish.export import publication_graph

    for name, what in zip(PROTOCOL_GRAPHS, ("ontology", "shapes"), strict=True):
        graph = publication_graph(what)
        if fmt == "nquads":
            yield name, nquads_block(graph, name)
        else:
            yield name, graph.serialize(format="nt", encoding="utf-8")


def push(verdicts: Graph, endpoint: str, credentials: Credentials | None = None,
         timeout: float = 30, key: bytes | None = None) -> list[str]:
    """PUT the ontology, the shapes and each assessment graph (pseudonymised with ``key`` if
    given) to a Graph Store Protocol endpoint; return the graph IRIs."""
    return put_graphs((*protocol_graphs(), *_split(verdicts, key, "turtle")),
                      endpoint, credentials, timeout)


def _split(verdicts: Graph, key: bytes | None, fmt: str) -> Iterator[tuple[str, bytes]]:
    """Each assessment graph of a verdict graph, encoded (pseudonymised with ``key``)."""
    from ..outputs.pseudonym import Pseudonymiser
    from ..outputs.rdf_stream import nquads_block, turtle_block, turtle_head

    pseudonymiser = Pseudonymiser(key) if key is not None else None
    for name, graph in assessment_graphs(verdicts).items():
        name = str(name)
        if pseudonymiser is None and fmt == "turtle":
            yield name, graph.serialize(format="turtle").encode("utf-8")
            continue
        triples = graph
        if pseudonymiser is not None:
            triples = pseudonymiser.triples(graph)
            name = pseudonymiser.iri(name) or name
        yield name, (nquads_block(triples, name) if fmt == "nquads" else
                     turtle_head() + turtle_block(triples))


def _encoder(fmt: str, key: bytes | None):
    """The worker's encoding of one assessment graph (see :mod:`~ql1706kg.outputs`)."""
    from ..outputs import pseudonym, rdf_stream

    if key is None:
        return rdf_stream.patient_nquads if fmt == "nquads" else rdf_stream.assessment_turtle
    function = (pseudonym.pseudonymous_nquads if fmt == "nquads" else
                pseudonym.pseudonymous_turtle)
    return functools.partial(function, key=key)


def cohort_graphs(inputs: Iterable[str | Path], as_of: date | str | None, window_days: int,
                  jobs: int = 0, on_error: Callable[[ScreeningError], None] | None = None,
                  key: bytes | None = None, fmt: str = "turtle"
                  ) -> Iterator[tuple[str, bytes]]:
    """Each assessment graph of the inputs as a Turtle document (or N-Quads lines in the
    graph, ``fmt="nquads"``), as it is ready: verdict files (read and split), then patient
    inputs, screened in ``jobs`` processes (0: one per core) that encode each patient's graph
    themselves, so no graph of the cohort is built. With ``key``, pseudonymised
    (:mod:`~ql1706kg.outputs.pseudonym`) where it is encoded, graph names included."""
    from ..api import assessment_for, iter_screen, protocol_version
    from ..outputs.pseudonym import Pseudonymiser
    from ..outputs.rdf_stream import assessment_iri, rdf_run

    report = on_error or (lambda _error: None)
    patients = []
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_rdf(path):
            try:
                verdicts = read_rdf(path)
            except InputError as exc:
                report(input_error(exc))
                continue
            yield from _split(verdicts, key, fmt)
        else:
            patients.append(path)
    if not patients:
        return
    assessment = assessment_for(as_of, window_days)
    shared = rdf_run(assessment.as_of.isoformat(), protocol_version())
    rename = Pseudonymiser(key).iri if key is not None else (lambda name: name)
    for result in iter_screen(patients, assessment, jobs=jobs or os.cpu_count() or 1,
                              keep_graphs=False,
                              encode=functools.partial(_encoder(fmt, key), run=shared)):
        if isinstance(result, ScreeningError):
            report(result)
        else:
            yield rename(assessment_iri(result.id, shared.as_of)), result.data


ERROR_BODY_BYTES = 4096  # what a refusal's body may add to the message (read no more)
DEFAULT_DEADLINE = 3600.0


class _Deadline:
    """The time left of the whole push; each request gets the per-request timeout or what is
    left, whichever is less, and a request that runs past it is stopped between reads."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self, timeout: float) -> float:
        if self.end is None:
            return timeout
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return min(timeout, left)


def put_graphs(graphs: Iterable[tuple[str, bytes]], endpoint: str,
               credentials: Credentials | None = None, timeout: float = 30,
               deadline: float | None = DEFAULT_DEADLINE) -> list[str]:
    """PUT each (graph IRI, Turtle) to a Graph Store Protocol endpoint, as they come; return
    the graph IRIs. Each request must end within ``timeout`` seconds (connecting, sending and
    reading the whole answer, however slowly the store sends it), and the whole push within
    ``deadline`` seconds (None: no limit); a store's answer is read up to a small bound.
    Redirects are not followed (credentials go to the endpoint named, nowhere else)."""
    check_endpoint(endpoint)
    mask = credentials.mask if credentials else (lambda text: text)
    where = shown(endpoint)
    headers = {"Content-Type": "text/turtle"}
    if credentials:
        headers["Authorization"] = credentials.header
    pushed: list[str] = []
    clock = _Deadline(deadline)
    try:
        for name, body in graphs:
            _put(endpoint, name, body, headers, clock.left(timeout), where, mask)
            pushed.append(name)
    except TimeoutError:
        limit = (f"the push's {clock.seconds:g} s deadline (--deadline)"
                 if clock.end is not None and time.monotonic() >= clock.end - 0.01
                 else f"the {timeout:g} s a request may take")
        raise ServeError(f"{where} did not answer within {limit}; {len(pushed)} graph(s) "
                         "were stored before it was stopped") from None
    return pushed


def _put(endpoint: str, name: str, body: bytes, headers: dict[str, str], seconds: float,
         where: str, mask: Callable[[str], str]) -> None:
    """One PUT, all of it (connection, request, answer) within ``seconds``: a watchdog shuts
    the socket at the end, so a store that answers one byte a second is stopped too."""
    parts = urllib.parse.urlsplit(endpoint)
    path = (parts.path or "/") + "?" + "&".join(
        [p for p in (parts.query, f"graph={urllib.parse.quote(name, safe='')}") if p])
    kind = http.client.HTTPSConnection if parts.scheme == "https" else \
        http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=seconds)
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        with contextlib.suppress(OSError, AttributeError):
            connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(seconds, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("PUT", path, body=body, headers=headers)
        response = connection.getresponse()
        said = response.read(ERROR_BODY_BYTES)  # never more: the rest is not read
        if not 200 <= response.status < 300:
            # the secrets are masked in the whole text before any of it is cut short
            text = mask(f"{where} refused graph {name}: HTTP {response.status} "
                        + " ".join(said.decode(errors="replace").split()))
            raise ServeError(_cut(text, 500))
    except (OSError, http.client.HTTPException) as exc:
        if fired.is_set() or isinstance(exc, TimeoutError):
            raise TimeoutError from None
        reason = getattr(exc, "strerror", None) or exc
        raise ServeError(_cut(mask(f"cannot reach {where}: {reason}"), 500)) from None
    finally:
        watchdog.cancel()
        connection.close()


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"
