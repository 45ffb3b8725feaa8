"""Large batches: NDJSON streamed as patients are screened, --resume, quiet when piped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.synthetic import patients

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"


def cohort(tmp_path: Path, n: int = 60) -> Path:
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(list(patients(n, seed=3))))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ndjson_has_one_line_per_patient_in_input_order(tmp_path):
    out = tmp_path / "out.ndjson"
    result = CliRunner().invoke(main, ["screen", str(cohort(tmp_path)), "--as-of", "2026-11-20",
                                       "--format", "ndjson", "-o", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    found = lines(out)
    assert [r["id"] for r in found] == [f"SYN-{i:07d}" for i in range(60)]
    assert all(len(r["criteria"]) == 28 and r["as_of"] == "2026-11-20" for r in found)


def test_resume_screens_only_what_is_missing_and_loses_nothing(tmp_path):
    source = cohort(tmp_path)
    out = tmp_path / "out.ndjson"
    args = ["screen", str(source), "--as-of", "2026-11-20", "--format", "ndjson", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    complete = out.read_text()
    # Interrupted run: 25 full lines and half of the 26th.
    kept = complete.splitlines(keepends=True)
    out.write_text("".join(kept[:25]) + kept[25][:40])
    result = CliRunner().invoke(main, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "screened again" in result.stderr
    resumed = lines(out)
    assert len(resumed) == 60 and len({r["id"] for r in resumed}) == 60
    assert {json.dumps(r, sort_keys=True) for r in resumed} == {
        json.dumps(json.loads(line), sort_keys=True) for line in complete.splitlines()}


def test_a_bad_record_in_a_batch_is_a_line_too(tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([*patients(3, seed=1), {"id": "BAD", "sex": "dragon"}]))
    out = tmp_path / "out.ndjson"
    result = CliRunner().invoke(main, ["screen", str(path), "--as-of", "2026-11-20", "--format",
                                       "ndjson", "-o", str(out)])
    assert result.exit_code == 1
    found = lines(out)
    assert len(found) == 4 and found[-1]["error"]["record"] == "BAD"


def test_no_progress_bar_when_piped():
    proc = subprocess.run([sys.executable, "-m", "ql1706kg.cli", "screen", str(EXAMPLES),
                           "--as-of", "2026-11-20", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""


def test_ndjson_records_are_read_line_by_line(tmp_path):
    path = tmp_path / "cohort.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in patients(5, seed=2)) + "{oops\n")
    out = tmp_path / "out.ndjson"
    result = CliRunner().invoke(main, ["screen", str(path), "--as-of", "2026-11-20", "--format",
                                       "ndjson", "-o", str(out)])
    assert result.exit_code == 1 and f"{path}:6" in result.stderr
    assert [r.get("id") for r in lines(out)][:5] == [f"SYN-{i:07d}" for i in range(5)]
