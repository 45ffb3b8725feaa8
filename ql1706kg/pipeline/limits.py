"""The protocol's limits as the shapes state them, read once per set of shapes.

What would change a verdict (:mod:`.what_if`) compares a patient's values with the limits, so
it reads them where the validation reads them: the ``sh:minInclusive`` / ``sh:maxInclusive``
/ ``sh:minExclusive`` / ``sh:maxExclusive`` literal of each limit shape (``ql:onViolation
ql:NotMet``), with the ``sh:path`` it applies to. A limit shape is one comparison on a path
(a lab's ``…-Limit``), or an ``sh:or`` of comparisons, each an alternative (a renal criterion:
creatinine ≤1.5 ×ULN or clearance ≥50 mL/min); branches that test a condition probe
(a liver metastasis that raises a limit) are not comparisons and are skipped. A waiting period
is a shape comparing ``ql:daysBeforeScreeningLab`` (a lab criterion's "within 14 days"), read
with the
product class it applies to. No number here comes from Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from rdflib import URIRef
from rdflib.term import Node

from ..protocol.namespaces import QL, SH
from ..protocol.texts import literal_number as _number
from .graph import PatientGraph
from .shacl_compiled import rdf_list
from .validate import Shapes

# The comparison each constraint makes, as a coordinator reads it.
SYMBOL = {SH.minInclusive: "≥", SH.maxInclusive: "≤", SH.minExclusive: ">",
          SH.maxExclusive: "<"}
_NESTED = (SH.property, SH.node, SH.qualifiedValueShape)


@dataclass(frozen=True)
class Comparison:
    """One alternative of a limit: the value at ``path`` from the patient, compared with
    ``limit`` by ``op`` (one of :data:`SYMBOL`'s keys)."""

    path: tuple[URIRef, ...]
    op: URIRef
    limit: Decimal

    @property
    def symbol(self) -> str:
        return SYMBOL[self.op]

    @property
    def lower(self) -> bool:
        """Whether the limit is a lower one (the value must reach it)."""
        return self.op in (SH.minInclusive, SH.minExclusive)

    def holds(self, value: Decimal) -> bool:
        """Whether ``value`` satisfies the comparison, exactly as the shape compares."""
        if self.op == SH.minInclusive:
            return value >= self.limit
        if self.op == SH.maxInclusive:
            return value <= self.limit
        if self.op == SH.minExclusive:
            return value > self.limit
        return value < self.limit


@dataclass(frozen=True)
class WaitingPeriod:
    """A shape of ``criterion`` that a product of ``product_class`` violates when given at
    most ``days`` days before a screening laboratory result (``outcome``: what its violation
    gives)."""

    criterion: str
    shape: URIRef
    outcome: str
    product_class: URIRef
    days: int


@dataclass
class ProtocolLimits:
    """Each limit shape's comparisons, and the waiting periods, of one set of shapes."""

    comparisons: dict[URIRef, tuple[Comparison, ...]] = field(default_factory=dict)
    waiting: tuple[WaitingPeriod, ...] = ()
    # the patient's properties each not-met shape reads (the first step of every path taken
    # from the patient): what a violation rests on, when it makes no comparison
    reads: dict[URIRef, frozenset[URIRef]] = field(default_factory=dict)
    # the patient's properties every shape of a criterion reads (a fact selection among them
    # brings its own window: what_if.py)
    criterion_reads: dict[str, frozenset[URIRef]] = field(default_factory=dict)

    def waiting_criteria(self) -> set[str]:
        return {w.criterion for w in self.waiting}


_CACHE: dict[int, tuple[Shapes, ProtocolLimits]] = {}


def protocol_limits(shapes: Shapes) -> ProtocolLimits:
    """The limits of ``shapes``, read once per Shapes object (per process)."""
    known = _CACHE.get(id(shapes))
    if known is None or known[0] is not shapes:
        known = _CACHE[id(shapes)] = (shapes, _read(shapes))
    return known[1]


def _path(graph: PatientGraph, node) -> tuple[URIRef, ...] | None:
    path = graph.value(node, SH.path)
    if isinstance(path, URIRef):
        return (path,)
    if path is None:
        return None
    steps = tuple(rdf_list(graph, path))
    return cast(tuple[URIRef, ...], steps) if steps and all(
        isinstance(s, URIRef) for s in steps) else None


def _comparison(graph: PatientGraph, node) -> Comparison | None:
    """The comparison a property shape makes, if it makes one (and only one)."""
    path = _path(graph, node)
    if path is None:
        return None
    found = [(op, _number(graph.value(node, op))) for op in SYMBOL
             if graph.value(node, op) is not None]
    if len(found) != 1 or found[0][1] is None:
        return None
    return Comparison(path, found[0][0], found[0][1])


def _read(shapes: Shapes) -> ProtocolLimits:
    graph = PatientGraph(shapes.triples)
    out = ProtocolLimits()
    waiting: list[WaitingPeriod] = []
    for info in shapes.info.values():
        if info.criterion is None or info.outcome not in ("not_met", "unknown"):
            continue
        steps = _patient_steps(graph, info.iri)
        out.criterion_reads[info.criterion] = out.criterion_reads.get(
            info.criterion, frozenset()) | steps
        if info.outcome == "not_met":
            out.reads[info.iri] = steps
        if info.outcome == "not_met" and info.is_limit:
            direct = _comparison(graph, info.iri)
            if direct is not None:
                out.comparisons[info.iri] = (direct,)
            else:
                branches = [_comparison(graph, b) for head in graph.objects(info.iri, SH["or"])
                            for b in rdf_list(graph, head)]
                found = tuple(c for c in branches if c is not None)
                if found:
                    out.comparisons[info.iri] = found
        waiting.extend(_waiting(graph, info.iri, info.criterion, info.outcome))
    out.waiting = tuple(sorted(set(waiting), key=lambda w: (w.criterion, str(w.shape))))
    return out


def _patient_steps(graph: PatientGraph, top: URIRef) -> frozenset[URIRef]:
    """The first step of every path a shape takes from its focus node (the patient): its
    own, its property shapes' and those of the shapes it combines (sh:or, sh:and, sh:xone,
    sh:not, sh:node), but not those nested below a path (they start from the values)."""
    steps: set[URIRef] = set()
    seen: set[Node] = {top}
    stack: list[Node] = [top]
    while stack:
        node = stack.pop()
        path = _path(graph, node)
        if path is not None:
            steps.add(path[0])
            continue
        same_focus = [*graph.objects(node, SH.property), *graph.objects(node, SH.node),
                      *graph.objects(node, SH["not"])]
        for combinator in (SH["or"], SH["and"], SH.xone):
            for head in graph.objects(node, combinator):
                same_focus.extend(rdf_list(graph, head))
        for child in same_focus:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return frozenset(steps)


def _waiting(graph: PatientGraph, top: URIRef, criterion: str, outcome: str):
    """The waiting periods nested in a top-level shape: a node shape with a property shape
    comparing ``ql:daysBeforeScreeningLab`` at most, and one requiring a product class."""
    seen: set[Node] = {top}
    stack: list[Node] = [top]
    while stack:
        node = stack.pop()
        days, product = None, None
        for prop in graph.objects(node, SH.property):
            comparison = _comparison(graph, prop)
            if comparison is not None and comparison.path == (QL.daysBeforeScreeningLab,):
                if comparison.op == SH.maxInclusive:
                    days = int(comparison.limit)
                elif comparison.op == SH.maxExclusive:
                    days = int(comparison.limit) - 1
            if _path(graph, prop) == (QL.product,) and graph.value(prop, SH["class"]):
                product = graph.value(prop, SH["class"])
        if days is not None and isinstance(product, URIRef):
            yield WaitingPeriod(criterion, top, outcome, product, days)
        for p in _NESTED:
            for child in graph.objects(node, p):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
