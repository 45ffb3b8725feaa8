"""The HTML attrition report: numbers that match the verdicts, offline pages, a real browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.outputs.report import funnel, outcome_table, write_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"


@pytest.fixture(scope="module")
def screening():
    return screen([EXAMPLES], as_of="2026-11-20", jobs=1)


@pytest.fixture(scope="module")
def report(screening, tmp_path_factory):
    return write_report(screening, tmp_path_factory.mktemp("report"))


def test_funnel_matches_the_verdicts(screening):
    """Counted here straight from the outcomes: first not_met criterion in protocol order."""
    order = [c.id for c in screening.patients[0].criteria]
    first = Counter(next(c.id for c in p.criteria if c.outcome == "not_met")
                    for p in screening.patients if p.verdict == "ineligible")
    steps = funnel(screening)
    assert [s.criterion for s in steps] == order
    assert {s.criterion: s.removed for s in steps if s.removed} == dict(first)
    assert steps[-1].remaining == sum(p.verdict != "ineligible" for p in screening.patients)
    assert steps[-1].remaining == 12


def test_outcome_table_counts_every_patient_once_per_criterion(screening):
    for counts in outcome_table(screening).values():
        assert sum(counts.values()) == 19


def test_pages_are_self_contained(report):
    pages = [report, *sorted((report.parent / "patients").glob("*.html"))]
    assert len(pages) == 20
    index = report.read_text()
    assert index.count("<svg") == 2 and "QL-LMS-013" in index
    for page in pages:
        text = page.read_text()
        assert not re.search(r'(src|href)="https?://', text), page


def test_patient_page_explains_every_criterion(report):
    page = (report.parent / "patients" / "QL-MFS-004.html").read_text()
    assert page.count("<tr>") == 29 and "AST ≤2.5 ×ULN" in page


def test_the_patient_table_comes_first_with_names_and_what_next(report):
    index = report.read_text()
    order = [index.index(f'id="{section}"') for section in
             ("summary", "patients", "funnel", "outcomes", "worklist")]
    assert order == sorted(order)
    table = index[index.index('id="patients"'):index.index('id="funnel"')]
    row = re.search(r'<tr><td><a href="patients/QL-MFS-004.html">.*?</tr>', table).group(0)
    assert "ineligible" in row and "<b>IC9.2-AST</b> AST" in row
    assert "needs ≤2.5×ULN" in row  # what would change it
    row = re.search(r'<tr><td><a href="patients/QL-LMS-013.html">.*?</tr>', table).group(0)
    assert "<b>IC9.6-LVEF</b> LVEF" in row and "collect an LVEF" in row
    assert "<details><summary>" in row  # two criteria to collect for: folded


def _cells(html_text: str, table_class: str) -> list[list[str]]:
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', html_text).group(1)
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>",
                                                                  row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_counts_agree_in_the_summary_the_table_and_the_funnel(screening, report):
    index = report.read_text()
    verdicts = Counter(p.verdict for p in screening.patients)
    total = len(screening.patients)
    summary = {row[0]: (int(row[1]), row[2]) for row in _cells(index, "counts")[1:]}
    assert summary == {**{v: (verdicts[v], f"{100 * verdicts[v] / total:.0f} %")
                          for v in ("eligible", "incomplete", "ineligible")},
                       "screened": (total, "100 %")}
    rows = _cells(index, "patients")[1:]
    assert Counter(row[1] for row in rows) == verdicts and len(rows) == total
    funnel_rows = _cells(index, "funnel")
    assert funnel_rows[1][:3] == ["screened", "", str(total)]
    assert funnel_rows[-1][0] == "eligible" and int(funnel_rows[-1][2]) == verdicts["eligible"]
    aside = funnel_rows[-2]
    assert aside[0].startswith("set aside as incomplete") and int(aside[1]) == \
        verdicts["incomplete"]
    assert f"The {total - verdicts['ineligible']} who meet every criterion" in index


def test_criteria_are_named_in_words_beside_their_ids(report):
    index = report.read_text()
    for table in ("funnel", "outcomes"):
        assert "IC9.1-ANC Neutrophil count" in [row[0] for row in _cells(index, table)]
    assert "IC9.2-AST (AST)" in index  # chart labels


def test_long_text_is_folded_and_the_first_sentences_shown(report):
    page = (report.parent / "patients" / "QL-MFS-004.html").read_text()
    row = re.search(r"<tr><td>IC9.2-AST</td>.*?</tr>", page).group(0)
    assert row.count("<details>") == 1
    assert "<summary>Not met: The AST is above 2.5 × ULN" in row
    assert "Evidence: " in row and "Limit: AST ≤2.5 ×ULN" in row


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHECK = """<script>
const r = {width: window.innerWidth};
r.overflow = document.documentElement.scrollWidth - window.innerWidth;
r.tops = ["summary", "patients", "funnel", "outcomes", "worklist"].map(
  id => document.getElementById(id).getBoundingClientRect().top);
r.deadAnchors = [...document.querySelectorAll('a[href^="#"]')].filter(
  a => !document.getElementById(a.getAttribute("href").slice(1))).length;
r.links = [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href"));
r.openOrBare = [...document.querySelectorAll("details")].filter(
  d => d.open || !d.querySelector("summary")).length;
r.details = document.querySelectorAll("details").length;
r.svgWidths = [...document.querySelectorAll("svg")].map(s => s.getBoundingClientRect().width);
r.rowHeights = [...document.querySelectorAll("table.patients tr")].map(
  t => t.getBoundingClientRect().height);
document.body.setAttribute("data-check", JSON.stringify(r));
console.log("ql1706kg-check-done");
</script>"""


def _browse(url: str, width: int, *extra: str) -> tuple[str, str]:
    """The DOM after rendering, and chromium's log (console messages included)."""
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           f"--window-size={width},2000", "--enable-logging=stderr", "--v=0",
                           *extra, "--dump-dom", url],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout, done.stderr


def _console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (.ci/run installs it)")
def test_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1280,2000", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000
    checked = report.with_name("check.html")  # the index with a measuring script, beside it
    checked.write_text(report.read_text().replace("</body>", CHECK + "</body>"))
    for width in (1280, 800):
        dom, log = _browse(checked.as_uri(), width)
        assert "Screening funnel" in dom and "IC9.2-AST" in dom and "<svg" in dom
        # no console message but the check's own: the script ran, nothing else complained
        assert [line for line in _console(log) if "ql1706kg-check-done" not in line] == []
        assert any("ql1706kg-check-done" in line for line in _console(log))
        found = json.loads(html.unescape(re.search(r'data-check="([^"]*)"', dom).group(1)))
        assert found["width"] == width and found["overflow"] <= 0, found  # no sideways scroll
        assert found["tops"] == sorted(found["tops"])  # the patient table first
        assert found["deadAnchors"] == 0 and found["details"] > 0 and found["openOrBare"] == 0
        assert all(w > 300 for w in found["svgWidths"]) and len(found["svgWidths"]) == 2
        assert max(found["rowHeights"]) < 200  # long text folded, rows stay short
        for link in found["links"]:
            if not link.startswith("#"):
                assert (report.parent / link).is_file(), link
    checked.unlink()
    page = report.parent / "patients" / "QL-MFS-004.html"
    dom, log = _browse(page.as_uri(), 1280)
    assert _console(log) == [] and "What would change the verdict" in dom
    assert (page.parent / "../index.html").resolve() == report.resolve()
