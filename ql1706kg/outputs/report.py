"""The attrition report: a self-contained HTML picture of where patients drop out.

A CONSORT-style funnel (how many patients each criterion removes, in protocol order), the
outcomes of every criterion, the worklist of data to collect, and one page per patient with
every criterion explained. Charts are SVG from matplotlib, inlined, so the report opens
offline and from any folder; no scripts, fonts or styles are fetched.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..pipeline.results import OUTCOMES, PatientResult, Screening
from ..protocol.terminology import terminology
from .folder import OutputFolder
from .render import what_if_lines
from .visible import visible

PAGE_STEM_CHARS = 60  # a page's name: at most this much of the id, then a hash of all of it
_SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{PAGE_STEM_CHARS - 1}}}")

COLOURS = {"met": "#2e7d32", "not_met": "#c62828", "unknown": "#f9a825",
           "not_applicable": "#9e9e9e"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}.met{color:#2e7d32}
.not_met{color:#c62828;font-weight:bold}.unknown{color:#a06f00;font-weight:bold}
.not_applicable{color:#777}svg{max-width:100%;height:auto}"""


@dataclass(frozen=True)
class FunnelStep:
    """One criterion of the funnel: patients it removes and those still in after it."""

    criterion: str
    removed: int
    remaining: int


def funnel(screening: Screening) -> list[FunnelStep]:
    """In protocol order, the patients each criterion removes first, and who remains."""
    first_failure = Counter()
    for patient in screening.patients:
        failed = next((c.id for c in patient.criteria if c.outcome == "not_met"), None)
        if failed is not None:
            first_failure[failed] += 1
    remaining, steps = len(screening.patients), []
    for criterion in terminology().criteria:
        remaining -= first_failure[criterion]
        steps.append(FunnelStep(criterion, first_failure[criterion], remaining))
    return steps


def outcome_table(screening: Screening) -> dict[str, Counter]:
    """Per criterion (protocol order), how many patients have each outcome."""
    table = {cid: Counter() for cid in terminology().criteria}
    for patient in screening.patients:
        for result in patient.criteria:
            table[result.id][result.outcome] += 1
    return table


def write_report(screening: Screening, out: Path | OutputFolder,
                 sections: tuple[str, ...] = ()) -> Path:
    """Write index.html and one page per patient into a folder; return the index.

    ``out`` is a folder, or an :class:`OutputFolder` the caller opened (and so locked) before
    screening, and commits after. Every page is put in place only when all are written.
    """
    if not isinstance(out, OutputFolder):
        with OutputFolder(out) as folder:
            return write_report(screening, folder, sections)
    names: list[str] = []
    taken: set[str] = set()
    for patient in screening.patients:
        names.append(page_name(patient.id, taken))
        out.write_text(f"patients/{names[-1]}", _patient_page(patient, screening))
    return out.write_text("index.html", _index(screening, names, sections))


def page_name(patient_id: str, taken: set[str]) -> str:
    """A safe, bounded file name for a patient's page, unique within ``taken`` (compared
    without case, for case-insensitive file systems): the id itself when it is short and
    plain (``QL-LMS-001.html``), else at most 60 characters of it made plain and a hash of
    all of it (``Q_L_001-3f2a9c0b1d.html``), so ids that read alike still differ."""
    if _SAFE_ID.fullmatch(patient_id):
        stem = patient_id
    else:
        plain = re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id).lstrip(".")[:PAGE_STEM_CHARS]
        digest = hashlib.sha256(patient_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        stem = f"{plain or 'patient'}-{digest}"
    name, n = f"{stem}.html", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.html"
    taken.add(name.lower())
    return name


def _h(text: object) -> str:
    """Text from input in HTML: control characters made visible, then escaped."""
    return html.escape(visible(text))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{_h(title)}</title><style>{STYLE}</style></head><body>{body}"
            "</body></html>\n")


def _index(screening: Screening, names: list[str], sections: tuple[str, ...] = ()) -> str:
    verdicts = Counter(p.verdict for p in screening.patients)
    parts = [f"<h1>QL1706 screening: attrition report</h1><p>As of {screening.as_of} "
             f"(screening window {screening.window_days} days), protocol "
             f"{_h(screening.protocol_version)}. {len(screening.patients)} patients: "
             + ", ".join(f"{verdicts[v]} {v}" for v in ("eligible", "ineligible", "incomplete"))
             + ".</p>",
             "<h2>Screening funnel</h2>", _funnel_svg(screening), _funnel_html(screening),
             "<h2>Outcomes per criterion</h2>", _outcomes_svg(screening),
             _outcomes_html(screening), "<h2>Unknown worklist</h2>", _worklist_html(screening),
             *sections, "<h2>Patients</h2>", _patients_html(screening, names)]
    if screening.errors:
        parts.append("<h2>Inputs that could not be read</h2><ul>" + "".join(
            f"<li>{_h(e.source)}{', record ' + _h(e.record) if e.record else ''}"
            f"{', field ' + _h(e.field) if e.field else ''}: {_h(e.message)}"
            "</li>" for e in screening.errors) + "</ul>")
    return _page("QL1706 attrition report", "".join(parts))


def _funnel_html(screening: Screening) -> str:
    rows = "".join(f"<tr><td>{_h(s.criterion)}</td><td>{s.removed}</td><td>{s.remaining}</td></tr>"
                   for s in funnel(screening))
    return (f"<table><tr><th>criterion</th><th>removed</th><th>remaining</th></tr>"
            f"<tr><td>screened</td><td></td><td>{len(screening.patients)}</td></tr>{rows}"
            "</table>")


def _outcomes_html(screening: Screening) -> str:
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    rows = "".join(f"<tr><td>{_h(cid)}</td>" + "".join(f"<td>{counts[o]}</td>" for o in OUTCOMES)
                   + "</tr>" for cid, counts in outcome_table(screening).items())
    return f"<table><tr><th>criterion</th>{head}</tr>{rows}</table>"


def _worklist_html(screening: Screening) -> str:
    rows = [(p.id, c.id, c.to_collect or "") for p in screening.patients
            if p.verdict == "incomplete" for c in p.criteria if c.outcome == "unknown"]
    if not rows:
        return "<p>Nothing to collect.</p>"
    body = "".join(f"<tr><td>{_h(p)}</td><td>{c}</td><td>{_h(t)}</td></tr>"
                   for p, c, t in rows)
    return f"<table><tr><th>patient</th><th>criterion</th><th>to collect</th></tr>{body}</table>"


def _patients_html(screening: Screening, names: list[str]) -> str:
    rows = "".join(
        f"<tr><td><a href=\"patients/{html.escape(name)}\">{_h(p.id)}</a>"
        f"</td><td class=\"{_verdict_class(p.verdict)}\">{p.verdict}</td>"
        f"<td>{_h(p.source)}</td></tr>" for p, name in zip(screening.patients, names,
                                                             strict=True))
    return f"<table><tr><th>patient</th><th>verdict</th><th>source</th></tr>{rows}</table>"


def _verdict_class(verdict: str) -> str:
    return {"eligible": "met", "ineligible": "not_met", "incomplete": "unknown"}[verdict]


def _what_if_html(patient: PatientResult, screening: Screening) -> str:
    """What the page opens with: the criteria not met or unknown, and what would change the
    verdict (values against their limits, what to collect, until when, from when)."""
    open_ = [c for c in patient.criteria if c.outcome in ("not_met", "unknown")]
    if open_:
        items = "".join(
            f"<li><b>{_h(c.id)}</b> <span class=\"{c.outcome}\">{c.outcome}</span>: "
            + _h(c.change_needed or c.explanation.split('" ', 1)[-1])
            + (f"<br>To collect: {_h(c.to_collect)}" if c.to_collect else "") + "</li>"
            for c in open_)
        listed = f"<ul class=\"open\">{items}</ul>"
    else:
        listed = "<p>Every criterion is met or not applicable.</p>"
    extra = [line for line in what_if_lines(patient, screening.window_days)
             if not line.startswith(tuple(f"{c.id}: " for c in open_))]
    lines = "".join(f"<p>{_h(line)}</p>" for line in extra)
    return (f"<section id=\"what-would-change\"><h2>What would change the verdict</h2>"
            f"{listed}{lines}</section>")


def _patient_page(patient: PatientResult, screening: Screening) -> str:
    rows = "".join(
        f"<tr><td>{_h(c.id)}</td><td class=\"{c.outcome}\">{c.outcome}</td>"
        f"<td>{_h(c.explanation)}"
        + (f"<br><b>Evidence:</b> {_h('; '.join(c.evidence))}" if c.evidence else "")
        + (f"<br><b>Limit:</b> {_h('; '.join(c.limits))}" if c.limits else "")
        + "</td></tr>" for c in patient.criteria)
    body = (f"<p><a href=\"../index.html\">all patients</a></p><h1>{_h(patient.id)}"
            f"</h1><p>Verdict: <span class=\"{_verdict_class(patient.verdict)}\">"
            f"{patient.verdict}</span> as of {screening.as_of}; source "
            f"{_h(patient.source)}</p>{_what_if_html(patient, screening)}"
            f"<h2>All criteria</h2><table><tr><th>criterion</th><th>outcome</th>"
            f"<th>explanation</th></tr>{rows}</table>")
    return _page(f"QL1706 screening: {patient.id}", body)


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "ql1706kg"  # stable ids: same input, same file
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt

    return plt


def _funnel_svg(screening: Screening) -> str:
    plt = _pyplot()
    steps = [s for s in funnel(screening) if s.removed]
    labels = ["screened"] + [f"after {_plain(s.criterion)}" for s in steps]
    values = [len(screening.patients)] + [s.remaining for s in steps]
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(labels) + 1))
    for index, bar in enumerate(axes.barh(labels[::-1], values[::-1], color="#1565c0")):
        bar.set_gid(f"bar-{index}")
    for y, value in enumerate(values[::-1]):
        axes.text(value, y, f" {value}", va="center")
    _whole_patients(axes)
    axes.set_xlabel("patients remaining")
    axes.set_title("Screening funnel (criteria that removed at least one patient)")
    return _svg(figure)


def _outcomes_svg(screening: Screening) -> str:
    plt = _pyplot()
    table = outcome_table(screening)
    criteria = [_plain(c) for c in table][::-1]
    figure, axes = plt.subplots(figsize=(8, 0.3 * len(criteria) + 1.2))
    left = [0] * len(criteria)
    for outcome in OUTCOMES:
        counts = [table[c][outcome] for c in list(table)[::-1]]
        bars = axes.barh(criteria, counts, left=left, color=COLOURS[outcome], label=outcome)
        for index, bar in enumerate(bars):
            bar.set_gid(f"bar-{outcome}-{index}")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    _whole_patients(axes)
    axes.set_xlabel("patients")
    # outside the plot area, right of it: a legend inside may cover a bar
    legend = axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                         fontsize="small")
    legend.set_gid("legend")
    axes.set_title("Outcome of each criterion")
    return _svg(figure)


def _plain(text: str) -> str:
    """A criterion id as a chart label: matplotlib reads ``$…$`` as mathematics."""
    return str(text).replace("$", r"\$")


def _whole_patients(axes) -> None:
    """Patients are counted whole: integer ticks only, from 0 (no "2.5 patients"); the plot
    area is marked (``plot-area``) so a test can check the geometry of the SVG."""
    from matplotlib.ticker import MaxNLocator

    axes.patch.set_gid("plot-area")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlim(left=0)
