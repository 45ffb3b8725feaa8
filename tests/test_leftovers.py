"""A run killed outright (SIGKILL) leaves debris: the next run removes what it marked as its
own once the owner is gone, and never anything else; an NDJSON checkpoint survives SIGKILL and
``--resume`` completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.synthetic import patients
from ql1706kg.leftovers import MARK, OWNER_FILE, make_owned_folder, start_time, temp_name


def dead_process() -> tuple[int, int]:
    """The id and start time of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    start = start_time(process.pid)
    process.wait()
    return process.pid, start or 0


def test_sigkill_then_resume_completes_the_checkpoint(tmp_path):
    source = tmp_path / "cohort.json"
    source.write_text(json.dumps(list(patients(3000, seed=5))))
    out = tmp_path / "out.ndjson"
    program = [sys.executable, "-c", "from ql1706kg.cli import run; run()"]
    proc = subprocess.Popen([*program, "screen", str(source), "--as-of", "2026-11-20",
                             "--format", "ndjson", "-o", str(out), "--quiet", "--jobs", "1"],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".tmp") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "never wrote a line"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    (debris,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert f".out.ndjson.{MARK}-{proc.pid}-" in debris.name and not out.exists()
    # a temporary file this software did not mark, and one of a live owner (this test),
    # are left alone
    foreign = tmp_path / ".out.ndjson.0123abcd.tmp"
    foreign.write_text("mine\n")
    alive = tmp_path / temp_name("out.ndjson")
    alive.write_text("still being written\n")
    result = CliRunner().invoke(main, ["screen", str(source), "--as-of", "2026-11-20",
                                       "--format", "ndjson", "-o", str(out), "--resume",
                                       "--quiet", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == 3000 and len(set(ids)) == 3000
    assert not debris.exists() and foreign.exists() and alive.exists()


def test_a_killed_runs_output_temporaries_are_removed_by_the_next_run(tmp_path):
    pid, start = dead_process()
    out = tmp_path / "out.json"
    left = tmp_path / f".out.json.{MARK}-{pid}-{start}-0011aabb.tmp"
    left.write_text("{half")
    other = tmp_path / f".other.json.{MARK}-{pid}-{start}-0011aabb.tmp"  # another target's
    other.write_text("{half")
    source = Path(__file__).resolve().parents[1] / "examples" / "patients" / \
        "ineligible-age-77.json"
    result = CliRunner().invoke(main, ["screen", str(source), "--as-of", "2026-11-20",
                                       "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not left.exists() and other.exists() and out.exists()


def test_owned_folders_of_a_dead_run_are_swept_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    pid, start = dead_process()

    def folder(name: str, owner: dict | None) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "index.sqlite").write_text("data")
        if owner is not None:
            (path / OWNER_FILE).write_text(json.dumps(owner))
        return path

    dead = folder("ql1706kg-fhir-dead0001", {"pid": pid, "start": start})
    live = folder("ql1706kg-fhir-live0001", {"pid": os.getpid(), "start": start_time(
        os.getpid()) or 0})
    unmarked = folder("ql1706kg-fhir-nomark01", None)
    other_kind = folder("ql1706kg-serve-dead0001", {"pid": pid, "start": start})
    garbage = folder("ql1706kg-fhir-garbage1", None)
    (garbage / OWNER_FILE).write_text("not json")
    made = make_owned_folder("fhir")
    try:
        assert not dead.exists()
        assert live.exists() and unmarked.exists() and other_kind.exists() and garbage.exists()
        assert made.parent == tmp_path and (made / OWNER_FILE).is_file()
    finally:
        import shutil

        shutil.rmtree(made)
