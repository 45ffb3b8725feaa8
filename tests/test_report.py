"""The HTML attrition report: numbers that match the verdicts, offline pages, a real browser."""

from __future__ import annotations

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


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (.ci/run installs it)")
def test_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"]
    subprocess.run([*base, f"--screenshot={shot}", report.as_uri()], capture_output=True,
                   timeout=120, check=True)
    assert shot.stat().st_size > 20_000
    dom = subprocess.run([*base, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "Screening funnel" in dom and "IC9.2-AST" in dom and "<svg" in dom
