"""Children that die with this process, started without running Python between fork and exec.

A child of ``serve`` (the query engine, an ``oxigraph load``) must not outlive it, even when it
is killed with SIGKILL and cannot clean up. Linux's ``PR_SET_PDEATHSIG`` does that, but setting
it through ``subprocess``'s ``preexec_fn`` runs Python in the forked child, which the Python
documentation calls unsafe once the parent has threads (ours has: the gate, the engine's
supervisor): the child can deadlock before ``exec``, and the engine then never listens. So the
command is wrapped instead: a tiny isolated interpreter sets the signal, checks that its parent
is still the process that started it (closing the race where the parent died first), and
replaces itself with the real command; the setting survives ``exec``.
"""

from __future__ import annotations

import os
import sys

# Runs as ``python -I -S -c TETHER PARENT_PID COMMAND...``: no site, no package import, so it
# costs a few milliseconds.
TETHER = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
if os.getppid() != parent:
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


def tethered(command: list[str]) -> list[str]:
    """``command`` (its first element a path) wrapped so that it dies with this process
    (Linux); elsewhere, the command unchanged."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-I", "-S", "-c", TETHER, str(os.getpid()), *command]
