"""`screen --scheduler` runs on a real Dask distributed cluster on loopback, same results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.synthetic import patients

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local.scheduler_address


def test_cluster_gives_the_same_results_in_the_same_order(tmp_path: Path, cluster):
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(list(patients(70, seed=11))))
    args = ["screen", str(path), "--as-of", "2026-11-20", "--format", "json"]
    local = CliRunner().invoke(main, [*args, "--jobs", "1"])
    remote = CliRunner().invoke(main, [*args, "--scheduler", cluster])
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout)["patients"] == json.loads(local.stdout)["patients"]


def test_an_unreachable_scheduler_is_one_line_and_exit_3(monkeypatch, tmp_path):
    import socket

    from ql1706kg.pipeline import parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--as-of", "2026-11-20",
                                       "--format", "json", "-o", str(out), "--scheduler",
                                       f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 3, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: cannot reach the Dask scheduler at "
                                    f"tcp://127.0.0.1:{port}")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("address", ["foo:bar:baz", "tcp://host", "nonsense://x:1",
                                     "tcp://host:99999"])
def test_a_malformed_scheduler_address_is_a_usage_error(address):
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--scheduler", address])
    assert result.exit_code == 2 and "Invalid value for '--scheduler'" in result.stderr


def _die(_chunk):
    import os

    os._exit(1)  # a worker killed (out of memory, kill -9)


def test_a_worker_that_dies_is_an_environment_failure():
    from ql1706kg.errors import EnvironmentFailure
    from ql1706kg.pipeline.parallel import in_workers

    with pytest.raises(EnvironmentFailure, match="worker process died"):
        list(in_workers(_die, iter([[1], [2], [3]]), 2))


def test_a_scheduler_with_another_protocol_is_a_usage_error(tmp_path):
    """A cluster's workers screen under their installed protocol: verdicts must not claim one
    they were not made under, so the two options are refused together (nothing written)."""
    folder = tmp_path / "protocol"
    exported = CliRunner().invoke(main, ["protocol", "export", str(folder)])
    assert exported.exit_code == 0, exported.output
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--protocol", str(folder),
                                       "--scheduler", "tcp://127.0.0.1:8786", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "cannot be combined with --protocol" in result.stderr
    assert not out.exists()
    CliRunner().invoke(main, ["criteria"])  # back to the bundled protocol for this process


def test_an_unreachable_scheduler_fails_within_2_seconds_naming_it(tmp_path):
    """No port patched down: the TCP probe answers before any input is read."""
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--as-of", "2026-11-20",
                                       "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert time.monotonic() - started < 2.0
    assert result.exit_code == 3
    assert result.stderr == (f"Error: cannot reach the Dask scheduler at "
                             f"tcp://127.0.0.1:{port}: Connection refused\n")


@pytest.mark.parametrize(("address", "parsed"), [
    ("tcp://10.0.0.5:8786", ("tcp", "10.0.0.5", 8786)),
    ("10.0.0.5:8786", ("tcp", "10.0.0.5", 8786)),
    ("tls://[::1]:9000", ("tls", "::1", 9000)),
    ("inproc://10.0.0.5/1234/1", ("inproc", None, None)),
])
def test_scheduler_addresses_are_read_as_dask_reads_them(address, parsed):
    from distributed.comm.addressing import get_address_host_port, parse_address

    from ql1706kg.pipeline.parallel import scheduler_address

    assert scheduler_address(address) == parsed
    if parsed[1] is not None:
        assert parse_address(address)[0] == parsed[0]
        assert get_address_host_port(address) == parsed[1:]


def test_without_the_dask_extra_the_message_says_which_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--scheduler",
                                       "tcp://127.0.0.1:8786"])
    assert result.exit_code == 3
    assert result.stderr == ("Error: screening on a Dask cluster (--scheduler) needs the "
                             "'dask' extra: pip install 'ql1706kg[dask]'\n")
