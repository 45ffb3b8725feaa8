"""Fact selections (``ql:FactSelection``, protocol/fact_kinds.py): link the patient to the
facts each criterion reads, by the selection's own property, so shapes stay comparisons.

A selection keeps the facts of its kinds whose status and value count and whose date lies in
its window before its anchor (the ICF signature, the assessment date, or the date value of a
kind such as the planned first dose). A course's date is its last day: its end, or the
assessment date while it is ongoing. Days are calendar days, both ends included.

A selection may also require attribute values (``ql:selectsAttribute``,
protocol/fact_attributes.py): a fact that says another value does not count.

What cannot be decided is said, never guessed (``ql:selectionUndecided``): an undated or
partially dated fact that may or may not lie in the window, a fact in the window that does
not say an attribute the selection needs (nor a readable value of it), or a window whose anchor
is not on record while a fact could still fall in it (a planned first dose lies on or after the
assessment date, so a fact more than the window's days before that date is outside it for
every possible anchor, and decides nothing).
"""

from __future__ import annotations

from datetime import date, timedelta

from rdflib import Literal, URIRef

from ...protocol.fact_kinds import Selection
from ...protocol.namespaces import QL
from ..uncertain import span_of
from .base import DeriveBase

ONGOING = frozenset({"active", "in-progress", "ongoing", "recurrence", "relapse"})


class SelectionDeriver(DeriveBase):
    """The fact selections of the protocol, for one patient."""

    def derive_selections(self) -> None:
        if not self.term.selections:
            return
        facts = list(self.g.objects(self.p, QL.hasFact))
        by_kind: dict[URIRef, list[URIRef]] = {}
        for fact in facts:
            kind = self.g.value(fact, QL.factKind)
            if isinstance(kind, URIRef) and isinstance(fact, URIRef):
                by_kind.setdefault(kind, []).append(fact)
        for selection in self.term.selections:
            self._select(selection, by_kind)

    def _anchor(self, anchor: URIRef | None, by_kind: dict) -> date | None:
        """The anchor's date (None: not on record, a planned date or an ICF not signed yet
        or not dated to the day: no windowed fact is decided by a date guessed for it)."""
        if anchor is None or anchor == QL.AssessmentAnchor:
            return self.a.as_of
        if anchor == QL.ConsentAnchor:
            days = [s.first for c in self.g.objects(self.p, QL.informedConsent)
                    if (s := span_of(self.g.value(c, QL.signedOn))) is not None and s.exact]
            return min(days) if days else None
        values = [v.toPython() for f in by_kind.get(anchor, ())
                  if isinstance(v := self.g.value(f, QL.factValue), Literal)]
        days = [v for v in values if isinstance(v, date)]
        return max(days) if days else None

    def _day(self, fact: URIRef):
        """The span of days a fact counts on: its end, or the assessment date while ongoing."""
        status = self.g.value(fact, QL.factStatus)
        end = span_of(self.g.value(fact, QL.factEnd))
        if end is not None:
            return end
        start = span_of(self.g.value(fact, QL.effectiveDate))
        if status is not None and str(status) in ONGOING and start is not None:
            return span_of(self.a.as_of) or start
        return start

    def _counts(self, selection: Selection, fact: URIRef) -> bool | None:
        """Whether the fact counts for the selection (None: it may; an attribute the
        selection needs is not said)."""
        status = self.g.value(fact, QL.factStatus)
        if selection.statuses and (status is None or str(status) not in selection.statuses):
            return False
        if selection.values:
            value = self.g.value(fact, QL.factValue)
            shown = str(value).casefold() if value is not None else None
            if shown not in selection.values:
                return False
        return self._attributes_count(selection, fact) if selection.attributes else True

    def _attributes_count(self, selection: Selection, fact: URIRef) -> bool | None:
        said = {str(self.g.value(node, QL.attributeKey)): str(value)
                for node in self.g.objects(fact, QL.factAttribute)
                if (value := self.g.value(node, QL.attributeValue)) is not None}
        maybe = False
        for key, wanted in selection.attributes:
            if key not in said:
                maybe = True
            elif said[key] not in wanted:
                return False
        return None if maybe else True

    def _select(self, selection: Selection, by_kind: dict) -> None:
        g, p = self.g, self.p
        counted = [(f, self._counts(selection, f)) for k in selection.kinds
                   for f in by_kind.get(k, ())]
        candidates = [f for f, counts in counted if counts is not False]
        maybe = {f for f, counts in counted if counts is None}
        windowed = selection.max_days is not None or selection.min_days is not None
        chosen: list[tuple[date, URIRef]] = []
        undecided = False
        anchor = self._anchor(selection.anchor, by_kind) if windowed else None
        for fact in candidates:
            span = self._day(fact)
            if not windowed:
                chosen.append((span.last if span else date.min, fact))
                continue
            if span is None:
                undecided = True
                continue
            if anchor is None:  # not on record: a planned anchor falls on or after as-of, an
                # ICF on any day (before, on or after it): every fact it could reach is undecided
                lo = self.a.as_of - timedelta(days=selection.max_days or 0)
                if (selection.max_days is None or span.last >= lo
                        or selection.anchor == QL.ConsentAnchor):
                    undecided = True
                continue
            inside = [self._inside(selection, anchor, day) for day in (span.first, span.last)]
            if all(inside):
                chosen.append((span.last, fact))
            elif any(inside) or (span.first < anchor - timedelta(
                    days=selection.max_days or 0) < span.last):
                undecided = True
        # in the window, but an attribute that decides whether it counts is not said
        unsaid = [day for day, fact in chosen if fact in maybe]
        chosen = [(day, fact) for day, fact in chosen if fact not in maybe]
        if selection.most_recent and chosen:
            chosen = [max(chosen, key=lambda item: item[0])]
        for _day, fact in chosen:
            g.add((p, selection.iri, fact))
        if (undecided and not (selection.most_recent and chosen)) or (unsaid and not (
                selection.most_recent and chosen and max(unsaid) < chosen[0][0])):
            g.add((p, QL.selectionUndecided, selection.iri))

    @staticmethod
    def _inside(selection: Selection, anchor: date, day: date) -> bool:
        before = (anchor - day).days
        if before < 0:
            return selection.after_anchor
        if selection.max_days is not None and before > selection.max_days:
            return False
        return selection.min_days is None or before >= selection.min_days
