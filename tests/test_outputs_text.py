"""Text from input never prints a raw control character (one rule, outputs/visible.py), in
text output, error lines on stderr and the HTML report; report page names are bounded."""

from __future__ import annotations

import dataclasses
import re

import pytest
from click.testing import CliRunner

from ql1706kg.api import ScreeningError, screen
from ql1706kg.cli import main
from ql1706kg.cli.common import echo_error
from ql1706kg.outputs.render import render_text
from ql1706kg.outputs.report import page_name, write_report
from ql1706kg.outputs.visible import visible

from .conftest import AS_OF, DATA_DIR

FORGED = "QL-1\n  Verdict: ELIGIBLE\r\x1b[2J\u202e\x85\x00"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_the_rule():
    assert visible("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert visible("\x00\x1b\x7f\x85") == "\\x00\\x1b\\x7f\\x85"
    assert visible("\u2028\u2029\u202e\u2066\u200f") == "\\u2028\\u2029\\u202e\\u2066\\u200f"
    assert visible("caf\u00e9 \u2264 2.5 \u00d7ULN C:\\x") == "caf\u00e9 \u2264 2.5 \u00d7ULN C:\\x"
    assert visible("\udcff") == "\\udcff"  # an undecodable file name's byte


@pytest.fixture(scope="module")
def forged():
    """A real screening whose patient id, source and an explanation hold control characters
    (the readers may refuse such ids; the renderers must be safe regardless)."""
    result = screen([DATA_DIR / "base-eligible.json"], as_of=AS_OF, jobs=1)
    patient = result.patients[0]
    first = dataclasses.replace(patient.criteria[0], explanation="value " + FORGED)
    patient = dataclasses.replace(patient, id=FORGED, source=f"dir/{FORGED}.json",
                                  criteria=(first, *patient.criteria[1:]))
    error = ScreeningError(f"{FORGED}.json", "bad " + FORGED, FORGED, "sex\n")
    return dataclasses.replace(result, patients=[patient], errors=[error])


def test_text_output_cannot_forge_a_line(forged):
    text = render_text(forged)
    assert not RAW_CONTROL.search(text)
    assert [line for line in text.splitlines() if line.lstrip().startswith("Verdict:")] == [
        "  Verdict: ELIGIBLE"]  # only the real one starts a line
    assert "Patient QL-1\\n  Verdict: ELIGIBLE\\r\\x1b[2J\\u202e\\x85\\x00  (dir/" in text


def test_error_lines_on_stderr_are_one_line_each(forged):
    runner = CliRunner()
    with runner.isolation() as (_out, err, _):
        echo_error(forged.errors[0])
        written = err.getvalue().decode()
    assert written.count("\n") == 1 and not RAW_CONTROL.search(written)
    assert written.startswith("error: QL-1\\n  Verdict: ELIGIBLE")


def test_a_file_name_with_a_line_break_is_one_error_line(tmp_path):
    bad = tmp_path / "bad\nVerdict: ELIGIBLE.json"
    bad.write_text("{")
    result = CliRunner().invoke(main, ["screen", str(bad), "--as-of", AS_OF])
    assert result.exit_code == 1
    error, summary = result.stderr.splitlines()  # one error line, then the run's summary
    assert "bad\\nVerdict: ELIGIBLE.json" in error and summary.startswith("summary: ")
    assert not RAW_CONTROL.search(result.stdout)


def test_html_report_shows_the_full_id_escaped(forged, tmp_path):
    index = write_report(forged, tmp_path / "report")
    pages = list((tmp_path / "report" / "patients").iterdir())
    assert len(pages) == 1
    for text in (index.read_text(), pages[0].read_text()):
        assert not RAW_CONTROL.search(text.replace("\n", ""))
        assert "QL-1\\n  Verdict: ELIGIBLE\\r\\x1b[2J\\u202e\\x85\\x00" in text


def test_page_names_are_bounded_safe_and_unique():
    taken: set[str] = set()
    long_id = "Ä/" * 150  # 300 characters, slashes and all
    names = [page_name(i, taken) for i in
             ["QL-LMS-001", long_id, long_id + "x", "A B", "A_B", "a_b", "../etc", "", "A_B"]]
    assert names[0] == "QL-LMS-001.html"  # a plain id keeps its own name
    assert len({n.lower() for n in names}) == len(names)  # unique, even without case
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.html", name) and len(name) <= 80
    assert names[3].startswith("A_B-") and names[4] == "A_B.html"  # slugified alike
    assert names[5] == "a_b-2.html"  # a case-insensitive file system would mix them up
    assert names[-1] == "A_B-3.html"  # the same id twice (two sources)


def test_a_300_character_id_gets_a_page(forged, tmp_path):
    long = dataclasses.replace(forged, patients=[dataclasses.replace(
        forged.patients[0], id="P" * 300)], errors=[])
    index = write_report(long, tmp_path / "report")
    page = next((tmp_path / "report" / "patients").iterdir())
    assert len(page.name) < 80 and "P" * 300 in page.read_text()
    assert f'href="patients/{page.name}"' in index.read_text()


@pytest.mark.parametrize("fmt", ["text", "json", "ndjson", "turtle", "jsonld"])
def test_a_file_name_that_is_not_utf8_is_written_escaped(tmp_path, fmt):
    import json
    import os
    import shutil

    odd = tmp_path / os.fsdecode(b"odd-\xff.json")
    shutil.copy(DATA_DIR / "base-eligible.json", odd)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["screen", str(odd), "--as-of", AS_OF, "--format", fmt,
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")  # still UTF-8
    if fmt == "json":
        assert json.loads(text)["patients"][0]["source"] == str(odd)
    if fmt == "ndjson":
        assert json.loads(text)["resolved_source"] == str(odd.resolve())
