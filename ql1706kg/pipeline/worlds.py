"""The readings of an uncertain patient graph, one plain graph each: for the reference engine.

pySHACL knows nothing of intervals or of nodes that hold only possibly, so an uncertain graph
is validated by it once per reading (possible world): each node marked ``ql:onlyPossiblyVia``
is kept or dropped, each interval literal replaced by one of the numbers that can change an
answer (its ends, just inside an open end, and each numeric limit of the shapes inside it
with a number just below and above). A shape violated in every reading is violated; in some,
possibly (:mod:`.shacl_uncertain` computes the same without enumerating, which is what the
default engine does). Too many readings (more than :data:`MAX_WORLDS`) are not enumerated:
every shape is then taken as possibly violated, which never makes a criterion met.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.term import Node

from ..protocol.namespaces import QL, SH, XSD
from .graph import PatientGraph
from .uncertain import Interval, interval_of, is_interval

MAX_WORLDS = 512
_STEP = Decimal("1e-9")  # just inside an open end, just beside a limit
_RANGE = (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive)


def limits_of(shape_triples) -> list[Decimal]:
    """Every numeric limit the shapes compare with (the points an interval is read at)."""
    out = set()
    for _s, p, o in shape_triples:
        if p in _RANGE and isinstance(o, Literal):
            try:
                out.add(Decimal(str(o.toPython())))
            except ArithmeticError:
                continue
    return sorted(out)


def points(interval: Interval, limits: list[Decimal], integer: bool) -> list[Decimal]:
    """The numbers of an interval that stand for all of it against the given limits."""
    lo, hi = interval.lo, interval.hi
    found: list[Decimal] = []
    inner = [t for t in limits if (lo is None or t > lo) and (hi is None or t < hi)]
    if lo is not None:
        found.append(lo + (1 if integer else _STEP) if interval.lo_open else lo)
    if hi is not None:
        found.append(hi - (1 if integer else _STEP) if interval.hi_open else hi)
    step = 1 if integer else _STEP
    for t in inner:
        found.extend((t - step, t, t + step))
    if lo is None and hi is None:
        found.append(Decimal(0))
    elif lo is None:
        found.append(min([hi, *inner]) - 1)
    elif hi is None:
        found.append(max([lo, *inner]) + 1)
    return sorted({f for f in found if _inside(interval, f)}) or [lo if lo is not None else hi]


def _inside(interval: Interval, value: Decimal) -> bool:
    lo, hi = interval.lo, interval.hi
    return ((lo is None or value > lo or (value == lo and not interval.lo_open))
            and (hi is None or value < hi or (value == hi and not interval.hi_open)))


def readings(graph: PatientGraph, limits: list[Decimal]) -> Iterator[PatientGraph] | None:
    """Every reading of an uncertain graph as a plain graph; None when there are more than
    :data:`MAX_WORLDS`."""
    possible = [(node, via) for node, _p, via in graph.triples((None, QL.onlyPossiblyVia,
                                                                 None))]
    intervals = [(s, p, o) for s, p, o in graph if is_interval(o)]
    choices: list[list[tuple]] = []
    for node, via in possible:
        holders = [s for s in graph.subjects(via, node)]
        choices.append([(), tuple((s, via, node) for s in holders)])  # kept, or dropped
    for s, p, o in intervals:
        interval = interval_of(o)
        integer = p in (QL.daysBeforeScreeningLab, QL.daysBeforeAssessment,
                        QL.calendarMonthsApart)
        options = points(interval, limits, integer) if interval is not None else []
        choices.append([("value", (s, p, o), _number(x, integer)) for x in options])
    total = 1
    for options in choices:
        total *= max(1, len(options))
    if total > MAX_WORLDS:
        return None
    return _worlds(graph, choices)


def _worlds(graph: PatientGraph, choices: list[list[tuple]]) -> Iterator[PatientGraph]:
    for picked in itertools.product(*choices):
        dropped: set[tuple] = set()
        replaced: dict[tuple, Node] = {}
        for choice in picked:
            if choice and choice[0] == "value":
                replaced[choice[1]] = choice[2]
            else:
                dropped.update(choice)
        world = PatientGraph()
        for triple in graph:
            if triple in dropped or triple[1] == QL.onlyPossiblyVia:
                continue
            value = replaced.get(triple)
            world.add(triple if value is None else (triple[0], triple[1], value))
        yield world


def _number(value: Decimal, integer: bool) -> Literal:
    if integer:
        return Literal(int(value), datatype=XSD.integer)
    return Literal(value, datatype=XSD.decimal)


__all__ = ["MAX_WORLDS", "URIRef", "limits_of", "points", "readings"]
