"""What a run says besides its output (issue 23): one summary line on standard error, a
warning when the results do not fit the screening window (with the --as-of that would), an
empty input refused, records repeating a patient id said once, brief text for a batch and the
full explanation with --details, text written patient by patient."""

from __future__ import annotations

import copy
import json
import sys
from datetime import date

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main

from .conftest import AS_OF, BASE, DATA_DIR, EXAMPLES

BASE_FILE = str(DATA_DIR / "base-eligible.json")
ROOT = EXAMPLES.parents[1]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# -- the summary line -------------------------------------------------------------------------

def test_a_run_ends_with_one_summary_line_naming_what_it_wrote(tmp_path):
    out = tmp_path / "out.json"
    result = run("screen", BASE_FILE, "--as-of", AS_OF, "--format", "json", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == (f"summary: 1 patient(s) screened: 1 eligible, 0 ineligible, "
                             f"0 incomplete; wrote {out} (json)\n")


def test_quiet_drops_the_summary_but_never_an_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = run("screen", BASE_FILE, str(bad), "--as-of", AS_OF, "--format", "json", "-q")
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["error"]


@pytest.mark.parametrize(("command", "what"), [
    (["lift", BASE_FILE, "--as-of", AS_OF], "1 patient graph(s) lifted with their derived "
                                            "values; wrote {out} (Turtle)"),
    (["export", "--what", "shapes"], "wrote {out} (shapes, ttl)"),
    (["publish", "--as", "medical-trial"], "wrote {out} (medical-trial)"),
])
def test_every_command_writing_a_file_says_so(tmp_path, command, what):
    out = tmp_path / "out.txt"
    result = run(*command, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert lines_starting(result.stderr, "summary: ") == [
        "summary: " + what.format(out=out)]
    assert out.stat().st_size > 0


def test_the_report_says_its_index_and_pages(tmp_path):
    result = run("report", BASE_FILE, "--as-of", AS_OF, "-o", str(tmp_path / "r"), "-j", "1")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == (
        "summary: 1 patient(s) screened: 1 eligible, 0 ineligible, 0 incomplete; wrote "
        f"{tmp_path / 'r' / 'index.html'} (HTML report, 2 pages)\n")


# -- the screening window --------------------------------------------------------------------

def test_results_all_outside_the_window_are_a_warning_with_a_date_that_fits():
    """The base record's results are dated 2026-11-05 to 2026-11-16: as of 2027-03-01 every
    one is too old; any as-of from the latest date to 28 days after the earliest fits."""
    result = run("screen", BASE_FILE, "--as-of", "2027-03-01", "--format", "json")
    (warning,) = lines_starting(result.stderr, "warning: ")
    assert "every screening result" in warning and "as of 2027-03-01" in warning
    assert "any --as-of from 2026-11-16 to 2026-12-03 puts all of them in the window" in warning
    inside = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "json")
    assert "warning" not in inside.stderr


def test_results_spread_wider_than_the_window_name_the_latest_date(tmp_path):
    record = copy.deepcopy(BASE)
    record["observations"][0]["date"] = "2026-06-01"
    path = tmp_path / "spread.json"
    path.write_text(json.dumps(record))
    result = run("screen", str(path), "--as-of", "2027-03-01", "--format", "json")
    (warning,) = lines_starting(result.stderr, "warning: ")
    assert "more than 28 days apart: --as-of 2026-11-16" in warning


class _Today(date):
    """The day the issue was found: the examples' results (2026-11-05 … 2026-11-17) partly
    out of the window."""

    @classmethod
    def today(cls):
        return date(2026, 12, 6)


def test_the_default_as_of_is_named_when_results_fall_out_of_the_window(monkeypatch):
    import ql1706kg.cli.common as common

    monkeypatch.setattr(common, "date", _Today)
    result = run("screen", str(EXAMPLES), "--format", "json", "-j", "1")
    (warning,) = lines_starting(result.stderr, "warning: ")
    assert "--as-of was not given, so the screening is as of today (2026-12-06)" in warning
    assert "any --as-of from 2026-11-17 to 2026-12-03 puts all of them in the window" in warning
    given = run("screen", str(EXAMPLES), "--format", "json", "-j", "1", "--as-of",
                "2026-12-06")
    assert "warning" not in given.stderr  # a date given is taken at its word


# -- empty inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["screen"], ["screen", "--format", "ndjson"], ["lift"],
                                     ["report"], ["export", "--what", "verdicts"]])
@pytest.mark.parametrize("kind", ["folder", "list"])
def test_an_input_without_records_is_exit_1_and_writes_nothing(tmp_path, command, kind):
    if kind == "folder":
        given = tmp_path / "empty"
        given.mkdir()
    else:
        given = tmp_path / "none.json"
        given.write_text("[]")
    out = tmp_path / "out"
    result = run(*command, str(given), "--as-of", AS_OF, "-o", str(out))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: no patient records found in {given} (a folder "
                                    "is searched for *.json")
    assert not out.exists() and result.stdout == ""


# -- one id, one person: refused records said once ---------------------------------------------

def test_records_repeating_ids_are_one_grouped_error(tmp_path):
    first, second = tmp_path / "site-a", tmp_path / "site-b"
    first.mkdir()
    second.mkdir()
    for n in range(3):
        record = copy.deepcopy(BASE)
        record["id"] = f"P-{n}"
        (first / f"{n}.json").write_text(json.dumps(record))
        record["sex"] = "female"  # a different person under the same id
        (second / f"{n}.json").write_text(json.dumps(record))
    result = run("screen", str(first), str(second), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 1
    (error,) = lines_starting(result.stderr, "error: ")
    assert error.startswith("error: 3 record(s) not screened: their patient ids were already "
                            f"used by different records (3 in {second} repeat {first}; ids "
                            "P-0, P-1, P-2)")
    assert len(json.loads(result.stdout)["errors"]) == 3  # programs still get each one


def test_the_examples_in_every_format_give_one_error_line_not_seventeen():
    result = run("screen", str(ROOT / "examples"), "--as-of", AS_OF, "-j", "1")
    assert result.exit_code == 1
    # The same patients in several formats (JSON, FHIR and tables): one line for all the
    # repeated ids; the second trial's protocol folder is skipped with a note, not read.
    (error,) = lines_starting(result.stderr, "error: ")
    assert "17 record(s) not screened" in error and "examples/fhir repeat" in error
    assert "17 input(s) could not be read:" in result.stdout
    assert "examples/protocols/sarc028: skipped: a protocol folder" in result.stderr


# -- brief, detailed, streamed ----------------------------------------------------------------

def test_a_batch_is_one_line_per_patient_and_details_explain_every_criterion():
    brief = run("screen", str(EXAMPLES), "--as-of", AS_OF, "-j", "1").stdout.splitlines()
    assert len(brief) == 2 + 19 + 2
    assert "QL-MFS-004     INELIGIBLE  not met: IC9.2-AST (AST); valid until 2026-12-10" \
        in brief
    assert "QL-LMS-013     INCOMPLETE  unknown: IC9.6-LVEF (LVEF), IC10 (Not pregnant, not " \
           "lactating)" in brief
    assert brief[-1] == ("19 patient(s) screened: 9 eligible (47 %), 7 ineligible (37 %), "
                         "3 incomplete (16 %)")
    detailed = run("screen", str(EXAMPLES), "--as-of", AS_OF, "-j", "1", "--details").stdout
    assert detailed.count("  Verdict: ") == 19 and detailed.count("\n  met ") > 19 * 15
    single = run("screen", BASE_FILE, "--as-of", AS_OF).stdout
    assert "  Verdict: ELIGIBLE" in single
    assert "BASE-001" in run("screen", BASE_FILE, "--as-of", AS_OF, "--brief").stdout.split(
        "\n")[2]


def test_text_is_written_and_flushed_as_each_patient_is_screened(monkeypatch):
    """Each patient's line is on standard output (and flushed) before the next patient is
    asked for: nothing waits for the end of the run."""
    import ql1706kg.cli.screen as screen_module
    from ql1706kg.outputs.files import StandardOutput

    real = screen_module.iter_screen
    seen: list[int] = []
    flushes: list[int] = []

    def watched(*args, **kwargs):
        for item in real(*args, **kwargs):
            seen.append(sys.stdout.buffer.getvalue().count(b"\nQL-"))
            yield item

    monkeypatch.setattr(screen_module, "iter_screen", watched)
    monkeypatch.setattr(StandardOutput, "flush", lambda self: flushes.append(1))
    result = run("screen", str(EXAMPLES), "--as-of", AS_OF, "-j", "1")
    assert result.exit_code == 0
    # the first patient is held until the second shows it is a batch, then one by one
    assert seen[:4] == [0, 0, 2, 3] and seen[-1] == 18
    assert len(flushes) >= 18


def test_fhir_resources_without_a_patient_are_a_warning_not_an_empty_input():
    product = DATA_DIR / "fhir-packages" / "hl7.fhir.r4.examples" / "MedicinalProduct-example.json"
    result = run("screen", str(product), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["patients"] == []
    (warning,) = lines_starting(result.stderr, "warning: ")
    assert "hold no patient" in warning
