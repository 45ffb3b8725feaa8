"""A waiting period's timing: days from a support product to the nearest screening
laboratory result on or after it, when products are courses and dates are intervals.

A product is one administration on some day of its date, or a course: given on every day from
its start to its end (``ongoing``: up to the assessment date; no end: possibly up to it). The
screening laboratory results it is timed against (the anchors) are those derive selected, or
each candidate when the selection could not choose one. The derived value is the interval of
what "days to the nearest result after it" can be over every reading of the dates: its lower
end takes every day the product may have been given and every result that may be a screening
one; its upper end only what is certain. A point when both agree (one exact date, exact
results: what it always was); an interval otherwise, which the shapes' limit decides only
when every day in it gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from rdflib import URIRef
from rdflib.term import Node

from ...protocol.namespaces import QL
from ..uncertain import Interval, Span, describe_interval, note, put, span_of
from .base import DeriveBase
from .selection import laboratory_tests

_TRUE_ONGOING = "true"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A screening laboratory result: its days, the result, and whether it certainly is one."""

    span: Span
    obs: Node
    certain: bool


@dataclass(frozen=True, slots=True)
class Administration:
    """When a product may have been given (``possible``), the days it certainly was
    (``every_day``, for a course), and dates on some day of which it certainly was."""

    possible: Span
    every_day: Span | None
    some_day: tuple[Span, ...]
    words: str


class CourseDeriver(DeriveBase):
    """Days from each support product to the screening labs."""

    def anchors(self) -> list[Anchor]:
        """The screening laboratory results, or each candidate of an undecided one."""
        g, out = self.g, []
        for test in sorted(laboratory_tests(self)):
            chosen = self.selected.get(test)
            if chosen is None:
                continue
            if g.value(chosen, QL.candidateResult) is None:
                span = span_of(g.value(chosen, QL.effectiveDate))
                if span is not None:
                    out.append(Anchor(span, chosen, True))
                continue
            candidates = cast("Iterator[URIRef]", g.objects(chosen, QL.candidateResult))
            for candidate in sorted(candidates):
                span = span_of(g.value(candidate, QL.effectiveDate))
                if span is not None:
                    out.append(Anchor(span, candidate, False))
        return out

    def administration(self, event: Node) -> Administration | None:
        """When a product was (or may have been) given, up to the assessment date."""
        g, as_of = self.g, self.a.as_of
        certain = g.value(event, QL.onlyPossiblyVia) is None
        once = span_of(g.value(event, QL.effectiveDate))
        if once is not None:
            possible = once.clip_last(as_of)
            if possible is None:
                return None
            return Administration(possible, None, (once,) if certain else (),
                                  f"on {g.value(event, QL.effectiveDate)}")
        start = span_of(g.value(event, QL.startDate))
        end = span_of(g.value(event, QL.endDate))
        ongoing = str(g.value(event, QL.ongoing)) == _TRUE_ONGOING
        if start is None and end is None and not ongoing:
            return None  # undated (the shapes ask for its date when it matters)
        first = start.first if start is not None else date.min
        last = min(end.last, as_of) if end is not None else as_of
        if first > last:
            return None
        every: Span | None = None
        some: list[Span] = []
        if certain:
            through = end.first if end is not None else (as_of if ongoing else None)
            since = start.last if start is not None else (through if ongoing else None)
            if since is not None and through is not None and since <= through:
                every = Span(since, through)
            some = [s for s in (start, end) if s is not None]
        written = {prop: g.value(event, prop) for prop in (QL.startDate, QL.endDate)}
        words = ("a course" + (f" from {written[QL.startDate]}" if start is not None else "")
                 + (f" to {written[QL.endDate]}" if end is not None else "")
                 + (" (ongoing: up to the assessment date)" if ongoing else "")
                 + ("" if end is not None or ongoing else " (end not recorded: possibly up to "
                                                         "the assessment date)"))
        return Administration(Span(first, last), every, tuple(some), words)

    def derive_supportive_care_days(self) -> None:
        """Days from each product to the nearest screening laboratory result on or after it
        (``ql:NearestScreeningLabOnOrAfter``, the policy of ``ql:SupportiveCareAnchor``)."""
        self.term.policy("SupportiveCareAnchor", ("NearestScreeningLabOnOrAfter",))
        g = self.g
        anchors = self.anchors()
        if not anchors:
            return
        for event in g.objects(self.p, QL.receivedSupportiveCare):
            given = self.administration(event)
            if given is None:
                continue
            nearest = _nearest(given.possible, anchors)
            if nearest is None:
                continue
            low, anchor = nearest
            high = _certain_bound(given, [a for a in anchors if a.certain])
            days = Interval(Decimal(low), None if high is None else Decimal(max(high, low)))
            put(g, event, QL.daysBeforeScreeningLab, days, integer=True)
            g.add((event, QL.relatedScreeningLab, anchor.obs))
            if not days.exact:
                note(g, event, f"given {given.words}: {describe_interval(days)} days before "
                               "a screening laboratory result")


def _nearest(possible: Span, anchors: list[Anchor]) -> tuple[int, Anchor] | None:
    """The fewest days from a day the product may have been given to a result that may lie
    on or after it, and that result (None: no result can follow it)."""
    best: tuple[int, Anchor] | None = None
    for anchor in anchors:
        if anchor.span.last < possible.first:
            continue
        gap = max(0, (anchor.span.first - possible.last).days)
        if best is None or gap < best[0]:
            best = (gap, anchor)
    return best


def _certain_bound(given: Administration, anchors: list[Anchor]) -> int | None:
    """The most days the nearest result can be after the product, from what is certain (a
    day it was certainly given, a result that certainly is a screening one and certainly
    follows it); None when nothing certain bounds it."""
    bounds: list[int] = []
    if given.every_day is not None:
        since, through = given.every_day.first, given.every_day.last
        for anchor in anchors:
            if anchor.span.first >= since:
                bounds.append(max(0, (anchor.span.last - through).days))
    for some in given.some_day:
        worst = _worst_single(some, anchors)
        if worst is not None:
            bounds.append(worst)
    return min(bounds) if bounds else None


def _worst_single(some: Span, anchors: list[Anchor]) -> int | None:
    """For one administration on an unknown day of ``some``: the most days, over those days,
    to the nearest certain result that certainly follows it (None: on some day none does)."""
    days = {some.first} | {a.span.first.fromordinal(a.span.first.toordinal() + 1)
                           for a in anchors if some.first <= a.span.first < some.last}
    worst = 0
    for day in days:
        following = [(a.span.last - day).days for a in anchors if a.span.first >= day]
        if not following:
            return None
        worst = max(worst, min(following))
    return worst
