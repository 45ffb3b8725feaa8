"""Which result of each test is the screening result: the most recent one on or before the
assessment date and within the screening window (``ql:MostRecentInWindow``).

Dates are intervals (a result dated ``2026-11`` is some day of November), so "most recent" and
"in the window" may not be decidable: results of one day are ordered by their instant (not by
their place in the file); a result certainly later than another wins; on one day without
instants a usable result beats one that cannot be used. When more than one result may be the
screening result, or the only one may lie outside the window, the patient is linked to a
``ql:ScreeningResultChoice`` that names the candidates and holds, for each compared value, the
interval covering all of theirs: a limit is then decided only when every candidate gives the
same answer, and a screening result that may not exist at all holds only possibly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rdflib import Literal, URIRef

from ...protocol.namespaces import PROV, QL, RDF
from ..literals import text
from ..uncertain import Interval, Span, instant_of, interval_of, note, possibly, put, span_of
from .base import DeriveBase

_LAB_TESTS: dict[int, tuple[object, set[URIRef]]] = {}
_HULLED = (QL.normalisedValue, QL.ratioToULN, QL.ordinalRank)
_AGREED = (QL.resultInterpretation, QL.valueConcept, QL.normalisedUnit)


def laboratory_tests(deriver: DeriveBase) -> set[URIRef]:
    """``deriver.laboratory_tests_of_ic9()``, computed once per terminology (not per patient).
    """
    term = deriver.term
    known = _LAB_TESTS.get(id(term))
    if known is None or known[0] is not term:
        known = _LAB_TESTS[id(term)] = (term, deriver.laboratory_tests_of_ic9())
    return known[1]


@dataclass(frozen=True, slots=True)
class _Result:
    obs: URIRef
    span: Span
    instant: datetime | None
    in_window: bool  # certainly within the window (not only possibly)
    usable: bool


def _later(a: _Result, b: _Result) -> bool:
    """Whether ``a`` is certainly later than ``b`` (by day, or by instant on one day)."""
    if a.span.first > b.span.last:
        return True
    if not (a.span.exact and b.span.exact and a.span.first == b.span.first):
        return False
    if a.instant is not None and b.instant is not None and \
            (a.instant.tzinfo is None) == (b.instant.tzinfo is None):
        return a.instant > b.instant
    return False


def _beats(a: _Result, b: _Result) -> bool:
    """Whether ``a`` rules ``b`` out as the screening result: certainly later, or of the same
    day without an order between them and usable where ``b`` is not."""
    if _later(a, b):
        return True
    same_day = a.span.exact and b.span.exact and a.span.first == b.span.first
    return same_day and not _later(b, a) and a.usable and not b.usable


class SelectionDeriver(DeriveBase):
    """The screening result of each test."""

    def select_screening_results(self) -> None:
        """Link the screening result of each test to the patient (the policy
        ``ql:MostRecentInWindow`` of ``ql:ScreeningResultSelection``)."""
        self.term.policy("ScreeningResultSelection", ("MostRecentInWindow",))
        g, start, end = self.g, self.a.window_start, self.a.as_of
        by_test: dict[URIRef, list[_Result]] = {}
        for obs in sorted(g.objects(self.p, QL.hasObservation)):
            test = g.value(obs, QL.test)
            span = span_of(g.value(obs, QL.effectiveDate))
            if test not in self.term.tests or span is None or span.last < start or \
                    span.first > end:
                continue
            by_test.setdefault(test, []).append(_Result(
                obs, span, instant_of(g.value(obs, QL.effectiveInstant)),
                span.first >= start and span.last <= end,
                g.value(obs, QL.dataProblem) is None))
        lab_tests = laboratory_tests(self)
        for test, results in by_test.items():
            candidates = [r for r in results if not any(
                other is not r and other.in_window and _beats(other, r) for other in results)]
            if len(candidates) == 1 and candidates[0].in_window:
                chosen = candidates[0].obs
                dated = g.value(chosen, QL.effectiveDate)
            else:
                chosen = self.choice(test, candidates)
                dated = next((g.value(c.obs, QL.effectiveDate) for c in candidates
                              if c.in_window), None)
            self.selected[test] = chosen
            prop = self.term.tests[test].screening_property
            if prop is not None:
                g.add((self.p, prop, chosen))
            if test in lab_tests and dated is not None:
                g.add((self.p, QL.screeningLabDate, dated))

    def choice(self, test: URIRef, candidates: list[_Result]) -> URIRef:
        """The node standing for "one of these results": the hull of each compared value
        over the candidates (absent when one of them has none), the values they all agree
        on, and a note saying why no one result could be chosen."""
        g = self.g
        info = self.term.tests[test]
        node = URIRef(f"{self.p}/derived/screening/{_slug(info.label)}")
        g.add((node, RDF.type, QL.ScreeningResultChoice))
        g.add((node, QL.test, test))
        for candidate in candidates:
            g.add((node, QL.candidateResult, candidate.obs))
            g.add((node, PROV.wasDerivedFrom, candidate.obs))
        for prop in _HULLED:
            found = [interval_of(g.value(c.obs, prop)) for c in candidates]
            if found and all(f is not None for f in found):
                hull: Interval = found[0]
                for other in found[1:]:
                    hull = hull.hull(other)
                put(g, node, prop, hull)
        for prop in _AGREED:
            values = {g.value(c.obs, prop) for c in candidates}
            if len(values) == 1 and None not in values:
                g.add((node, prop, values.pop()))
        problems = sorted({str(p) for c in candidates
                           if (p := g.value(c.obs, QL.dataProblem)) is not None})
        if problems:
            g.add((node, QL.dataProblem, Literal("; ".join(problems))))
        dates = ", ".join(str(g.value(c.obs, QL.effectiveInstant) or
                              g.value(c.obs, QL.effectiveDate)) for c in candidates)
        window = (f"the {self.a.window_days}-day screening window "
                  f"({self.a.window_start} to {self.a.as_of})")
        if len(candidates) > 1:
            why = (f"the data cannot tell which of the {info.label} results of {dates} is the "
                   f"most recent in {window}")
        else:
            why = f"the {info.label} of {dates} may lie outside {window}"
        if not any(c.in_window for c in candidates):
            possibly(g, node, info.screening_property or QL.screeningResult, why)
        else:
            note(g, node, why)
        if info.canonical_unit and g.value(node, QL.normalisedUnit) is None and \
                g.value(node, QL.normalisedValue) is not None:
            g.add((node, QL.normalisedUnit, text(info.canonical_unit)))
        return node


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-") or "test"
