"""The medications current on the assessment date, and their daily dose in a reference drug's
equivalents (``ql:CurrentMedicationSelection``, protocol/equivalents.py).

A medication is current when its status says it is being taken (the selection's
``ql:selectsStatus``: active, in progress) and it has no end on or before the assessment date;
a status the selection says leaves it open (``ql:possiblyCurrentStatus``: on hold) or an end
date that straddles the assessment date makes it current only possibly. A selection without a
table links the patient to each current medication. A selection with a table writes one node
(``ql:DerivedValue``) with the sum over the current medications of their lifted amounts a day
(pipeline/lift/doses.py) times each drug's factor: ``ql:dailyDose``, one value per part of the
day, ``ql:unscheduledDose``. A drug the table does not name, a dose not recorded, a medication
that is current only possibly: the amount is an interval reaching as far as it may, so a limit
on it is decided only when every reading agrees (the shapes compare it; no limit is here).
"""

from __future__ import annotations

from rdflib import Literal, URIRef

from ...protocol.equivalents import CurrentMedication, parse_token
from ...protocol.namespaces import PROV, QL, RDF
from ..dosage import UNKNOWN, ZERO, _up_to, add, larger
from ..uncertain import Interval, interval_of, note, possibly, put, span_of
from .base import DeriveBase


class DoseDeriver(DeriveBase):
    """The current-medication selections of the protocol, for one patient."""

    def derive_current_doses(self) -> None:
        selections = self.term.doses.selections
        if not selections:
            return
        for selection in selections:
            self._current(selection)

    def _currency(self, selection: CurrentMedication, fact: URIRef) -> str | None:
        """'yes', 'maybe' or None (not current on the assessment date)."""
        status = self.g.value(fact, QL.factStatus)
        said = str(status) if status is not None else ""
        if said in selection.statuses:
            verdict = "yes"
        elif said in selection.possible_statuses:
            verdict = "maybe"
        else:
            return None
        if (fact, QL.onlyPossiblyVia, QL.hasFact) in self.g:
            verdict = "maybe"  # a start that may lie after the assessment date (cut.py)
        end = span_of(self.g.value(fact, QL.factEnd))
        if end is not None:
            if end.last <= self.a.as_of:
                return None
            if end.first <= self.a.as_of:
                verdict = "maybe"
        return verdict

    def _current(self, selection: CurrentMedication) -> None:
        g, p = self.g, self.p
        kinds = set(selection.kinds)
        found = [(f, c) for f in g.objects(p, QL.hasFact) if isinstance(f, URIRef)
                 and g.value(f, QL.factKind) in kinds
                 and (c := self._currency(selection, f)) is not None]
        if selection.table is None:
            for fact, currency in found:
                g.add((p, selection.iri, fact))
                if currency == "maybe":
                    possibly(g, fact, selection.iri, "whether it is still taken is not known")
            return
        complete = all((p, QL.recordedComplete, k) in g for k in selection.kinds)
        if found or complete:
            self._sum(selection, found, complete)

    def _sum(self, selection: CurrentMedication, found: list, complete: bool) -> None:
        """One node: the sum of the current medications' amounts (none: zero, when their
        kinds are recorded complete; while they are not, more may be taken: no upper end)."""
        g, p, table = self.g, self.p, selection.table
        assert table is not None
        node = URIRef(f"{p}/dose/{str(selection.iri).rsplit('#', 1)[-1]}")
        parts = [part.iri for spec in self.term.doses.kinds.values() for part in spec.parts]
        daily = Interval.point(ZERO)
        amounts: dict = {part: Interval.point(ZERO) for part in parts}
        single: Interval | None = None
        for fact, currency in sorted(found):
            codes = [t for c in g.objects(fact, QL.drugCode) if (t := parse_token(c))]
            drug = table.of(codes)
            factor = drug.factor if drug is not None else None
            shown = drug.label if drug is not None else _shown(g, fact)
            if drug is None:
                note(g, node, f"no {table.label} is known for {shown}")

            def scaled(value, factor=factor, maybe=currency == "maybe") -> Interval:
                amount = interval_of(value)
                if amount is None or factor is None:
                    return UNKNOWN
                amount = amount.scaled(factor)
                return _up_to(amount) if maybe else amount

            daily = add(daily, scaled(g.value(fact, QL.dailyDose)))
            for part in parts:
                amounts[part] = add(amounts[part], scaled(g.value(fact, part)))
            if g.value(fact, QL.unscheduledDose) is not None:
                single = larger(single, scaled(g.value(fact, QL.unscheduledDose)))
            for said in g.objects(fact, QL.uncertaintyNote):
                note(g, node, f"{shown}: {said}")
            if currency == "maybe":
                note(g, node, f"{shown}: whether it is still taken is not known")
            g.add((node, PROV.wasDerivedFrom, fact))
        if not complete:
            note(g, node, "the list of current medications is not recorded complete")
            daily = Interval(daily.lo, None, daily.lo_open)
            amounts = {part: Interval(a.lo, None, a.lo_open) for part, a in amounts.items()}
        g.add((p, selection.iri, node))
        g.add((node, RDF.type, QL.DerivedValue))
        g.add((node, QL.doseUnitLabel, Literal(f"{table.unit} {table.label}")))
        put(g, node, QL.dailyDose, daily)
        for part, amount in amounts.items():
            put(g, node, part, amount)
        put(g, node, QL.unscheduledDose, single or Interval.point(ZERO))


def _shown(g, fact: URIRef) -> str:
    said = g.value(fact, QL.testText)
    return str(said) if said is not None else "a medication"


__all__ = ["DoseDeriver"]
