"""Fact selections (``ql:FactSelection``, protocol/fact_kinds.py): link the patient to the
facts each criterion reads, by the selection's own property, so shapes stay comparisons.

A selection keeps the facts of its kinds whose status and value count and whose date lies in
its window before its anchor (the ICF signature, the assessment date, or the date value of a
kind such as the planned first dose, or the latest day of what another selection selected: "after
the last CNS-directed treatment"). A course's date is its last day: its end, or the
assessment date while it is ongoing. Days are calendar days, both ends included.

A selection may also require attribute values (``ql:selectsAttribute``,
protocol/fact_attributes.py): a fact that says another value does not count.

What cannot be decided is said, never guessed (``ql:selectionUndecided``): an undated or
partially dated fact that may or may not lie in the window, a fact in the window that does
not say an attribute the selection needs (nor a readable value of it), or a window whose anchor
is not on record while a fact could still fall in it (a planned first dose lies on or after the
assessment date, so a fact more than the window's days before that date is outside it for
every possible anchor, and decides nothing). An event anchor (another selection) is undecided
when that selection is, or one of its facts is not dated to the day; a fact dated the event's
day cannot be ordered against it (times of day are not read), so it is undecided too.
"""

from __future__ import annotations

from datetime import date, timedelta

from rdflib import Literal, URIRef

from ...protocol.fact_kinds import FactKind, Selection
from ...protocol.namespaces import QL, RDF
from ...protocol.terminology import Terminology
from ..uncertain import Span, span_of
from .base import DeriveBase

_KINDS: dict[int, tuple[Terminology, dict[URIRef, FactKind]]] = {}
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
        for selection in _ordered(self.term.selections):
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
        if anchor in {s.iri for s in self.term.selections}:
            return self._event_anchor(anchor)
        values = [v.toPython() for f in by_kind.get(anchor, ())
                  if isinstance(v := self.g.value(f, QL.factValue), Literal)]
        days = [v for v in values if isinstance(v, date)]
        return max(days) if days else None

    def _event_anchor(self, anchor: URIRef) -> date | None:
        """The latest day of what another selection selected (a past event: "after the last
        CNS-directed treatment"). Undecided (None) when that selection is undecided or one of
        its facts is not dated to the day; none selected and every kind it reads recorded
        complete: there was no such event, so every day is after it (date.min)."""
        selection = next(s for s in self.term.selections if s.iri == anchor)
        if (self.p, QL.selectionUndecided, anchor) in self.g:
            return None
        spans = [self._span(selection, f) for f in self.g.objects(self.p, anchor)
                 if isinstance(f, URIRef)]
        if any(span is None or not span.exact for span in spans):
            return None
        if spans:
            return max(span.last for span in spans if span is not None)
        complete = all((self.p, QL.recordedComplete, k) in self.g for k in selection.kinds)
        return date.min if complete else None

    def _day(self, fact: URIRef):
        """The span of days a fact counts on: its end, or the assessment date while ongoing."""
        status = self.g.value(fact, QL.factStatus)
        end = span_of(self.g.value(fact, QL.factEnd))
        if end is not None:
            return end
        start = span_of(self.g.value(fact, QL.effectiveDate))
        if status is not None and str(status) in ONGOING and start is not None:
            return Span(self.a.as_of, self.a.as_of)  # ongoing: it counts on the assessment date
        return start

    def _counts(self, selection: Selection, fact: URIRef) -> bool | None:
        """Whether the fact counts for the selection; None when it may (its status, or an
        attribute, the selection asks about is not recorded: undecided)."""
        status = self.g.value(fact, QL.factStatus)
        if selection.statuses and status is not None and str(status) not in selection.statuses:
            return False
        if selection.values:
            value = self.g.value(fact, QL.factValue)
            shown = str(value).casefold() if value is not None else None
            if shown not in selection.values and not (shown is None and self._unreadable(fact)):
                return False
        said = self._attributes_count(selection, fact) if selection.attributes else True
        if said is False:
            return False
        return None if said is None or (selection.statuses and status is None) else True

    def _attributes_count(self, selection: Selection, fact: URIRef) -> bool | None:
        said = self._attributes(fact)
        maybe = False
        for key, wanted in selection.attributes:
            if key not in said:
                maybe = True
            elif said[key] not in wanted:
                return False
        return None if maybe else True

    def _attributes(self, fact: URIRef) -> dict[str, str]:
        return {str(self.g.value(node, QL.attributeKey)): str(value)
                for node in self.g.objects(fact, QL.factAttribute)
                if (value := self.g.value(node, QL.attributeValue)) is not None}

    def _why_open(self, selection: Selection, fact: URIRef) -> str:
        """Why a fact in the window may or may not count."""
        if selection.statuses and self.g.value(fact, QL.factStatus) is None:
            return "its status is not recorded"
        said = self._attributes(fact)
        missing = [key for key, _values in selection.attributes if key not in said]
        return f"it does not say its {', '.join(missing)}" if missing else \
            _unreadable_reason(self.g.value(fact, QL.factLabel))

    def _unreadable(self, fact: URIRef) -> bool:
        """A fact of a kind that has a value (not the mere presence of a record) whose value
        could not be read: what it says is not known, so it may be the one that decides."""
        kind = self._kind_of(fact)
        return (kind is not None and kind.value_type not in ("presence", "dose")
                and self.g.value(fact, QL.factValue) is None)

    def _kind_of(self, fact: URIRef) -> FactKind | None:
        kind = self.g.value(fact, QL.factKind)
        return self._kinds().get(kind) if isinstance(kind, URIRef) else None

    def _kinds(self) -> dict[URIRef, FactKind]:
        """The declared kinds by IRI (once per terminology)."""
        known = _KINDS.get(id(self.term))
        if known is None or known[0] is not self.term:
            known = _KINDS[id(self.term)] = (
                self.term, {k.iri: k for k in self.term.fact_kinds.values()})
        return known[1]

    def _select(self, selection: Selection, by_kind: dict) -> None:
        g, p = self.g, self.p
        counted = [(f, self._counts(selection, f)) for k in selection.kinds
                   for f in by_kind.get(k, ())]
        maybe = {f for f, counts in counted if counts is None}
        windowed = selection.max_days is not None or selection.min_days is not None
        anchor = self._anchor(selection.anchor, by_kind) if windowed else None
        event = selection.anchor in {s.iri for s in self.term.selections}
        chosen: list[tuple[date, URIRef]] = []
        # facts the selection may read but cannot decide on: (day, fact, why)
        open_: list[tuple[date, URIRef, str]] = []
        for fact in (f for f, counts in counted if counts is not False):
            span = self._span(selection, fact)
            if not windowed:
                chosen.append((span.last if span else date.min, fact))
                continue
            if span is None:
                open_.append((date.max, fact, "it has no date"))
                continue
            if anchor is None and _before_any_plan(selection, span, event, self.a.as_of):
                chosen.append((span.last, fact))
                continue
            if anchor is None:  # not on record: a planned anchor falls on or after as-of, an
                # ICF or an event on any day: every fact it could reach is undecided
                lo = self.a.as_of - timedelta(days=selection.max_days or 0)
                if (selection.max_days is None or span.last >= lo or event
                        or selection.anchor == QL.ConsentAnchor):
                    why = "is not known" if event else "is not on record"
                    open_.append((span.last, fact, f"the date of its window "
                                  f"({self.term.label(selection.anchor)}) {why}"))
                continue
            inside = [_inside(selection, anchor, day) for day in (span.first, span.last)]
            if event and span.first <= anchor <= span.last:  # the same day as the event:
                open_.append((span.last, fact, "it is dated the day of "  # order not known
                              f"{self.term.label(selection.anchor)}, before or after it"))
            elif all(inside):
                chosen.append((span.last, fact))
            elif any(inside) or (anchor > date.min and span.first < anchor - timedelta(
                    days=selection.max_days or 0) < span.last):
                open_.append((span.last, fact, "its date may or may not lie in the window"))
        open_ += [(day, f, self._why_open(selection, f)) for day, f in chosen
                  if f in maybe or self._unreadable(f)]
        chosen = [(day, f) for day, f in chosen if f not in maybe and not self._unreadable(f)]
        latest = max(day for day, _f in chosen) if selection.most_recent and chosen else None
        open_ = [item for item in open_ if latest is None or item[0] >= latest]
        self._hold_back(selection, open_)
        if selection.most_recent and chosen:
            chosen = [max(chosen, key=lambda item: item[0])]
        for _day, fact in chosen:
            g.add((p, selection.iri, fact))
        if open_:
            g.add((p, QL.selectionUndecided, selection.iri))

    def _span(self, selection: Selection, fact: URIRef):
        """The days a fact counts on for a selection (ql:windowOnValue: the date the fact
        states, not its own; ql:windowOnStart: the day it began)."""
        if selection.on_start:
            return span_of(self.g.value(fact, QL.effectiveDate))
        return (span_of(self.g.value(fact, QL.factValue)) if selection.on_value
                else self._day(fact))

    def _hold_back(self, selection: Selection, open_: list) -> None:
        """Set aside, for this selection, every fact it may read but cannot decide on (its
        value unreadable, its status, an attribute or its place in the window unknown): as an
        ``ql:UntrustedFact`` it keeps every criterion reading the selection from being met
        (pipeline/reads.py), whether or not a shape asks about it, and the explanation names
        it."""
        for _day, fact, why in open_:
            self.g.add((self.p, QL.setAsideFact, fact))
            self.g.add((fact, RDF.type, QL.UntrustedFact))
            self.g.add((fact, QL.setAsideFrom, selection.iri))
            if self.g.value(fact, QL.setAsideReason) is None:
                self.g.add((fact, QL.setAsideReason, Literal(why)))
                self.g.add((fact, QL.recordSection, Literal(self._kind_label(fact))))

    def _kind_label(self, fact: URIRef) -> str:
        kind = self._kind_of(fact)
        return kind.label if kind is not None else "a fact"


def _inside(selection: Selection, anchor: date, day: date) -> bool:
    before = (anchor - day).days
    if before < 0:
        return selection.after_anchor
    if selection.max_days is not None and before > selection.max_days:
        return False
    return selection.min_days is None or before >= selection.min_days


def _before_any_plan(selection: Selection, span, event: bool, as_of: date) -> bool:
    """A fact at least the window's days before the assessment date, for a window "at
    least N days before" a planned date not on record: the plan falls on or after the
    assessment date, so the fact is in the window whatever it turns out to be."""
    planned = not event and selection.anchor not in (None, QL.ConsentAnchor,
                                                     QL.AssessmentAnchor)
    return (planned and selection.max_days is None and selection.min_days is not None
            and (as_of - span.last).days >= selection.min_days)


def _unreadable_reason(said) -> str:
    return (f"its value {str(said)!r} is not one its kind reads" if said is not None
            else "it has no value its kind reads")


def _ordered(selections: tuple[Selection, ...]) -> list[Selection]:
    """The selections, each after the one its window is anchored on (an event anchor)."""
    by_iri = {s.iri: s for s in selections}
    out: list[Selection] = []
    seen: set[URIRef] = set()

    def visit(selection: Selection) -> None:
        if selection.iri not in seen:
            seen.add(selection.iri)
            if selection.anchor in by_iri:
                visit(by_iri[selection.anchor])
            out.append(selection)

    for selection in selections:
        visit(selection)
    return out
