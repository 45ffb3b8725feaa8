"""Facts that are intervals, not points: partial dates as spans of days, values as bounds.

Issue 20's rule: a comparison decides only when every value the data allows gives the same
answer. Derive does the arithmetic here (:class:`Span` of days, :class:`Interval` of numbers,
sound for monotone formulas) and writes an interval that is not one point as a literal of the
datatype ``ql:DecimalInterval`` (``"[0,2.0)"``: ISO 31-11 brackets, ``*`` for no end). The
compiled SHACL evaluator compares such a literal three-valuedly (:func:`holds_all`,
:func:`holds_some`); a point is written as a plain ``xsd:decimal`` or ``xsd:integer``, so a
record without any uncertainty gives the very graph it always gave.

A node that may or may not hold for its patient on the assessment date (a metastasis found in
the month of the assessment, a course that may have started after it) carries
``ql:onlyPossiblyVia`` naming the property through which it only possibly holds; an
``ql:uncertaintyNote`` says why, for the explanation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from rdflib import Literal, URIRef

from ..protocol.namespaces import QL, XSD
from .literals import dec
from .literals import integer as _integer

INTERVAL = QL.DecimalInterval


# -- days --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Span:
    """The days a date may be: ``first`` to ``last`` (equal for an exact date)."""

    first: date
    last: date

    @property
    def exact(self) -> bool:
        return self.first == self.last

    def clip_last(self, latest: date) -> Span | None:
        """The span cut at ``latest`` (None if it lies wholly after it)."""
        if self.first > latest:
            return None
        return Span(self.first, min(self.last, latest))

    def __str__(self) -> str:
        return self.first.isoformat() if self.exact else f"{self.first} to {self.last}"


@functools.lru_cache(maxsize=8192)
def span_of(value: object) -> Span | None:
    """The span of days of a date literal: xsd:date, xsd:gYearMonth, xsd:gYear or
    xsd:dateTime (its day as written); None for anything else."""
    if not isinstance(value, Literal):
        return None
    kind = value.datatype
    try:
        if kind == XSD.date:
            day = date.fromisoformat(str(value)[:10])
            return Span(day, day)
        if kind == XSD.gYearMonth:
            year, month = (int(part) for part in str(value)[:7].split("-"))
            first = date(year, month, 1)
            nxt = date(year + month // 12, month % 12 + 1, 1)
            return Span(first, date.fromordinal(nxt.toordinal() - 1))
        if kind == XSD.gYear:
            year = int(str(value)[:4])
            return Span(date(year, 1, 1), date(year, 12, 31))
        if kind == XSD.dateTime:
            day = date.fromisoformat(str(value)[:10])
            return Span(day, day)
    except ValueError:
        return None
    return None


def instant_of(value: object) -> datetime | None:
    """The moment of an xsd:dateTime literal (None if it has none)."""
    if isinstance(value, Literal) and value.datatype == XSD.dateTime:
        python = value.toPython()
        return python if isinstance(python, datetime) else None
    return None


# -- numbers -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Interval:
    """The numbers a value may be: from ``lo`` to ``hi`` (None: no end), each end open or
    closed. A point is ``Interval(v, v)``."""

    lo: Decimal | None
    hi: Decimal | None
    lo_open: bool = False
    hi_open: bool = False

    @classmethod
    def point(cls, value: Decimal) -> Interval:
        return cls(value, value)

    @property
    def exact(self) -> bool:
        return self.lo is not None and self.lo == self.hi and not (self.lo_open or
                                                                     self.hi_open)

    def hull(self, other: Interval) -> Interval:
        """The smallest interval holding both."""
        lo, lo_open = _lower(self, other)
        hi, hi_open = _upper(self, other)
        return Interval(lo, hi, lo_open, hi_open)

    def scaled(self, factor: Decimal) -> Interval:
        """Multiplied by a positive number."""
        return Interval(None if self.lo is None else self.lo * factor,
                        None if self.hi is None else self.hi * factor, self.lo_open,
                        self.hi_open)

    def map(self, function) -> Interval:
        """Through an increasing function (applied to each finite end)."""
        return Interval(None if self.lo is None else function(self.lo),
                        None if self.hi is None else function(self.hi), self.lo_open,
                        self.hi_open)

    def clamped(self, low: Decimal | None, high: Decimal | None) -> Interval:
        """Cut to what a value can be (a test's plausible range; no negative count)."""
        lo, lo_open, hi, hi_open = self.lo, self.lo_open, self.hi, self.hi_open
        if low is not None and (lo is None or lo < low):
            lo, lo_open = low, False
        if high is not None and (hi is None or hi > high):
            hi, hi_open = high, False
        return Interval(lo, hi, lo_open, hi_open)

    def literal(self, integer: bool = False) -> Literal:
        """A point as xsd:decimal (xsd:integer), else a ``ql:DecimalInterval`` literal."""
        if self.exact:
            return _integer(int(self.lo)) if integer else dec(self.lo)
        return interval_literal(self)

    def __str__(self) -> str:
        return (("(" if self.lo_open else "[") + ("*" if self.lo is None else _num(self.lo))
                + "," + ("*" if self.hi is None else _num(self.hi))
                + (")" if self.hi_open else "]"))


def _lower(a: Interval, b: Interval) -> tuple[Decimal | None, bool]:
    if a.lo is None or b.lo is None:
        return None, False
    if a.lo != b.lo:
        return (a.lo, a.lo_open) if a.lo < b.lo else (b.lo, b.lo_open)
    return a.lo, a.lo_open and b.lo_open


def _upper(a: Interval, b: Interval) -> tuple[Decimal | None, bool]:
    if a.hi is None or b.hi is None:
        return None, False
    if a.hi != b.hi:
        return (a.hi, a.hi_open) if a.hi > b.hi else (b.hi, b.hi_open)
    return a.hi, a.hi_open and b.hi_open


def _num(value: Decimal) -> str:
    return format(value, "f") if value == value.to_integral_value() or abs(
        value.as_tuple().exponent) < 20 else str(value)


@functools.lru_cache(maxsize=4096)
def interval_literal(interval: Interval) -> Literal:
    return Literal(str(interval), datatype=INTERVAL)


def bound(value: Decimal, comparator: str | None) -> Interval:
    """The numbers a result with a comparator allows (no comparator: the value itself)."""
    if comparator == "<":
        return Interval(None, value, hi_open=True)
    if comparator == "<=":
        return Interval(None, value)
    if comparator == ">":
        return Interval(value, None, lo_open=True)
    if comparator == ">=":
        return Interval(value, None)
    return Interval.point(value)


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> Interval | None:
    text = text.strip()
    if len(text) < 5 or text[0] not in "[(" or text[-1] not in ")]" or "," not in text:
        return None
    low, high = text[1:-1].split(",", 1)
    try:
        lo = None if low.strip() == "*" else Decimal(low.strip())
        hi = None if high.strip() == "*" else Decimal(high.strip())
    except InvalidOperation:
        return None
    return Interval(lo, hi, text[0] == "(", text[-1] == ")")


def interval_of(value: object) -> Interval | None:
    """The interval a literal holds: a number is a point, a ``ql:DecimalInterval`` literal its
    interval; None for anything else."""
    if not isinstance(value, Literal):
        return None
    if value.datatype == INTERVAL:
        return _parse(str(value))
    python = value.toPython()
    if isinstance(python, bool) or not isinstance(python, int | float | Decimal):
        return None
    return Interval.point(Decimal(str(python)))


def is_interval(value: object) -> bool:
    """Whether a term is an interval literal (not a point)."""
    return isinstance(value, Literal) and value.datatype == INTERVAL


# -- comparisons (the four SHACL range components) ---------------------------------------------

def holds_all(interval: Interval, op: str, limit: Decimal) -> bool:
    """Whether every number of the interval satisfies ``value <op> limit`` (op one of
    'ge', 'gt', 'le', 'lt')."""
    lo, hi = interval.lo, interval.hi
    if op == "ge":
        return lo is not None and lo >= limit
    if op == "gt":
        return lo is not None and (lo > limit or (lo == limit and interval.lo_open))
    if op == "le":
        return hi is not None and hi <= limit
    return hi is not None and (hi < limit or (hi == limit and interval.hi_open))


def holds_some(interval: Interval, op: str, limit: Decimal) -> bool:
    """Whether some number of the interval satisfies ``value <op> limit``."""
    lo, hi = interval.lo, interval.hi
    if op == "ge":
        return hi is None or hi > limit or (hi == limit and not interval.hi_open)
    if op == "gt":
        return hi is None or hi > limit
    if op == "le":
        return lo is None or lo < limit or (lo == limit and not interval.lo_open)
    return lo is None or lo < limit


def contains(interval: Interval, value: Decimal) -> bool:
    """Whether a number lies in the interval."""
    lo, hi = interval.lo, interval.hi
    return ((lo is None or value > lo or (value == lo and not interval.lo_open))
            and (hi is None or value < hi or (value == hi and not interval.hi_open)))


def describe_interval(interval: Interval, fmt=str) -> str:
    """An interval as a coordinator reads it: 'below 2.0', '65 to 66', '25 or more'."""
    lo, hi = interval.lo, interval.hi
    if interval.exact:
        return fmt(lo)
    if lo is None or (lo == 0 and not interval.lo_open and hi is not None):
        if hi is None:
            return "any value"
        return f"below {fmt(hi)}" if interval.hi_open else f"{fmt(hi)} or less"
    if hi is None:
        return f"above {fmt(lo)}" if interval.lo_open else f"{fmt(lo)} or more"
    return f"{fmt(lo)} to {fmt(hi)}"


def put(graph, node: URIRef, prop: URIRef, interval: Interval, integer: bool = False) -> None:
    """Write a derived value: a point as a number, else an interval literal, the node then
    marked ``ql:intervalValued`` (so a graph with uncertainty is known at once)."""
    graph.add((node, prop, interval.literal(integer)))
    if not interval.exact:
        graph.add((node, QL.intervalValued, prop))


def possibly(graph, node: URIRef, via: URIRef, note: str | None = None) -> None:
    """Mark ``node`` as holding only possibly through ``via`` (with a note for the
    explanation)."""
    graph.add((node, QL.onlyPossiblyVia, via))
    if note:
        graph.add((node, QL.uncertaintyNote, Literal(note)))


def note(graph, node: URIRef, text: str) -> None:
    """Say why a fact of ``node`` is uncertain (read by the explanations)."""
    graph.add((node, QL.uncertaintyNote, Literal(text)))
