"""The query engine behind the ``serve`` gate: one child process, reachable by the gate only.

The child (:mod:`.engine_worker`: Oxigraph through pyoxigraph, the engine and version of the
``oxigraph`` binary) listens on a Unix socket in a folder only this user can enter (mode 0700),
and answers only requests carrying a secret made for this run (given to it through a pipe,
added by the gate to each request). Before, it was ``oxigraph serve-read-only`` on a loopback
TCP port: any local user could send it a query there, past the gate; the binary offers neither
a Unix socket nor a secret. The child is started, replaced and stopped from the main thread,
which also watches it (a child that dies is started again), so that on Linux the kernel's
parent-death signal, which is tied to the thread that started a child, kills it with the main
thread even if this process is killed outright.

Replacing the child is how a runaway query is stopped. Measured with oxigraph 0.5.13 on the
example verdicts (~10,000 triples): its own ``--timeout-s 1`` stopped a two-way cartesian
COUNT at 1 s, but a three-way one only after ~20 s, kept streaming a three-way ``SELECT *``
(2.7 GB in 60 s) and kept an ``ORDER BY`` over it burning a core after the client had gone.
So the gate enforces the timeout and the engine kills and restarts the child when it fires
(queries in flight at that moment get a 503).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import EnvironmentFailure
from .engine_worker import SECRET_HEADER, fits, through_descriptor
from .tether import tethered

# A child that keeps dying is not restarted for ever.
MAX_RESTARTS_PER_MINUTE = 5
START_SECONDS = 30.0



class EngineUnavailable(EnvironmentFailure):
    """The Oxigraph child is being replaced or has stopped."""


class UnixConnection(http.client.HTTPConnection):
    """An HTTP connection to the engine's Unix socket."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("engine", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Engine:
    """The engine child (:mod:`.engine_worker`) over a store folder, replaceable at any time."""

    def __init__(self, location: Path, timeout: float, log: Path, folder: Path) -> None:
        self.location, self.timeout, self.log = location, timeout, log
        self.folder = folder  # made 0700 here: the socket files live in it
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        self.secret = secrets.token_urlsafe(32)
        self._folder_path: str | None = None  # how this process names the folder (short)
        self._state = threading.Condition()
        self._process: subprocess.Popen | None = None
        self.address = ""
        self.generation = 0
        self._ready = False
        self._replace_wanted = False
        self._stopped = False
        self._restarts: list[float] = []

    def command(self, address: str) -> list[str]:
        return [sys.executable, "-m", "ql1706kg.semweb.engine_worker", "--location",
                str(self.location), "--socket", address]

    def connection(self, address: str, timeout: float | None) -> UnixConnection:
        """A connection to the child at ``address`` (what :meth:`current` gave)."""
        return UnixConnection(self._short(address), timeout)

    def _short(self, address: str) -> str:
        """``address`` as this process can connect to it: the child decides by the length of
        the whole address (:func:`.engine_worker.reachable`), so must this side (deciding by
        the folder's length alone failed for addresses of 100-107 bytes and beyond)."""
        if fits(address):
            return address
        folder, name = os.path.split(address)
        if self._folder_path is None:
            self._folder_path = through_descriptor(folder)
        return self._folder_path + name

    def headers(self) -> dict[str, str]:
        """What every request to the child must carry (the run's secret)."""
        return {SECRET_HEADER: self.secret}

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the child and wait until it listens (main thread)."""
        self._replace()

    def current(self, wait: float) -> tuple[str, int]:
        """The socket address and generation of a listening child, waiting up to ``wait``
        seconds while it is being replaced (any thread)."""
        with self._state:
            if not self._state.wait_for(lambda: self._ready or self._stopped, wait) or (
                    self._stopped):
                raise EngineUnavailable("the query engine is restarting; try again")
            return self.address, self.generation

    def replace(self, generation: int) -> None:
        """Ask for the child of ``generation`` to be killed and replaced (any thread); a no-op
        if it has been replaced already."""
        with self._state:
            if generation == self.generation and self._ready:
                self._ready, self._replace_wanted = False, True
                self._state.notify_all()

    def wait_replaced(self, generation: int, wait: float) -> bool:
        """Wait until the child of ``generation`` has been killed and replaced (any thread)."""
        with self._state:
            return self._state.wait_for(
                lambda: self.generation != generation or self._stopped, wait)

    def supervise(self) -> None:
        """Replace the child when asked or when it dies; return only by an exception
        (KeyboardInterrupt on Ctrl-C, SIGTERM, SIGHUP) (main thread)."""
        while True:
            with self._state:
                self._state.wait_for(lambda: self._replace_wanted, timeout=0.5)
                wanted = self._replace_wanted
            if wanted or (self._process is not None and self._process.poll() is not None):
                if not wanted:
                    self._count_restart()
                self._replace()

    def stop(self) -> None:
        """Stop the child and wait for it (main thread)."""
        with self._state:
            self._stopped, self._ready = True, False
            self._state.notify_all()
        self._kill(grace=2.0)

    def _count_restart(self) -> None:
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60] + [now]
        if len(self._restarts) > MAX_RESTARTS_PER_MINUTE:
            raise EnvironmentFailure(f"the Oxigraph server keeps stopping: {self._last_log()}")

    def _replace(self) -> None:
        with self._state:
            self._ready = False
        self._kill(grace=0)
        for _attempt in range(3):
            address = str(self.folder / f"engine-{self.generation + 1}.sock")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address)
            with self.log.open("ab") as log:
                process = subprocess.Popen(tethered(self.command(address)),
                                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                           stderr=log)
            with contextlib.suppress(OSError):
                process.stdin.write(self.secret.encode() + b"\n")
                process.stdin.close()
            self._process = process
            if self._wait_listening(process, address):
                with self._state:
                    self.address, self.generation = address, self.generation + 1
                    self._ready, self._replace_wanted = True, False
                    self._state.notify_all()
                return
            self._kill(grace=0)
        raise EnvironmentFailure(f"the Oxigraph server did not start: {self._last_log()}")

    def _wait_listening(self, process: subprocess.Popen, address: str) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(1)
                    probe.connect(self._short(address))
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def _kill(self, grace: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if grace:
            process.terminate()
            try:
                process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        process.wait()

    def _last_log(self) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else "no message"
