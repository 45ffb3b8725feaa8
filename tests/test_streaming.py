"""Large batches: NDJSON streamed as patients are screened, --resume, quiet when piped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.synthetic import patients

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


def screened_document(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["screen", *args, "--as-of", "2026-11-20", "--format",
                                       "json", "--quiet"])
    return result.exit_code, result.stdout


def test_streamed_json_document_is_byte_identical_to_the_rendered_one(tmp_path):
    """--format json is written patient by patient (workers encode their own patients): the
    document must be exactly what render_json makes of the whole screening, errors included."""
    from ql1706kg import screen
    from ql1706kg.outputs.render import render_json

    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([*patients(25, seed=4), {"id": "BAD", "sex": "dragon"}, 7]))
    inputs = [str(EXAMPLES), str(mixed)]
    expected = render_json(screen(inputs, as_of="2026-11-20"))
    for jobs in ("1", "2"):
        code, text = screened_document([*inputs, "--jobs", jobs])
        assert code == 1 and text == expected
    assert len(json.loads(expected)["errors"]) == 2


def test_a_document_with_no_readable_patient_is_still_valid_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, text = screened_document([str(bad)])
    document = json.loads(text)
    assert code == 1 and document["patients"] == [] and len(document["errors"]) == 2
    assert text.count("\n") > 3  # indented like every other document


def test_json_to_a_file_appears_only_when_complete(tmp_path):
    out = tmp_path / "verdicts.json"
    result = CliRunner().invoke(main, ["screen", str(cohort(tmp_path, 30)), "--as-of",
                                       "2026-11-20", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0
    assert len(json.loads(out.read_text())["patients"]) == 30
    assert not (tmp_path / "verdicts.json.partial").exists()


def test_encoded_results_come_back_in_input_order_from_workers(tmp_path):
    from ql1706kg.api import EncodedResult, assessment_for, iter_screen
    from ql1706kg.outputs.render import patient_json

    items = list(iter_screen([cohort(tmp_path, 45)], assessment_for("2026-11-20"), jobs=2,
                             batch_size=10, encode=patient_json))
    assert all(isinstance(i, EncodedResult) for i in items)
    assert [i.id for i in items] == [f"SYN-{i:07d}" for i in range(45)]
    first = json.loads(items[0].data)
    assert first["id"] == items[0].id and first["verdict"] == items[0].verdict


def test_bad_records_travel_to_worker_processes_and_back(tmp_path):
    """A batch holding unreadable records is screened in a worker like any other."""
    import pickle

    from ql1706kg.api import ScreeningError, assessment_for, iter_screen
    from ql1706kg.errors import InputError

    error = InputError("f.json", "bad", record="#2", field="sex")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([*patients(45, seed=5), {"id": "BAD", "sex": "dragon"}, 7]))
    items = list(iter_screen([mixed], assessment_for("2026-11-20"), jobs=2, batch_size=10))
    assert len(items) == 47
    assert [(i.record, i.field) for i in items if isinstance(i, ScreeningError)] == [
        ("BAD", "sex"), ("#47", None)]
