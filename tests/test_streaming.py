"""Large batches: NDJSON streamed as patients are screened, --resume, quiet when piped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.synthetic import patients
from ql1706kg.outputs.ndjson import SourceResolver

from .conftest import terminal_signals

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
    assert proc.returncode == 0
    assert proc.stderr == ("summary: 19 patient(s) screened: 9 eligible, 7 ineligible, "
                           "3 incomplete\n")  # and no bar


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


# Issue 11: one run per output (a lock), resume keyed on what was screened, Ctrl-C leaves
# nothing half-written.


def ndjson_args(source, out, *extra: str) -> list[str]:
    return ["screen", str(source), "--as-of", "2026-11-20", "--format", "ndjson", "-o",
            str(out), "--quiet", *extra]


@pytest.mark.parametrize("fmt", ["ndjson", "json", "text"])
def test_a_second_run_on_a_locked_output_stops_at_once(tmp_path, fmt):
    from ql1706kg.outputs.files import Lock, lock_path

    out = tmp_path / "out"
    out.write_text("the other run's\n")
    held = Lock(out).acquire()  # another run, writing this output
    try:
        for extra in ([], ["--resume"]) if fmt == "ndjson" else ([],):
            result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--as-of",
                                               "2026-11-20", "--format", fmt, "-o", str(out),
                                               *extra])
            assert result.exit_code == 3, result.output
            assert result.stderr.count("\n") == 1 and str(lock_path(out)) in result.stderr
    finally:
        held.release()
    assert out.read_text() == "the other run's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_resume_is_keyed_on_the_resolved_input_however_it_is_spelled(tmp_path, monkeypatch):
    source = cohort(tmp_path)
    (tmp_path / "link.json").symlink_to(source)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.ndjson"
    assert CliRunner().invoke(main, ndjson_args("cohort.json", out)).exit_code == 0
    complete = lines(out)
    assert complete[0]["resolved_source"] == f"{source}[0]"
    assert complete[0]["window_days"] == 28 and complete[0]["protocol_version"]
    for spelling in ("./cohort.json", str(source), "link.json",
                     f"{tmp_path}/../{tmp_path.name}/cohort.json"):
        kept = out.read_text().splitlines(keepends=True)[:25]
        out.write_text("".join(kept))
        result = CliRunner().invoke(main, ndjson_args(spelling, out, "--resume"))
        assert result.exit_code == 0, result.output
        resumed = lines(out)
        assert [r["id"] for r in resumed] == [r["id"] for r in complete], spelling
        assert [r["resolved_source"] for r in resumed] == [r["resolved_source"]
                                                           for r in complete]


def test_a_url_source_is_kept_as_written_without_looking_for_a_file(tmp_path, monkeypatch):
    """An OMOP person's source (a database URL) is no file: no stat call per result, even with
    a file named like its scheme at hand; a file path is resolved as before, also one spelled
    like a drive (``C://``) or a file URL's text, which are paths here."""
    monkeypatch.chdir(tmp_path)
    for name in ("duckdb", "postgresql", "C:/x.json", "file:/y.json", "z.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("[]")
    looked = []
    isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda path: looked.append(path) or isfile(path))
    resolve = SourceResolver()
    for url in ("duckdb:///cdm.duckdb#person/42", "duckdb:///tmp/cdm.duckdb#person/7",
                "postgresql://screen@db.example.org:5432/cdm#person/3", "s3+duck://b/k#p"):
        assert resolve(url) == url
    assert looked == []
    assert resolve("z.json[3]") == f"{tmp_path / 'z.json'}[3]"
    assert resolve("C://x.json[0]") == f"{tmp_path / 'C:' / 'x.json'}[0]"
    assert resolve("file://y.json:2") == f"{tmp_path / 'file:' / 'y.json'}:2"


@pytest.mark.parametrize(("extra", "expected"), [
    (["--as-of", "2026-11-21"], "resume with --as-of 2026-11-20 --window-days 28"),
    (["--window-days", "14"], "resume with --as-of 2026-11-20 --window-days 28"),
])
def test_resume_with_other_settings_is_refused(tmp_path, extra, expected):
    source, out = cohort(tmp_path, 5), tmp_path / "out.ndjson"
    assert CliRunner().invoke(main, ndjson_args(source, out)).exit_code == 0
    before = out.read_bytes()
    args = ndjson_args(source, out, "--resume")
    args[args.index("--as-of"):args.index("--as-of") + 2] = []
    result = CliRunner().invoke(main, [*args, "--as-of", "2026-11-20", *extra])
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "cannot resume" in result.stderr
    assert out.read_bytes() == before


def test_resume_refuses_a_file_without_resume_keys(tmp_path):
    source, out = cohort(tmp_path, 5), tmp_path / "out.ndjson"
    out.write_text(json.dumps({"as_of": "2026-11-20", "id": "SYN-0000000",
                               "source": str(source) + "[0]"}) + "\n")
    result = CliRunner().invoke(main, ndjson_args(source, out, "--resume"))
    assert result.exit_code == 2 and "has no window_days" in result.stderr
    assert len(out.read_text().splitlines()) == 1


def interrupted_after(monkeypatch, n: int) -> None:
    """iter_screen yields ``n`` results, then Ctrl-C arrives."""
    import ql1706kg.cli.screen as screen_module

    real = screen_module.iter_screen

    def stub(*args, **kwargs):
        for number, item in enumerate(real(*args, **kwargs)):
            if number == n:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(screen_module, "iter_screen", stub)


@pytest.mark.parametrize("fmt", ["json", "text", "turtle"])
def test_ctrl_c_leaves_no_partial_file_and_the_old_output(tmp_path, monkeypatch, fmt):
    source, out = cohort(tmp_path, 30), tmp_path / "out"
    out.write_text("old")
    interrupted_after(monkeypatch, 12)
    result = CliRunner().invoke(main, ["screen", str(source), "--as-of", "2026-11-20",
                                       "--format", fmt, "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 130 and result.stderr.endswith("interrupted\n")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.json", "out"]


def test_ctrl_c_on_ndjson_keeps_whole_lines_and_resume_finishes(tmp_path, monkeypatch):
    source, out = cohort(tmp_path, 30), tmp_path / "out.ndjson"
    interrupted_after(monkeypatch, 12)
    result = CliRunner().invoke(main, ndjson_args(source, out, "--jobs", "1"))
    assert result.exit_code == 130 and "--resume continues" in result.stderr
    assert [r["id"] for r in lines(out)] == [f"SYN-{i:07d}" for i in range(12)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.json", "out.ndjson"]
    monkeypatch.undo()
    result = CliRunner().invoke(main, ndjson_args(source, out, "--resume"))
    assert result.exit_code == 0
    assert [r["id"] for r in lines(out)] == [f"SYN-{i:07d}" for i in range(30)]


def _written(folder: Path) -> bool:
    """Whether a temporary output in ``folder`` holds data (one may be renamed meanwhile)."""
    for path in folder.iterdir():
        try:
            if path.name.endswith(".tmp") and path.stat().st_size:
                return True
        except FileNotFoundError:
            continue
    return False


def test_a_real_interrupt_leaves_nothing_behind_and_exits_130(tmp_path):
    """SIGINT to the program while it writes a JSON document, then SIGTERM while it streams
    NDJSON: exit 130, no temporary file, no lock, no document; the NDJSON holds whole lines."""
    import os
    import signal
    import time

    source = cohort(tmp_path, 6000)  # several seconds of screening: the signal lands mid-run
    program = [sys.executable, "-c", "from ql1706kg.cli import run; run()"]
    for fmt, signum in (("json", signal.SIGINT), ("ndjson", signal.SIGTERM)):
        out = tmp_path / f"out.{fmt}"
        proc = subprocess.Popen([*program, "screen", str(source), "--as-of", "2026-11-20",
                                 "--format", fmt, "-o", str(out), "--quiet", "--jobs", "1"],
                                stderr=subprocess.PIPE, text=True, preexec_fn=terminal_signals)
        deadline = time.monotonic() + 60
        while not _written(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first patients are on disk
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.kill(proc.pid, signum)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert stderr.endswith("interrupted\n") and "Traceback" not in stderr
        left = sorted(p.name for p in tmp_path.iterdir())
        if fmt == "json":
            assert left == ["cohort.json"]
        else:
            assert left == ["cohort.json", "out.ndjson"]
            kept = out.read_bytes()
            assert kept.endswith(b"\n") and 0 < len(lines(out)) < 6000
