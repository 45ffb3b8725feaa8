"""The Oxigraph server behind the ``serve`` gate: one child process, on a private port.

The child listens on a free port of 127.0.0.1 only; nothing but the gate talks to it. It is
started, replaced and stopped from the main thread, which also watches it (a child that dies is
started again), so that on Linux the kernel's parent-death signal, which is tied to the thread
that started a child, kills it with the main thread even if this process is killed outright.

Replacing the child is how a runaway query is stopped. Measured with oxigraph 0.5.13 on the
example verdicts (~10,000 triples): its own ``--timeout-s 1`` stopped a two-way cartesian
COUNT at 1 s, but a three-way one only after ~20 s, kept streaming a three-way ``SELECT *``
(2.7 GB in 60 s) and kept an ``ORDER BY`` over it burning a core after the client had gone.
So the gate enforces the timeout and the engine kills and restarts the child when it fires
(~0.1 s; queries in flight at that moment get a 503). ``--timeout-s`` is still passed, a few
seconds longer than the gate's, so Oxigraph's own HTTP timeout (60 s by default) never cuts a
query the gate still allows.
"""

from __future__ import annotations

import ctypes
import math
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import EnvironmentFailure

# A child that keeps dying is not restarted for ever.
MAX_RESTARTS_PER_MINUTE = 5
START_SECONDS = 30.0

_PR_SET_PDEATHSIG = 1
try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _PRCTL = None


class EngineUnavailable(EnvironmentFailure):
    """The Oxigraph child is being replaced or has stopped."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Engine:
    """An ``oxigraph serve-read-only`` child over a store folder, replaceable at any time."""

    def __init__(self, binary: str, location: Path, timeout: float, log: Path) -> None:
        self.binary, self.location, self.timeout, self.log = binary, location, timeout, log
        self._state = threading.Condition()
        self._process: subprocess.Popen | None = None
        self.port = 0
        self.generation = 0
        self._ready = False
        self._replace_wanted = False
        self._stopped = False
        self._restarts: list[float] = []

    def command(self, port: int) -> list[str]:
        return [self.binary, "serve-read-only", "--location", str(self.location), "--bind",
                f"127.0.0.1:{port}", "--union-default-graph", "--timeout-s",
                str(math.ceil(self.timeout) + 5)]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the child and wait until it listens (main thread)."""
        self._replace()

    def current(self, wait: float) -> tuple[int, int]:
        """The port and generation of a listening child, waiting up to ``wait`` seconds while
        it is being replaced (any thread)."""
        with self._state:
            if not self._state.wait_for(lambda: self._ready or self._stopped, wait) or (
                    self._stopped):
                raise EngineUnavailable("the query engine is restarting; try again")
            return self.port, self.generation

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
            port = free_loopback_port()
            with self.log.open("ab") as log:
                process = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=log,
                                           preexec_fn=_die_with_parent)
            self._process = process
            if self._wait_listening(process, port):
                with self._state:
                    self.port, self.generation = port, self.generation + 1
                    self._ready, self._replace_wanted = True, False
                    self._state.notify_all()
                return
            self._kill(grace=0)
        raise EnvironmentFailure(f"the Oxigraph server did not start: {self._last_log()}")

    def _wait_listening(self, process: subprocess.Popen, port: int) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
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
