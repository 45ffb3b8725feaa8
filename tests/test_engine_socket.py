"""The engine's Unix socket: the child binds it and the gate connects to it by names that
agree at every length of the address (a socket address holds at most 107 bytes), and the
children of ``serve`` die with it without running Python between fork and exec."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ql1706kg.semweb.engine import Engine
from ql1706kg.semweb.engine_worker import reachable
from ql1706kg.semweb.tether import tethered


@pytest.mark.parametrize("extra", range(80, 121, 3))
def test_the_gate_reaches_the_socket_the_child_binds_at_every_length(tmp_path, extra):
    folder = tmp_path / ("f" * max(1, extra - len(str(tmp_path)) - 16))
    folder.mkdir()
    address = str(folder / "engine-1.sock")
    engine = Engine(tmp_path / "store", 1.0, tmp_path / "log", tmp_path / "engine")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(reachable(address))
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(engine._short(address))


def test_a_tethered_command_runs_as_itself_and_knows_its_parent(tmp_path):
    out = subprocess.run(tethered([sys.executable, "-c", "import os; print(os.getppid())"]),
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert int(out.stdout) == os.getpid()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")
def test_a_tethered_child_gets_the_parent_death_signal(tmp_path):
    # /proc does not show the parent-death signal; prctl(PR_GET_PDEATHSIG) does
    code = ("import ctypes; v = ctypes.c_int(); "
            "ctypes.CDLL(None).prctl(2, ctypes.byref(v)); print(v.value)")
    got = subprocess.run(tethered([sys.executable, "-c", code]), capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert int(got) == 9  # SIGKILL
