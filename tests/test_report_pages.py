"""The HTML report's patient pages and charts (issue 14): each page opens with what would
change the verdict; the charts count whole patients; no legend covers a bar (checked on the
SVG's geometry)."""

from __future__ import annotations

import copy
import re

import pytest

from ql1706kg.api import screen
from ql1706kg.outputs.report import _funnel_svg, _outcomes_svg
from ql1706kg.outputs.report_html import patient_page as _patient_page

from .conftest import AS_OF, BASE, with_observation


@pytest.fixture(scope="module")
def screening():
    eligible = copy.deepcopy(BASE)
    low = with_observation(BASE, "ANC", 1.2, "10*9/L")
    low["id"] = "LOW-ANC"
    missing = with_observation(BASE, "LVEF", None)
    missing["id"] = "NO-LVEF"
    return screen([eligible, low, missing], as_of=AS_OF)


def _page(screening, patient_id: str) -> str:
    patient = next(p for p in screening.patients if p.id == patient_id)
    return _patient_page(patient, screening)


def test_a_page_opens_with_what_would_change_the_verdict(screening):
    page = _page(screening, "LOW-ANC")
    opening = page.index("What would change the verdict")
    table = page.index("<h2>All criteria</h2>")
    assert opening < table < page.index("<td>IC1</td>")
    section = page[opening:table]
    assert "IC9.1-ANC" in section and "not_met" in section
    assert "absolute neutrophil count 1.2 ×10⁹/L on 2026-11-12; needs ≥1.5 ×10⁹/L" in section
    assert "Valid until: 2026-12-10" in section
    # only the criteria not met or unknown are listed there
    assert "IC9.1-PLT" not in section and "IC1" not in section


def test_an_unknown_criterion_is_listed_with_what_to_collect(screening):
    section = _page(screening, "NO-LVEF").split("<h2>All criteria</h2>")[0]
    assert "IC9.6-LVEF" in section and "unknown" in section and "To collect: " in section


def test_an_eligible_page_says_so_and_until_when(screening):
    section = _page(screening, "BASE-001").split("<h2>All criteria</h2>")[0]
    assert "Every criterion is met or not applicable." in section
    assert "Valid until: 2026-12-03" in section


def _tick_labels(svg: str) -> list[str]:
    axis = svg[svg.index('<g id="matplotlib.axis_1">'):svg.index('<g id="matplotlib.axis_2">')]
    return [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", axis) if t.strip()]


@pytest.mark.parametrize("chart", [_funnel_svg, _outcomes_svg])
def test_charts_count_whole_patients(screening, chart):
    labels = [label for label in _tick_labels(chart(screening)) if label[0].isdigit()
              or label[0] in "−-"]
    assert labels, "no tick labels found"
    assert all(re.fullmatch(r"\d+", label) for label in labels), labels


def _box(svg: str, gid: str) -> tuple[float, float, float, float]:
    """The bounding box (x0, y0, x1, y1) of the first path of the group ``gid``."""
    start = svg.index(f'<g id="{gid}">')
    path = re.search(r'<path d="([^"]*)"', svg[start:]).group(1)
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_no_legend_covers_a_bar(screening):
    svg = _outcomes_svg(screening)
    legend, plot = _box(svg, "legend"), _box(svg, "plot-area")
    bars = [_box(svg, gid) for gid in re.findall(r'<g id="(bar-[^"]+)">', svg)]
    assert bars
    assert not any(_overlap(legend, bar) for bar in bars)
    assert legend[0] >= plot[2]  # right of the plot area, where no bar can be
    assert "legend" not in _funnel_svg(screening)  # one series: no legend needed
