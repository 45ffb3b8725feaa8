"""Counts of prior regimens by setting (``ql:RegimenCount``, protocol/regimen_counts.py).

Each declared count links the patient to a ``ql:RegimenCountValue`` node whose
``ql:countValue`` shapes compare. Therapies started on the same day form one regimen. A regimen
counts when one of its drugs is of a counted class and its setting is a counted one. Its setting
is read first from the date the declared setting begins (a regimen started on or after the
first metastasis is in the metastatic setting, one started before it is not), then from the
setting recorded on the therapy. What cannot be decided may count: a regimen whose setting is
undetermined, whose only candidate drugs are unrecognised, whose start is not a known day (it
may belong to another regimen, or not), or which may have started after the assessment date.
The count is then an interval: its lower end what certainly counts, its upper end what may, so
that a limit is met only when every reading of the record meets it. No history on record, no
value: the shapes say unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.term import Node

from ...protocol.namespaces import PROV, QL, RDF, RDFS
from ...protocol.regimen_counts import RegimenCount
from ..uncertain import Interval, Span, note, put, span_of
from .base import DeriveBase

CERTAIN, POSSIBLE, NO = "certain", "possible", "no"


@dataclass
class Regimen:
    """The therapies of one regimen: their start, and what the record says of each."""

    start: Span | None
    therapies: list[Node] = field(default_factory=list)
    alone: bool = True  # its start is a known day (a separate regimen for certain)


class RegimenDeriver(DeriveBase):
    """The declared regimen counts, for one patient."""

    def derive_regimen_counts(self) -> None:
        if not self.term.regimen_counts or self.g.value(self.p, QL.priorTherapyRecorded) is None:
            return
        regimens = self._regimens()
        for count in self.term.regimen_counts:
            self._count(count, regimens)

    def _regimens(self) -> list[Regimen]:
        """Therapies grouped by start day; one not started on a known day is its own regimen,
        which may or may not be another's (``alone`` False when another's day is possible)."""
        by_day: dict[date, Regimen] = {}
        loose: list[Regimen] = []
        for therapy in sorted(self.g.objects(self.p, QL.hadPriorTherapy), key=str):
            start = span_of(self.g.value(therapy, QL.startDate))
            if start is not None and start.exact:
                by_day.setdefault(start.first, Regimen(start)).therapies.append(therapy)
            else:
                loose.append(Regimen(start, [therapy]))
        for regimen in loose:
            regimen.alone = not any(regimen.start is None or regimen.start.first <= day <=
                                    regimen.start.last for day in by_day)
        return [by_day[day] for day in sorted(by_day)] + loose

    def _count(self, count: RegimenCount, regimens: list[Regimen]) -> None:
        g = self.g
        node = URIRef(f"{self.p}/{str(count.iri).rsplit('#', 1)[-1]}")
        g.add((self.p, count.iri, node))
        g.add((node, RDF.type, QL.RegimenCountValue))
        begins = self._begins(count)
        low = high = 0
        for regimen in regimens:
            drugs = self._drugs(count, regimen)
            setting, why = self._setting(count, regimen, begins)
            possibly_later = any(g.value(t, QL.onlyPossiblyVia) is not None
                                 for t in regimen.therapies)
            if NO in (drugs, setting):
                continue
            high += 1
            if drugs == setting == CERTAIN and regimen.alone and not possibly_later:
                low += 1
                continue
            for therapy in regimen.therapies:
                g.add((node, PROV.wasDerivedFrom, therapy))
            note(g, node, self._why(regimen, drugs, why, possibly_later))
        put(g, node, QL.countValue, Interval(Decimal(low), Decimal(high)), integer=True)

    def _begins(self, count: RegimenCount) -> Span | None:
        """The days the declared setting may have begun on: from the earliest a dated fact (or
        an undated one: any day) allows to the earliest dated fact's day."""
        if count.begins_with is None:
            return None
        spans = [span_of(self.g.value(n, QL.effectiveDate))
                 for n in self.g.objects(self.p, count.begins_with)]
        dated = [s for s in spans if s is not None]
        if not spans:
            return None
        last = min((s.last for s in dated), default=self.a.as_of)
        first = date.min if len(dated) < len(spans) else min(s.first for s in dated)
        return Span(first, last)

    def _drugs(self, count: RegimenCount, regimen: Regimen) -> str:
        """Whether a drug of the regimen is of a counted class (one not identified: may be)."""
        g, found = self.g, NO
        for therapy in regimen.therapies:
            for drug in g.objects(therapy, QL.includesDrug):
                types = set(g.objects(drug, RDF.type))
                if any(cls in types for cls in count.drug_classes):
                    return CERTAIN
                if QL.UnrecognisedDrug in types:
                    found = POSSIBLE
        return found

    def _setting(self, count: RegimenCount, regimen: Regimen, begins: Span | None
                 ) -> tuple[str, str]:
        """Whether the regimen was given in a counted setting, and why not decided."""
        start = regimen.start
        if begins is not None and start is not None and count.date_setting is not None:
            if start.first >= begins.last:
                return (CERTAIN if count.date_setting in count.settings else NO), ""
            if start.last < begins.first and count.settings == {count.date_setting}:
                return NO, ""
        recorded = {s for t in regimen.therapies for s in self.g.objects(t, QL.therapySetting)}
        if len(recorded) == 1:
            return (CERTAIN if recorded <= count.settings else NO), ""
        if len(recorded) > 1:
            return POSSIBLE, "its therapies record different settings"
        if start is None:
            return POSSIBLE, "its start date and its setting are not recorded"
        if begins is None:
            return POSSIBLE, "its setting is not recorded"
        return POSSIBLE, (f"its setting is not recorded and its start ({start}) cannot be "
                          f"placed before or after {begins.last}")

    def _why(self, regimen: Regimen, drugs: str, why: str, possibly_later: bool) -> str:
        """Why a regimen may or may not count, in words."""
        names = " + ".join(_label(self.g, t) for t in regimen.therapies)
        reasons = [why] if why else []
        if drugs == POSSIBLE:
            reasons.append("a drug of it is not recognised")
        if not regimen.alone:
            reasons.append("its start is not a known day, so it may be part of another regimen")
        if possibly_later:
            reasons.append("it may have started after the assessment date")
        return f"the regimen {names} may or may not count: " + "; ".join(reasons)


def _label(g, therapy: Node) -> str:
    label = g.value(therapy, RDFS.label)
    start = g.value(therapy, QL.startDate)
    text = str(label) if isinstance(label, Literal) else "(unnamed)"
    return f"{text} from {start}" if start is not None else text
