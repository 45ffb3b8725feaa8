"""What would change the verdict: per criterion the change a value needs, per patient until
when the verdict holds and from when a waiting period is over.

Everything is read from the protocol data: limits from the shapes (:mod:`.limits`), the
window from the :class:`~.assessment.Assessment`, the waiting period from the shape that
states it. Definitions (docs in the README, "What would change the verdict"):

- ``change_needed`` (a criterion not met, or unknown with a value on record): the value, the
  limit that applies (and, for a conditional limit, why) and how far the value is from it:
  ``ANC 1.2 ×10⁹/L on 2026-11-12; needs ≥1.5 ×10⁹/L (a rise of at least 0.3)``; for a limit
  relative to the ULN, also in the result's own unit.
- ``valid_until``: a screening result dated D is in the window on the as-of date A when
  ``A - window_days <= D <= A`` (as derive selects it), so its last day in the window is
  ``D + window_days``. The verdict rests on results that leave the window: ``valid_until`` is
  the last as-of date on which the record on file gives the same verdict. An eligible verdict
  lasts until the first result a met criterion rests on leaves (for an either-or criterion,
  the last of the alternatives that hold); an ineligible one until the last criterion not met
  on a dated result turns unknown (``None`` if one is not met on undated data, such as the
  histology); results leaving never make a criterion not met, so an incomplete verdict has
  none (``None``). Facts dated after the as-of date, and ages taken on the as-of date, are
  not considered (a new record is a new screening). A criterion that reads a fact selection
  with a window of its own (``ql:withinDaysBefore`` N days before its anchor: "within 72
  hours", "14 days before Day 1") holds no longer than the selected fact's last day + N: the
  anchor is the as-of date or a planned date on or after it, so on a later as-of date the fact
  lies outside the window for every anchor the record allows. A window anchored on a signed
  ICF on record does not move with the as-of date, and a fact ongoing on the as-of date
  (active, no end) is read on it: neither ends by the window.
- ``eligible_from``: when the only obstacle is a waiting period (every other criterion met or
  not applicable, the waiting criterion not met), the first date a new set of screening labs
  may be drawn: the latest product's date + the period's days + 1 (a lab criterion's "within 14 days
  before" includes day 14, so day 15). It may lie before the as-of date (labs drawn on or
  after it would do; those on record are older).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import cast

from rdflib import Literal, URIRef
from rdflib.term import Node

from ..protocol.namespaces import PROV, QL, RDF, SH
from ..protocol.terminology import Terminology
from ..protocol.texts import literal_number as _number
from .assessment import Assessment
from .derive.selections import ONGOING
from .describe import fmt_number, show_unit
from .graph import PatientGraph
from .limits import Comparison, ProtocolLimits, protocol_limits
from .results import CriterionResult
from .uncertain import span_of
from .validate import ShapeInfo, Shapes

_UNIT_WORDS = {"a": " years", "d": " days"}
COMPOSED = ("no change computed: the outcome is composed of conditions (ql:anyOf, ql:allOf, "
            "ql:noneOf, ql:appliesWhen), which the explanation names; what-if does not say "
            "which change would make it met")
_INCLUSIVE = (SH.minInclusive, SH.maxInclusive)


def _date(value: object) -> date | None:
    if isinstance(value, Literal):
        python = value.toPython()
        if isinstance(python, date):
            return python
    return None


def _latest(dates: list[date | None]) -> date | None:
    """The latest of some expiry dates, where None (never expires) beats any date."""
    return None if not dates or None in dates else max(cast(list[date], dates))


def _earliest(dates: list[date | None]) -> date | None:
    """The earliest expiry date, None (never) only if all are None."""
    known = [d for d in dates if d is not None]
    return min(known) if known else None


class _Reader:
    """A patient's values, the limits that apply to it and its waiting periods."""

    def __init__(self, graph: PatientGraph, patient: URIRef, term: Terminology, shapes: Shapes,
                 assessment: Assessment, probes_failing: set[URIRef]) -> None:
        self.g, self.p, self.term, self.shapes = graph, patient, term, shapes
        self.a, self.probes_failing = assessment, probes_failing
        self.limits: ProtocolLimits = protocol_limits(shapes)
        self.window = timedelta(days=assessment.window_days)
        # fact selections with a window of N days before their anchor (ql:withinDaysBefore)
        self.windows = {s.iri: s for s in term.selections if s.max_days is not None}

    # -- which limits apply --------------------------------------------------------------
    def applicable(self, criterion: str) -> list[tuple[ShapeInfo, str]]:
        """The limit shapes of a criterion that apply to this patient, with why ('' if
        unconditional): the same choice as the explanation's "Limit applied"."""
        out = []
        for shape in self.shapes.by_criterion(criterion):
            if shape.outcome != "not_met" or shape.iri not in self.limits.comparisons:
                continue
            if shape.applies_when is not None:
                if shape.applies_when in self.probes_failing:
                    continue
                out.append((shape, self._probe(shape.applies_when)))
            elif shape.applies_unless is not None:
                if shape.applies_unless not in self.probes_failing:
                    continue
                out.append((shape, "no " + self._probe(shape.applies_unless)))
            else:
                out.append((shape, ""))
        return out

    def _probe(self, probe: URIRef) -> str:
        info = self.shapes.info.get(probe)
        return info.label if info is not None and info.label else str(probe)

    def _at(self, comparison: Comparison) -> tuple[Node | None, Decimal | None]:
        """The node the path's last step is read on, and the value there."""
        node: Node = self.p
        for step in comparison.path[:-1]:
            found = sorted(self.g.objects(node, step), key=str)
            if not found:
                return None, None
            node = found[0]
        return node, _number(self.g.value(node, comparison.path[-1]))

    def _test(self, comparison: Comparison, node):
        """The test a comparison reads: the node's, or the one its first step selects."""
        test = self.g.value(node, QL.test) if node is not None else None
        if test is None:
            test = next((info.iri for info in self.term.tests.values()
                         if info.screening_property == comparison.path[0]), None)
        return self.term.tests.get(cast(URIRef, test)) if test is not None else None

    # -- waiting periods -------------------------------------------------------------------
    def _products(self, criterion: str) -> list[tuple[date, URIRef, int]]:
        """Dated products of the criterion's waiting periods: (date, event, days)."""
        out = []
        for period in self.limits.waiting:
            if period.criterion != criterion:
                continue
            for event in self.g.objects(self.p, QL.receivedSupportiveCare):
                product, given = self.g.value(event, QL.product), _date(
                    self.g.value(event, QL.effectiveDate))
                if given is not None and product is not None and (
                        product, RDF.type, period.product_class) in self.g:
                    out.append((given, cast(URIRef, event), period.days))
        return sorted(out, key=lambda item: (item[0], str(item[1])))

    def _violating(self, criterion: str) -> list[tuple[date, URIRef, int]]:
        """The products that violate the not-met waiting period now."""
        out = []
        for period in self.limits.waiting:
            if period.criterion != criterion or period.outcome != "not_met":
                continue
            for given, event, days in self._products(criterion):
                gap = _number(self.g.value(event, QL.daysBeforeScreeningLab))
                if gap is not None and gap <= days and (self.g.value(event, QL.product),
                                                        RDF.type, period.product_class) in self.g:
                    out.append((given, event, days))
        return out

    def labs_from(self, criterion: str) -> date | None:
        """The first date a new set of screening labs keeps clear of every product of the
        criterion's waiting periods (it may lie before the as-of date: labs drawn on or after
        it would do)."""
        products = self._products(criterion)
        if not products:
            return None
        return max(given + timedelta(days=days + 1) for given, _e, days in products)


class _Wording(_Reader):
    """The change each criterion not met or unknown needs, in words."""

    # -- change needed -------------------------------------------------------------------
    def annotate(self, results: list[CriterionResult]) -> list[CriterionResult]:
        """The results, each not met or unknown one with its ``change_needed``: for an
        unknown one, always what would decide it (its values against the limits, and what
        to collect)."""
        out = []
        for result in results:
            line = None
            if result.outcome in ("not_met", "unknown") and self.term.logic.composed(result.id):
                line = COMPOSED  # its own limits alone could suggest a change that is not enough
            elif result.outcome in ("not_met", "unknown"):
                line = self.change_needed(result.id, result.outcome)
            if result.outcome == "unknown" and result.to_collect:
                line = (f"{line}; " if line else "") + f"to decide, collect {result.to_collect}"
            # built from its fields: dataclasses.replace inspects the class every call
            out.append(CriterionResult(*result.fields()[:-1], line) if line else result)
        return out

    def change_needed(self, criterion: str, outcome: str) -> str | None:
        """The values, limits and changes of a criterion not met or unknown, in words; None
        when no value of it is on record (what to collect says what is missing)."""
        if criterion in self.limits.waiting_criteria() and outcome == "not_met":
            return self._waiting_line(criterion)
        lines = []
        for shape, why in self.applicable(criterion):
            clauses, failing, found = [], False, False
            for comparison in self.limits.comparisons[shape.iri]:
                node, value = self._at(comparison)
                if value is None:
                    clauses.append(self._unusable(comparison, node))
                    found |= node is not None and self.g.value(node, QL.value) is not None
                    continue
                failing |= not comparison.holds(value)
                found = True
                clauses.append(self._clause(comparison, node, value))
            # an unknown criterion's values are shown even when none fails: they say what
            # is on record, and what is missing beside them
            if failing or (found and outcome == "unknown"):
                lines.append("; or ".join(clauses) + (f" (the limit because {why})" if why else ""))
        return " | ".join(lines) or None

    def _unusable(self, comparison: Comparison, node) -> str:
        """A comparison without its value: not on record, or on record without what the
        comparison needs (a result without its upper limit of normal)."""
        name, limit = self._name(comparison, node), self._limit(comparison, node)
        raw = self.g.value(node, QL.value) if node is not None else None
        if raw is None:
            return f"{name} {limit} (not on record)"
        when = self.g.value(node, QL.effectiveDate)
        unit = show_unit(self.g.value(node, QL.unit))
        on = f" on {when}" if when is not None else ""
        number = _number(raw)
        shown = fmt_number(number) if number is not None else str(raw)
        return (f"{name} {shown}{unit}{on} (its {self.term.label(comparison.path[-1])} is "
                f"not known); needs {limit}")

    def _name(self, comparison: Comparison, node) -> str:
        info = self._test(comparison, node)
        return info.label if info is not None else self.term.label(comparison.path[0])

    def _unit(self, comparison: Comparison, node) -> str:
        unit = self.g.value(node, QL.normalisedUnit) if node is not None else None
        if unit is None:
            info = self._test(comparison, node)
            unit = info.canonical_unit if info is not None else None
        if unit is None:
            return ""
        return _UNIT_WORDS.get(str(unit)) or show_unit(unit)

    def _limit(self, comparison: Comparison, node) -> str:
        """The limit as written for people: ``≥1.5 ×10⁹/L``, ``≤2.5×ULN``, ``≤1+``."""
        last = comparison.path[-1]
        if last == QL.ratioToULN:
            return f"{comparison.symbol}{fmt_number(comparison.limit)}×ULN"
        if last == QL.ordinalRank:
            return comparison.symbol + self._grade(comparison, node)
        unit = self._unit(comparison, node)
        return f"{comparison.symbol}{fmt_number(comparison.limit)}{unit}"

    def _grade(self, comparison: Comparison, node) -> str:
        """The label of the grade ranked at the limit in the value set of the test."""
        rank = comparison.limit
        info = self._test(comparison, node)
        if info is not None and info.value_set is not None:
            for concept, known in sorted(self.term.ranks.items(), key=lambda kv: str(kv[0])):
                if known == rank and self.term.is_a(concept, info.value_set):
                    return self.term.label(concept)
        return fmt_number(rank)

    def _clause(self, comparison: Comparison, node, value: Decimal) -> str:
        g, last = self.g, comparison.path[-1]
        name = self._name(comparison, node)
        when = g.value(node, QL.effectiveDate)
        on = f" on {when}" if when is not None else ""
        limit = self._limit(comparison, node)
        if last == QL.ratioToULN:
            raw, uln = _number(g.value(node, QL.value)), _number(g.value(node,
                                                                        QL.upperLimitOfNormal))
            unit = show_unit(g.value(node, QL.unit))
            if raw is None or uln is None:
                return f"{name}{on} = {fmt_number(value)}×ULN; needs {limit}"
            text = (f"{name} {fmt_number(raw)}{unit}{on} = {fmt_number(value)}×ULN; needs "
                    f"{limit} ({comparison.symbol}{fmt_number(comparison.limit * uln)}{unit}")
            if comparison.holds(value):
                return text + ", met)"
            return text + ", " + self._change(comparison, raw, comparison.limit * uln,
                                              unit) + ")"
        if last == QL.ordinalRank:
            concept = g.value(node, QL.valueConcept)
            shown = self.term.label(concept) if concept is not None else fmt_number(value)
            return f"{name}: {shown}{on}; needs {limit}" + (
                " (met)" if comparison.holds(value) else "")
        unit = self._unit(comparison, node)
        text = f"{name} {fmt_number(value)}{unit}{on}; needs {limit}"
        if comparison.holds(value):
            return text + " (met)"
        return text + f" ({self._change(comparison, value, comparison.limit, unit)})"

    @staticmethod
    def _change(comparison: Comparison, value: Decimal, limit: Decimal, unit: str) -> str:
        how = "at least" if comparison.op in _INCLUSIVE else "more than"
        if comparison.lower:
            return f"a rise of {how} {fmt_number(limit - value)}{unit}"
        return f"a fall of {how} {fmt_number(value - limit)}{unit}"

    def _waiting_line(self, criterion: str) -> str | None:
        violating = self._violating(criterion)
        if not violating:
            return None
        parts = []
        for given, event, days in violating:
            product = self.term.label(self.g.value(event, QL.product))
            gap, lab = (self.g.value(event, QL.daysBeforeScreeningLab),
                        self.g.value(event, QL.relatedScreeningLab))
            test = self.term.label(self.g.value(lab, QL.test)) if lab is not None else None
            before = (f"the {test} of {self.g.value(lab, QL.effectiveDate)}" if test
                      else "a screening laboratory test")
            parts.append(f"{product} on {given}, {gap} days before {before}; needs more "
                         f"than {days} days")
        start = self.labs_from(criterion)
        return "; ".join(parts) + (f": new screening laboratory tests from {start}"
                                   if start is not None else "")


class WhatIf(_Wording):
    """What would change the verdict of one patient."""

    def eligible_from(self, results: list[CriterionResult]) -> date | None:
        """Where a waiting period is the only obstacle, the first date new labs may be drawn.
        """
        waiting = self.limits.waiting_criteria()
        blocking = [r for r in results if r.outcome in ("not_met", "unknown")]
        if len(blocking) != 1 or blocking[0].outcome != "not_met" or (
                blocking[0].id not in waiting) or not self._violating(blocking[0].id):
            return None
        return self.labs_from(blocking[0].id)

    # -- how long the verdict holds --------------------------------------------------------
    def _expiry(self, node) -> date | None:
        """The last as-of date a value is still read: its result's last day in the window,
        or for a derived value its earliest dated source's; None if it is not windowed."""
        if node is None:
            return None
        if self.g.value(node, QL.test) is not None:
            when = _date(self.g.value(node, QL.effectiveDate))
            return when + self.window if when is not None else None
        sources = [s for s in self.g.objects(node, PROV.wasDerivedFrom)
                   if self.g.value(s, QL.test) is not None]
        return _earliest([self._expiry(s) for s in sources]) if sources else None

    def _evidence_expiry(self, criterion: dict) -> date | None:
        """For a windowed criterion without comparisons: its earliest screening result."""
        if not criterion["window"]:
            return None
        return _earliest([self._expiry(node) for prop in criterion["evidence"]
                          for node in self.g.objects(self.p, prop)
                          if self.g.value(node, QL.test) is not None])

    def _lab_dates(self) -> list[date]:
        return sorted(d for v in self.g.objects(self.p, QL.screeningLabDate)
                      if (d := _date(v)) is not None)

    def holds_until(self, criterion: dict) -> date | None:
        """The last as-of date on which a met criterion stays met as its results leave the
        window (None: not limited by the window)."""
        cid = criterion["id"]
        if cid in self.limits.waiting_criteria():
            labs = self._lab_dates()
            return labs[-1] + self.window if labs else None
        shapes = self.applicable(cid)
        own = self._selections_end(cid)
        if not shapes:
            return _earliest([self._evidence_expiry(criterion), own])
        # held while any alternative that holds is still read
        return _earliest([_latest([self._read_until(c.path[0], n)
                                   for c, n, v in self._present(shape) if c.holds(v)])
                          for shape, _why in shapes] + [own])

    def _present(self, shape: ShapeInfo) -> list[tuple[Comparison, object, Decimal]]:
        """The comparisons of a limit shape whose value is on record, with the node read."""
        return [(c, node, value) for c in self.limits.comparisons[shape.iri]
                for node, value in [self._at(c)] if value is not None]

    def not_met_until(self, criterion: dict, violated: tuple[str, ...]) -> date | None:
        """The last as-of date on which a criterion not met stays not met: while any of its
        violated shapes still is (None: never ends with the window). A violated shape lasts
        while every value it reads is still read: a comparison's values (an absent
        alternative passes), else the values of the patient's properties its paths start
        with; one that reads no windowed value (a lactation status, a histology) never ends.
        """
        cid = criterion["id"]
        if cid in self.limits.waiting_criteria():
            labs = self._lab_dates()
            ends = [max(d for d in labs if given <= d <= given + timedelta(days=days))
                    for given, _e, days in self._violating(cid)
                    if any(given <= d <= given + timedelta(days=days) for d in labs)]
            return max(ends) + self.window if ends else None
        per_shape = []
        for iri in map(URIRef, violated):
            info = self.shapes.info.get(iri)
            if info is None or info.outcome != "not_met":
                continue
            if iri in self.limits.comparisons:
                nodes = [(c.path[0], n) for c, n, _v in self._present(info)]
            else:
                nodes = [(prop, n) for prop in sorted(self.limits.reads.get(iri, ()))
                         for n in self.g.objects(self.p, prop)]
            per_shape.append(_earliest([self._read_until(step, n) for step, n in nodes]))
        return _latest(per_shape) if per_shape else self._evidence_expiry(criterion)

    # -- a fact selection's own window ------------------------------------------------------
    def _read_until(self, step: URIRef, node) -> date | None:
        """The last as-of date a value reached by ``step`` from the patient is still read:
        the screening window's, and the selection's own when ``step`` is a windowed one."""
        return _earliest([self._expiry(node), self._window_end(step, node)])

    def _window_end(self, step: URIRef, fact) -> date | None:
        """The last as-of date a fact selected by ``step`` is in its window (module
        docstring); None when ``step`` has no window or the window does not end it."""
        selection = self.windows.get(step)
        if selection is None or selection.max_days is None or any(
                s.iri == selection.anchor for s in self.term.selections):
            return None  # a window after a past event does not close as the as-of date moves
        if selection.anchor == QL.ConsentAnchor and any(
                (s := span_of(self.g.value(c, QL.signedOn))) is not None and s.exact
                for c in self.g.objects(self.p, QL.informedConsent)):
            return None
        end = span_of(self.g.value(fact, QL.factEnd))
        if selection.on_value:  # the window reads the date the fact states
            end = span_of(self.g.value(fact, QL.factValue))
        elif end is None and str(self.g.value(fact, QL.factStatus)) in ONGOING:
            return None
        day = end or span_of(self.g.value(fact, QL.effectiveDate))
        return day.last + timedelta(days=selection.max_days) if day is not None else None

    def _selections_end(self, criterion: str) -> date | None:
        """The earliest last day of the windowed selections a criterion reads: each holds
        while one of its facts is in its window."""
        reads = set(self.limits.criterion_reads.get(criterion, ()))
        for key in self.term.logic.reads(criterion):  # and the conditions it is composed of
            reads |= self.limits.criterion_reads.get(key, frozenset())
        return _earliest([_latest([self._window_end(step, fact)
                                   for fact in self.g.objects(self.p, step)])
                          for step in sorted(reads)
                          if step in self.windows and (self.p, step, None) in self.g])

    def valid_until(self, verdict: str, results: list[CriterionResult]) -> date | None:
        """The last as-of date with the same verdict on this record (module docstring)."""
        criteria = self.term.criteria
        if verdict == "eligible":
            return _earliest([self.holds_until(criteria[r.id]) for r in results
                              if r.outcome == "met" and r.id in criteria])
        if verdict == "ineligible":
            return _latest([self.not_met_until(criteria[r.id], r.shapes) for r in results
                            if r.outcome == "not_met" and r.id in criteria])
        return None
