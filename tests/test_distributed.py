"""`screen --scheduler` runs on a real Dask distributed cluster on loopback, same results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.synthetic import patients

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
