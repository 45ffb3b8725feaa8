"""The pieces of the HTML report: the page around a body, text from input escaped, criteria
named in words beside their ids, long text folded, and one page per patient.

Why folded: an explanation, its evidence and its limits run to hundreds of words; a
coordinator scans the first sentence and opens the rest (``<details>``, no script needed).
"""

from __future__ import annotations

import html

from ..pipeline.results import PatientResult, Screening
from ..protocol.terminology import terminology
from .render import what_if_lines
from .visible import visible

COLOURS = {"met": "#2e7d32", "not_met": "#c62828", "unknown": "#f9a825",
           "not_applicable": "#9e9e9e"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;
color:#222;line-height:1.4}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid
#ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}.met{color:#2e7d32}
.not_met{color:#c62828;font-weight:bold}.unknown{color:#a06f00;font-weight:bold}
.not_applicable{color:#777}svg{max-width:100%;height:auto}nav a{margin-right:1rem}
.wide{overflow-x:auto}.source{color:#666;font-size:.85em;word-break:break-all}
details>summary{cursor:pointer}details ul{margin:.25rem 0;padding-left:1.2rem}
.note{color:#555;font-size:.9em;max-width:60rem}"""
FOLD_CHARS = 110  # longer text is folded: its first sentence shown, the rest on a click
VERDICTS = ("eligible", "incomplete", "ineligible")  # the order a coordinator acts in


def h(text: object) -> str:
    """Text from input in HTML: control characters made visible, then escaped."""
    return html.escape(visible(text))


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
            f"name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>"
            f"{h(title)}</title><style>{STYLE}</style></head><body>{body}"
            "</body></html>\n")


def criterion_name(criterion_id: str) -> str:
    """A criterion's short name in words (the id when the protocol gives none)."""
    crit = terminology().criteria.get(criterion_id)
    return crit.get("name", criterion_id) if crit else criterion_id


def named(criterion_id: str) -> str:
    """``<b>A9.2-X</b> X``: the id, then its name in words, escaped."""
    name = criterion_name(criterion_id)
    return f"<b>{h(criterion_id)}</b>" + (f" {h(name)}" if name != criterion_id else "")


def share(part: int, total: int) -> str:
    return f"{100 * part / total:.0f} %" if total else "–"


def verdict_class(verdict: str) -> str:
    return {"eligible": "met", "ineligible": "not_met", "incomplete": "unknown"}[verdict]


SUMMARY_CHARS = 40  # a folded text's summary: whole sentences until at least this long


def first_sentence(text: str) -> str:
    """The text's first sentences, enough to say something (``Met.`` alone says too little):
    an explanation's quotation of the protocol (``A2 "Age …" ``: a criterion id, then the
    quoted text) is left to the details."""
    if text.split(" ", 1)[0] in terminology().criteria and '" ' in text:
        text = text.split('" ', 1)[1]
    head, rest = "", text
    while rest and len(head) < SUMMARY_CHARS:
        sentence, _, rest = rest.partition(". ")
        head = f"{head} {sentence}".strip()
        head += "." if rest and not head.endswith(".") else ""
    return head


def folded(lines: list[str], escape: bool = True) -> str:
    """Lines of text: shown whole when short, else the first (cut at its first sentences) as
    the summary of a ``<details>`` holding all of them."""
    shown = [h(line) for line in lines] if escape else list(lines)
    if not shown:
        return ""
    if len(lines) == 1 and len(lines[0]) <= FOLD_CHARS:
        return shown[0]
    head = first_sentence(lines[0]) if escape else shown[0]
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    return (f"<details><summary>{h(head) if escape else head}{more}</summary><ul>"
            + "".join(f"<li>{line}</li>" for line in shown) + "</ul></details>")


def deciding(patient: PatientResult) -> list[str]:
    """The criteria that decide the verdict: those not met, else those unknown."""
    return ([c.id for c in patient.criteria if c.outcome == "not_met"]
            or [c.id for c in patient.criteria if c.outcome == "unknown"])


def next_steps(patient: PatientResult, window_days: int) -> list[str]:
    """What to do next, one line each: what to collect for each unknown criterion of an
    incomplete patient; what would change the verdict of an ineligible one; until when an
    eligible verdict holds."""
    if patient.verdict == "incomplete":
        return [f"{c.id}: collect {c.to_collect}" for c in patient.criteria
                if c.outcome == "unknown" and c.to_collect]
    lines = [f"{c.id}: {c.change_needed}" for c in patient.criteria if c.change_needed]
    if patient.eligible_from is not None:
        lines.append(f"New screening laboratory tests from {patient.eligible_from}.")
    if patient.verdict == "eligible" and patient.valid_until is not None:
        lines.append(f"Valid until {patient.valid_until} ({window_days}-day window): screen "
                     "again after it.")
    if not lines and patient.verdict == "ineligible":
        lines.append("Nothing on record could change it.")
    return lines


def what_would_change(patient: PatientResult, screening: Screening) -> str:
    """What a patient's page opens with: the criteria not met or unknown, and what would
    change the verdict (values against their limits, what to collect, until when, from when)."""
    open_ = [c for c in patient.criteria if c.outcome in ("not_met", "unknown")]
    if open_:
        items = "".join(
            f"<li>{named(c.id)} <span class=\"{c.outcome}\">{c.outcome}</span>: "
            + h(c.change_needed or c.explanation.split('" ', 1)[-1])
            + (f"<br>To collect: {h(c.to_collect)}" if c.to_collect else "") + "</li>"
            for c in open_)
        listed = f"<ul class=\"open\">{items}</ul>"
    else:
        listed = "<p>Every criterion is met or not applicable.</p>"
    extra = [line for line in what_if_lines(patient, screening.window_days)
             if not line.startswith(tuple(f"{c.id}: " for c in open_))]
    lines = "".join(f"<p>{h(line)}</p>" for line in extra)
    return (f"<section id=\"what-would-change\"><h2>What would change the verdict</h2>"
            f"{listed}{lines}</section>")


def patient_page(patient: PatientResult, screening: Screening) -> str:
    """One patient: the verdict, what would change it, then every criterion by id and name
    with its outcome and its explanation folded (evidence and limits inside)."""
    rows = "".join(
        f"<tr><td>{h(c.id)}</td><td>{h(criterion_name(c.id))}</td>"
        f"<td class=\"{c.outcome}\">{c.outcome}</td><td>"
        + folded([c.explanation, *(f"Evidence: {e}" for e in c.evidence),
                  *(f"Limit: {limit}" for limit in c.limits)])
        + "</td></tr>" for c in patient.criteria)
    body = (f"<p><a href=\"../index.html\">all patients</a></p><h1>{h(patient.id)}"
            f"</h1><p>Verdict: <span class=\"{verdict_class(patient.verdict)}\">"
            f"{patient.verdict}</span> as of {screening.as_of}; source "
            f"<span class=\"source\">{h(patient.source)}</span></p>"
            f"{what_would_change(patient, screening)}"
            f"<h2>All criteria</h2><div class=\"wide\"><table><tr><th>criterion</th>"
            f"<th>name</th><th>outcome</th><th>explanation</th></tr>{rows}</table></div>")
    return page(f"{terminology().trial_name} screening: {patient.id}", body)
