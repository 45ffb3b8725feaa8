"""Two screenings of the same inputs under two protocols (``ql1706kg compare``, and the report
given ``--against``): which patients' verdict or criterion outcomes change, with both outcomes
of each changed criterion, and how many patients each verdict has before and after (the
feasibility question of an amendment).

"Before" is the protocol compared against (``--against``, by default the bundled one), "after"
the amended one (``--protocol``). Patients are matched by their source and id; a patient read
under one protocol only (an input that could not be read under the other) is listed as such.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from ..pipeline.results import PatientResult, Screening
from .render import dumps
from .visible import visible

VERDICTS = ("eligible", "ineligible", "incomplete")


@dataclass(frozen=True)
class CriterionChange:
    id: str
    before: str
    after: str


@dataclass(frozen=True)
class PatientChange:
    id: str
    source: str
    verdict_before: str | None  # None: not screened under that protocol
    verdict_after: str | None
    criteria: tuple[CriterionChange, ...]


@dataclass
class Comparison:
    """What changes from ``before`` to ``after`` (see the module docstring)."""

    before: Screening
    after: Screening
    before_name: str
    after_name: str
    changes: list[PatientChange] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Patients per verdict, before and after."""
        return {name: {v: Counter(p.verdict for p in s.patients)[v] for v in VERDICTS}
                for name, s in (("before", self.before), ("after", self.after))}

    def as_dict(self) -> dict:
        return {
            "as_of": self.after.as_of.isoformat(), "window_days": self.after.window_days,
            "before": {"protocol": self.before_name,
                       "protocol_version": self.before.protocol_version,
                       "protocol_hash": self.before.protocol_hash,
                       "patients": len(self.before.patients)},
            "after": {"protocol": self.after_name,
                      "protocol_version": self.after.protocol_version,
                      "protocol_hash": self.after.protocol_hash,
                      "patients": len(self.after.patients)},
            "counts": self.counts,
            "changed": [{"id": c.id, "source": c.source, "verdict_before": c.verdict_before,
                         "verdict_after": c.verdict_after,
                         "criteria": [{"id": k.id, "before": k.before, "after": k.after}
                                      for k in c.criteria]} for c in self.changes],
            "errors": [e.as_dict() for e in self.after.errors]}


def compare(before: Screening, after: Screening, before_name: str = "bundled",
            after_name: str = "amended") -> Comparison:
    """The patients whose verdict or any criterion outcome differs, in input order."""
    result = Comparison(before, after, before_name, after_name)
    earlier = {(p.source, p.id): p for p in before.patients}
    seen = set()
    for patient in after.patients:
        key = (patient.source, patient.id)
        seen.add(key)
        change = _change(earlier.get(key), patient)
        if change is not None:
            result.changes.append(change)
    for key, patient in earlier.items():
        gone = _change(patient, None) if key not in seen else None
        if gone is not None:
            result.changes.append(gone)
    return result


def _change(before: PatientResult | None, after: PatientResult | None) -> PatientChange | None:
    one = after if after is not None else before
    assert one is not None
    outcomes_before = {c.id: c.outcome for c in before.criteria} if before else {}
    outcomes_after = {c.id: c.outcome for c in after.criteria} if after else {}
    order = [c.id for c in one.criteria]
    criteria = tuple(CriterionChange(cid, outcomes_before.get(cid, "-"),
                                     outcomes_after.get(cid, "-"))
                     for cid in order if outcomes_before.get(cid) != outcomes_after.get(cid))
    verdicts = (before.verdict if before else None, after.verdict if after else None)
    if not criteria and verdicts[0] == verdicts[1]:
        return None
    return PatientChange(one.id, one.source, *verdicts, criteria)


def comparison_json(comparison: Comparison) -> str:
    return dumps(comparison.as_dict(), indent=True).decode("utf-8") + "\n"


def comparison_text(comparison: Comparison) -> str:
    c = comparison
    lines = [f"Comparison as of {c.after.as_of} (screening window {c.after.window_days} days)",
             f"  before: {visible(c.before_name)} (protocol {visible(c.before.protocol_version)}, "
             f"content {c.before.protocol_hash})",
             f"  after:  {visible(c.after_name)} (protocol {visible(c.after.protocol_version)}, "
             f"content {c.after.protocol_hash})", "",
             f"{'verdict':<12}{'before':>8}{'after':>8}{'change':>8}"]
    counts = c.counts
    for verdict in VERDICTS:
        b, a = counts["before"][verdict], counts["after"][verdict]
        lines.append(f"{verdict:<12}{b:>8}{a:>8}{a - b:>+8}")
    lines += ["", f"{len(c.changes)} patient(s) change"
              + (":" if c.changes else " (no verdict or criterion outcome differs)")]
    for change in c.changes:
        verdict = (change.verdict_before or "not screened").upper()
        if change.verdict_after != change.verdict_before:
            verdict += f" -> {(change.verdict_after or 'not screened').upper()}"
        lines.append(f"Patient {visible(change.id)}  ({visible(change.source)})  {verdict}")
        lines += [f"  {k.id:<12}{k.before} -> {k.after}" for k in change.criteria]
    return "\n".join(lines) + "\n"


def comparison_html(comparison: Comparison) -> str:
    """The report's section: counts before and after, then the patients that change."""
    c = comparison
    counts = c.counts
    rows = "".join(f"<tr><td>{v}</td><td>{counts['before'][v]}</td><td>{counts['after'][v]}"
                   f"</td><td>{counts['after'][v] - counts['before'][v]:+d}</td></tr>"
                   for v in VERDICTS)
    items = "".join(
        f"<li><b>{_h(ch.id)}</b> ({_h(ch.source)}): {_h(ch.verdict_before or 'not screened')}"
        f" &rarr; {_h(ch.verdict_after or 'not screened')}<ul>"
        + "".join(f"<li>{_h(k.id)}: {_h(k.before)} &rarr; {_h(k.after)}</li>"
                  for k in ch.criteria) + "</ul></li>" for ch in c.changes)
    return (f"<h2>Protocol comparison</h2><p>Before: {_h(c.before_name)} (protocol "
            f"{_h(c.before.protocol_version)}, content {_h(c.before.protocol_hash)}); after: "
            f"{_h(c.after_name)} (protocol {_h(c.after.protocol_version)}, content "
            f"{_h(c.after.protocol_hash)}).</p><table class=\"compare\"><tr><th>verdict</th>"
            f"<th>before</th><th>after</th><th>change</th></tr>{rows}</table>"
            f"<p>{len(c.changes)} patient(s) change.</p><ul class=\"changes\">{items}</ul>")


def _h(text: object) -> str:
    return html.escape(visible(text))
