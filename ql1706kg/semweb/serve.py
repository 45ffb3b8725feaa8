"""Serve verdicts over the SPARQL 1.1 Protocol: a store, its engine and the gate in front.

``serve`` loads the ontology, the shapes and one named graph per patient assessment into an
Oxigraph store (:mod:`.dataset`: the verdicts are streamed from the screening into Oxigraph's
bulk loader, never held as one graph here), runs Oxigraph's engine on it read-only in a child
process reachable only by the gate (:mod:`.engine`: a Unix socket and a secret), and puts the
gate (:mod:`.gate`) on the address users reach. The gate adds what the engine lacks here: no
outbound request of any kind, the same reading of a query for the check and the engine, a
timeout that stops the query, a Host check, and a bearer token when the endpoint is
reachable beyond this machine.

The endpoint holds patient data. Bound to a loopback address it may stay open (only this
machine's users reach it); bound to any other address it never runs without a token: the one
in ``--token-file``, or a new one printed once. The port is bound before anything else is
done, so a port in use is reported at once. The run's temporary folder is marked with its
owner (:mod:`ql1706kg.leftovers`): a ``serve`` killed outright leaves it, and the next removes
it.
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import EnvironmentFailure, Ql1706kgError
from ..leftovers import owned_folder
from .dataset import (
    ONTOLOGY_GRAPH,
    OPTIMIZE_FROM,
    SHAPES_GRAPH,
    assessment_graphs,
    load_protocol,
)
from .engine import Engine
from .gate import Gate, Gate6, GateHandler
from .store import Store, oxigraph_binary

__all__ = ["ONTOLOGY_GRAPH", "SHAPES_GRAPH", "ServeError", "SettingError", "assessment_graphs",
           "build_store", "is_loopback", "new_token", "open_gate", "oxigraph_binary",
           "read_token", "run_endpoint"]
MIN_TOKEN_LENGTH = 16


class ServeError(EnvironmentFailure):
    """The server or the remote store could not be reached, or refused the data (exit 3)."""


class SettingError(Ql1706kgError):
    """A setting that cannot work: an unknown host, an unusable token file (a usage error)."""


def build_store(location: Path, fill: Callable[[Store], object], scratch: Path) -> Store:
    """An Oxigraph store at ``location`` holding the ontology and the shapes, and whatever
    ``fill`` loads (:func:`~.dataset.load_inputs`: the verdicts, streamed to the bulk loader);
    its scratch files in ``scratch`` (a folder of this run's own, never one beside a store
    the user named)."""
    store = Store(location, scratch)
    load_protocol(store)
    fill(store)
    if store.patients >= OPTIMIZE_FROM:
        store.optimize()
    return store


def open_gate(host: str, port: int) -> Gate:
    """Bind the gate's listening socket now (before screening or any banner)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise SettingError(f"'{host}' is not a host name or address of this machine") from None
    family, *_rest, address = infos[0]
    server_class = Gate6 if family == socket.AF_INET6 else Gate
    try:
        gate = server_class(address[:2], GateHandler)
        gate.configured_name = host
        return gate
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"cannot listen on {host}:{port}: the port is already in use"
                             ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"cannot listen on {host}:{port}: permission denied (ports "
                             "below 1024 need privileges)") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def is_loopback(gate: Gate) -> bool:
    """Whether the gate listens on a loopback address only."""
    try:
        return ipaddress.ip_address(str(gate.server_address[0]).split("%")[0]).is_loopback
    except ValueError:
        return False


def read_token(path: Path) -> str:
    """The bearer token kept in a file (its first line); at least 16 visible characters."""
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(f"cannot read the token file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    token = lines[0].strip() if lines else ""
    if len(token) < MIN_TOKEN_LENGTH or not all(33 <= ord(c) < 127 for c in token):
        raise SettingError(f"the token in {path} must be at least {MIN_TOKEN_LENGTH} visible "
                           "ASCII characters, without spaces")
    return token


def new_token() -> str:
    return secrets.token_urlsafe(32)


def run_endpoint(gate: Gate, fill: Callable[[Store], object], timeout: float,
                 token: str | None, announce: Callable[[], None],
                 store: Path | None = None) -> None:
    """Load the store (``fill``), start the engine behind the gate and serve until
    interrupted (KeyboardInterrupt, which SIGTERM and SIGHUP raise): then the engine is
    stopped and waited for, and the temporary store removed, whatever happened."""
    with owned_folder("ql1706kg-serve-") as tmp:
        location = store or tmp / "store"
        build_store(location, fill, tmp / "scratch")
        shutil.rmtree(tmp / "scratch", ignore_errors=True)
        engine = Engine(location, timeout, tmp / "engine.log", tmp / "engine")
        serving = None
        try:
            engine.start()
            gate.attach(engine, token, timeout, (getattr(gate, "configured_name", ""),))
            serving = threading.Thread(target=gate.serve_forever, name="ql1706kg-gate",
                                       daemon=True)
            serving.start()
            announce()
            engine.supervise()
        finally:
            if serving is not None:
                gate.shutdown()
            engine.stop()
