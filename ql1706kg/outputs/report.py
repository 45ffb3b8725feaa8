"""The screening report: a self-contained HTML picture, read by a coordinator from the top.

First the counts per verdict (with their shares) and the patient table (each patient's verdict,
the criteria that decide it by id and name, and what to do next: what to collect, what would
change the verdict, until when it holds); then a CONSORT-style funnel (how many patients each
criterion removes, in protocol order, ending with the incomplete set aside, so it ends at the
eligible count), the outcomes of every criterion, the worklist of data to collect, and one page
per patient with every criterion explained. Every count is taken from the same verdicts, so
summary, table and funnel agree. Charts are SVG from matplotlib (the ``report`` extra),
inlined, so the report opens offline and from any folder; no scripts, fonts or styles are
fetched.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import EnvironmentFailure
from ..pipeline.results import OUTCOMES, Screening
from ..protocol.terminology import terminology
from .folder import OutputFolder
from .report_html import (
    COLOURS,
    VERDICTS,
    criterion_name,
    deciding,
    folded,
    h,
    named,
    next_steps,
    page,
    patient_page,
    share,
    verdict_class,
)

PAGE_STEM_CHARS = 60  # a page's name: at most this much of the id, then a hash of all of it
_SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{PAGE_STEM_CHARS - 1}}}")
REPORT_EXTRA = ("the HTML report's charts need matplotlib, the 'report' extra: pip install "
                "'ql1706kg[report]'")


@dataclass(frozen=True)
class FunnelStep:
    """One criterion of the funnel: patients it removes and those still in after it."""

    criterion: str
    removed: int
    remaining: int


def funnel(screening: Screening) -> list[FunnelStep]:
    """In protocol order, the patients each criterion removes first, and who remains."""
    first_failure: Counter[str] = Counter()
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
    table: dict[str, Counter[str]] = {cid: Counter() for cid in terminology().criteria}
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
    _pyplot()  # the charts' library, before any page is written
    names: list[str] = []
    taken: set[str] = set()
    for patient in screening.patients:
        names.append(page_name(patient.id, taken))
        out.write_text(f"patients/{names[-1]}", patient_page(patient, screening))
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


def funnel_end(screening: Screening) -> tuple[int, int, int]:
    """The funnel's last steps: patients left after every criterion (none not met), those set
    aside as incomplete (a criterion unknown), and the eligible, who remain."""
    left = sum(p.verdict != "ineligible" for p in screening.patients)
    incomplete = sum(p.verdict == "incomplete" for p in screening.patients)
    return left, incomplete, left - incomplete


def _index(screening: Screening, names: list[str], sections: tuple[str, ...] = ()) -> str:
    nav = [("patients", "Patients"), ("funnel", "Screening funnel"),
           ("outcomes", "Outcomes per criterion"), ("worklist", "Data to collect")]
    if screening.errors:
        nav.append(("errors", "Inputs not read"))
    title = f"{terminology().trial_name} screening report"
    parts = [f"<h1>{h(title)}</h1><p>As of {screening.as_of} (screening window "
             f"{screening.window_days} days), protocol {h(screening.protocol_version)}.</p>",
             "<nav>" + "".join(f"<a href=\"#{a}\">{t}</a>" for a, t in nav) + "</nav>",
             _counts_html(screening),
             "<section id=\"patients\"><h2>Patients</h2>", _patients_html(screening, names),
             "</section><section id=\"funnel\"><h2>Screening funnel</h2>",
             _funnel_svg(screening), _funnel_html(screening),
             "</section><section id=\"outcomes\"><h2>Outcomes per criterion</h2>",
             _outcomes_svg(screening), _outcomes_html(screening),
             "</section><section id=\"worklist\"><h2>Data to collect</h2>",
             _worklist_html(screening), "</section>", *sections]
    if screening.errors:
        parts.append("<section id=\"errors\"><h2>Inputs that could not be read</h2><ul>"
                     + "".join(f"<li>{h(e.source)}{', record ' + h(e.record) if e.record else ''}"
                               f"{', field ' + h(e.field) if e.field else ''}: {h(e.message)}"
                               "</li>" for e in screening.errors) + "</ul></section>")
    return page(title, "".join(parts))


def _counts_html(screening: Screening) -> str:
    """Patients per verdict with their shares: the numbers the table and the funnel repeat."""
    total = len(screening.patients)
    verdicts = Counter(p.verdict for p in screening.patients)
    rows = "".join(f"<tr><td class=\"{verdict_class(v)}\">{v}</td><td class=\"n\">"
                   f"{verdicts[v]}</td><td class=\"n\">{share(verdicts[v], total)}</td></tr>"
                   for v in VERDICTS)
    unread = (f"<p>{len(screening.errors)} input(s) could not be read: <a href=\"#errors\">"
              "see below</a>.</p>" if screening.errors else "")
    return (f"<section id=\"summary\"><table class=\"counts\"><tr><th>verdict</th>"
            f"<th>patients</th><th>share</th></tr>{rows}<tr><th>screened</th><th class=\"n\">"
            f"{total}</th><th class=\"n\">{share(total, total)}</th></tr></table>{unread}"
            "</section>")


def _patients_html(screening: Screening, names: list[str]) -> str:
    """One row per patient, eligible first, then incomplete, then ineligible (input order
    within each): the verdict, the deciding criteria by id and name, what to do next."""
    order = {v: i for i, v in enumerate(VERDICTS)}
    ranked = sorted(zip(screening.patients, names, strict=True),
                    key=lambda pair: order[pair[0].verdict])
    rows = "".join(
        f"<tr><td><a href=\"patients/{html.escape(name)}\">{h(p.id)}</a>"
        f"<div class=\"source\">{h(p.source)}</div></td>"
        f"<td class=\"{verdict_class(p.verdict)}\">{p.verdict}</td>"
        f"<td>{folded([named(c) for c in deciding(p)], escape=False) or 'none'}</td>"
        f"<td>{folded(next_steps(p, screening.window_days))}</td></tr>" for p, name in ranked)
    return (f"<div class=\"wide\"><table class=\"patients\"><tr><th>patient</th>"
            f"<th>verdict</th><th>deciding criteria</th><th>what next</th></tr>{rows}"
            "</table></div>")


def _funnel_html(screening: Screening) -> str:
    total = len(screening.patients)
    rows = "".join(f"<tr><td>{named(s.criterion)}</td><td class=\"n\">{s.removed or ''}</td>"
                   f"<td class=\"n\">{s.remaining}</td><td class=\"n\">"
                   f"{share(s.remaining, total)}</td></tr>" for s in funnel(screening))
    left, incomplete, eligible = funnel_end(screening)
    end = (f"<tr><td>set aside as incomplete (a criterion unknown: data to collect)</td>"
           f"<td class=\"n\">{incomplete or ''}</td><td class=\"n\">{eligible}</td><td "
           f"class=\"n\">{share(eligible, total)}</td></tr><tr><th>eligible</th><th></th>"
           f"<th class=\"n\">{eligible}</th><th class=\"n\">{share(eligible, total)}</th></tr>")
    return (f"<p class=\"note\">Each patient is counted once, at the first criterion in "
            f"protocol order they do not meet. The {left} who meet every criterion that could "
            f"be judged include {incomplete} incomplete (data missing for a criterion: never "
            f"eligible on missing data), which leaves the {eligible} eligible.</p>"
            f"<div class=\"wide\"><table class=\"funnel\"><tr><th>criterion</th><th>removed"
            f"</th><th>remaining</th><th>of screened</th></tr><tr><td>screened</td><td></td>"
            f"<td class=\"n\">{total}</td><td class=\"n\">{share(total, total)}</td></tr>"
            f"{rows}{end}</table></div>")


def _outcomes_html(screening: Screening) -> str:
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    rows = "".join(f"<tr><td>{named(cid)}</td>" + "".join(
        f"<td class=\"n\">{counts[o]}</td>" for o in OUTCOMES) + "</tr>"
        for cid, counts in outcome_table(screening).items())
    return (f"<div class=\"wide\"><table class=\"outcomes\"><tr><th>criterion</th>{head}"
            f"</tr>{rows}</table></div>")


def _worklist_html(screening: Screening) -> str:
    rows = [(p.id, c.id, c.to_collect or "") for p in screening.patients
            if p.verdict == "incomplete" for c in p.criteria if c.outcome == "unknown"]
    if not rows:
        return "<p>Nothing to collect.</p>"
    body = "".join(f"<tr><td>{h(p)}</td><td>{named(c)}</td><td>{folded([t])}</td></tr>"
                   for p, c, t in rows)
    return (f"<div class=\"wide\"><table class=\"worklist\"><tr><th>patient</th>"
            f"<th>criterion</th><th>to collect</th></tr>{body}</table></div>")


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def require_charts() -> None:
    """Refuse at once, naming the extra to install, when the charts' library is missing
    (before a long screening, not after it)."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise EnvironmentFailure(REPORT_EXTRA) from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "ql1706kg"  # stable ids: same input, same file
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt

    return plt


def _funnel_svg(screening: Screening) -> str:
    plt = _pyplot()
    steps = [s for s in funnel(screening) if s.removed]
    _left, incomplete, eligible = funnel_end(screening)
    labels = (["screened"] + [_plain(f"after {s.criterion} ({criterion_name(s.criterion)})")
                              for s in steps]
              + [f"eligible ({incomplete} incomplete set aside)" if incomplete else "eligible"])
    values = [len(screening.patients)] + [s.remaining for s in steps] + [eligible]
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(labels) + 1))
    for index, bar in enumerate(axes.barh(labels[::-1], values[::-1], color="#1565c0")):
        bar.set_gid(f"bar-{index}")
    for y, value in enumerate(values[::-1]):
        axes.text(value, y, f" {value}", va="center")
    _whole_patients(axes)
    axes.set_xlabel("patients remaining")
    axes.set_title("Screening funnel (the criteria that removed patients, then the incomplete)")
    return _svg(figure)


def _outcomes_svg(screening: Screening) -> str:
    plt = _pyplot()
    table = outcome_table(screening)
    criteria = list(table)[::-1]
    labels = [_plain(f"{c} ({criterion_name(c)})") for c in criteria]
    figure, axes = plt.subplots(figsize=(8, 0.3 * len(criteria) + 1.2))
    left = [0] * len(criteria)
    for outcome in OUTCOMES:
        counts = [table[c][outcome] for c in criteria]
        bars = axes.barh(labels, counts, left=left, color=COLOURS[outcome], label=outcome)
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
    """A criterion's id and name as a chart label: matplotlib reads ``$…$`` as mathematics."""
    return str(text).replace("$", r"\$")


def _whole_patients(axes) -> None:
    """Patients are counted whole: integer ticks only, from 0 (no "2.5 patients"); the plot
    area is marked (``plot-area``) so a test can check the geometry of the SVG."""
    from matplotlib.ticker import MaxNLocator

    axes.patch.set_gid("plot-area")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlim(left=0)
