"""The shapes evaluated over uncertain data: a focus node conforms, does not, or may.

A patient graph holds uncertainty of two kinds (pipeline/uncertain.py): a value that is an
interval (a ``ql:DecimalInterval`` literal: a bound such as ``<2.0``, an age from a birth
year, days from a course whose end is unknown), and a node that holds for its patient only
possibly (``ql:onlyPossiblyVia``: a metastasis found in the month of the assessment). Each
reading of the data is a possible world; a shape *must* hold when it holds in every world and
*may* hold when it holds in some. Each shape is compiled twice, in "must" and in "may" mode,
with the W3C semantics of each component lifted to the two modes (Kleene's three-valued
logic): a comparison of an interval must hold when every number in it satisfies it, and may
when one does; a value reached only possibly counts for "may" but not for "must"; ``sh:not``
turns "must" into "not may"; a count of values is "must" from the certain values and "may"
from all. This is sound (what must hold holds in every world), linear in the graph, and
exact unless one uncertain value is read twice inside one shape.

Condition probes (``ql:role ql:ConditionProbe``) are read by several shapes of one criterion
(the liver limit: "≤2.5 ×ULN unless a liver metastasis"; "≤5 ×ULN if one"): when a probe
may hold, the shapes are evaluated once with the probe holding and once without, so that an
AST of 6 ×ULN is not met whether or not the liver metastasis is current.

A graph without uncertainty never comes here: the plain compiled evaluator
(:mod:`.shacl_compiled`) validates it, so the common case costs nothing more.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from ..protocol.namespaces import QL, RDF, SH
from .graph import PatientGraph
from .shacl_compiled import Unsupported, _instances, _is_instance, rdf_list
from .uncertain import contains, holds_all, holds_some, interval_of, is_interval

# A check: (graph, focus, must) -> bool; "must" True asks whether the shape holds in every
# world, False whether it holds in some.
Check = Callable[[PatientGraph, Node], bool]
Values = list[tuple[Node, bool]]  # the values of a path, each with whether it is certain
_EMPTY: dict = {}
_OPS = {SH.minInclusive: "ge", SH.maxInclusive: "le", SH.minExclusive: "gt",
        SH.maxExclusive: "lt"}
_PLAIN = {"ge": operator.ge, "le": operator.le, "gt": operator.gt, "lt": operator.lt}
MAX_PROBE_WORLDS = 16  # 4 probes that may hold: beyond, each may-probe is left three-valued


def is_uncertain(graph: PatientGraph) -> bool:
    """Whether a patient graph holds an interval value or a possible node."""
    pos = graph._pos
    return bool(pos.get(QL.onlyPossiblyVia)) or bool(pos.get(QL.intervalValued))


@dataclass
class UncertainShapes:
    """Each top-level shape's must/may checks, and which of them are condition probes."""

    targets: dict[URIRef, list[Node]] = field(default_factory=dict)
    must: dict[Node, Check] = field(default_factory=dict)
    may: dict[Node, Check] = field(default_factory=dict)
    probes: tuple[URIRef, ...] = ()
    fixed: dict[Node, bool] = field(default_factory=dict)  # probes held fixed in a world

    def statuses(self, graph: PatientGraph) -> list[dict[tuple[Node, URIRef], bool]]:
        """Per world (one per reading of the probes that may hold): every (focus, shape)
        that does not conform, True when certainly, False when only possibly."""
        probe_status = self._evaluate(graph, self.probes)
        others = [s for s in self.targets if s not in self.probes]
        open_probes = sorted({shape for (_focus, shape), sure in probe_status.items()
                              if not sure}, key=str)
        if not open_probes or 2 ** len(open_probes) > MAX_PROBE_WORLDS:
            world = self._evaluate(graph, others)
            world.update(probe_status)
            return [world]
        worlds = []
        for reading in itertools.product((True, False), repeat=len(open_probes)):
            holds: dict[Node, bool] = dict(zip(open_probes, reading, strict=True))
            self.fixed = holds
            try:
                world = self._evaluate(graph, others)
            finally:
                self.fixed = {}
            for (focus, shape), sure in probe_status.items():
                if sure or not holds[shape]:  # a probe that does not hold in this world
                    world[(focus, shape)] = True
            worlds.append(world)
        return worlds

    def _evaluate(self, graph: PatientGraph, shapes: Iterable[URIRef]
                  ) -> dict[tuple[Node, URIRef], bool]:
        out: dict[tuple[Node, URIRef], bool] = {}
        instances: dict[Node, list[Node]] = {}
        for shape in shapes:
            foci: dict[Node, None] = {}
            for cls in self.targets[shape]:
                if cls not in instances:
                    instances[cls] = _instances(graph, cls)
                foci.update(dict.fromkeys(instances[cls]))
            must, may = self.must[shape], self.may[shape]
            for focus in foci:
                if not must(graph, focus):
                    out[(focus, shape)] = not may(graph, focus)
        return out


def compile_uncertain(shapes, probes: Iterable[URIRef]) -> UncertainShapes:
    """Compile every shape with a target in both modes."""
    result = UncertainShapes(probes=tuple(sorted(probes, key=str)))
    compiler = _Compiler(shapes, result)
    for shape in sorted(set(shapes.subjects(SH.targetClass, None)), key=str):
        result.targets[shape] = sorted(shapes.objects(shape, SH.targetClass), key=str)
        result.must[shape] = compiler.shape(shape, True)
        result.may[shape] = compiler.shape(shape, False)
    return result


class _Compiler:
    def __init__(self, shapes, owner: UncertainShapes) -> None:
        self.g, self.owner = shapes, owner
        self.memo: dict[tuple[Node, bool], Check] = {}

    def shape(self, node: Node, must: bool) -> Check:
        key = (node, must)
        if key in self.memo:
            return self.memo[key]
        cell: list[Check] = []
        self.memo[key] = lambda graph, focus: cell[0](graph, focus)  # recursion guard
        path = self.g.value(node, SH.path)
        check = (self.property_shape(node, path, must) if path is not None
                 else self.node_shape(node, must))
        if node in self.owner.probes:
            check = self._fixable(node, check)
        cell.append(check)
        self.memo[key] = check
        return check

    def _fixable(self, node: Node, check: Check) -> Check:
        owner = self.owner

        def probe(graph: PatientGraph, focus: Node) -> bool:
            fixed = owner.fixed.get(node)
            return check(graph, focus) if fixed is None else fixed

        return probe

    # -- node shapes -----------------------------------------------------------------------
    def node_shape(self, node: Node, must: bool) -> Check:
        parts = [*self.value_checks(node, must, of_values=False),
                 *(self.shape(p, must) for p in self.g.objects(node, SH.property))]
        return _every(parts)

    # -- property shapes -------------------------------------------------------------------
    def property_shape(self, node: Node, path_node: Node, must: bool) -> Check:
        g = self.g
        path = self.path(path_node)
        each = _every([*self.value_checks(node, must, of_values=True),
                       *(self.shape(p, must) for p in g.objects(node, SH.property))])
        low, high = g.value(node, SH.minCount), g.value(node, SH.maxCount)
        least = int(low) if low is not None else 0
        most = int(high) if high is not None else None
        sets = self.set_checks(node, must)

        def check(graph: PatientGraph, focus: Node) -> bool:
            values = path(graph, focus)
            sure = sum(1 for _v, certain in values if certain)
            # counts: "must" counts the certain values against a minimum, all against a
            # maximum; "may" the other way round
            if (sure if must else len(values)) < least:
                return False
            if most is not None and (len(values) if must else sure) > most:
                return False
            for value, certain in values:
                if (must or certain) and not each(graph, value):
                    return False
            return all(s(graph, focus, values) for s in sets)

        return check

    def set_checks(self, node: Node, must: bool) -> list:
        g, out = self.g, []
        qualified = g.value(node, SH.qualifiedValueShape)
        if qualified is not None:
            inner_must, inner_may = self.shape(qualified, True), self.shape(qualified, False)
            qmin, qmax = g.value(node, SH.qualifiedMinCount), g.value(node,
                                                                      SH.qualifiedMaxCount)

            def qualified_check(graph, focus, values, qmin=qmin, qmax=qmax) -> bool:
                sure = sum(1 for v, c in values if c and inner_must(graph, v))
                maybe = sum(1 for v, _c in values if inner_may(graph, v))
                if qmin is not None and (sure if must else maybe) < int(qmin):
                    return False
                return qmax is None or (maybe if must else sure) <= int(qmax)

            out.append(qualified_check)
        for other in g.objects(node, SH.lessThanOrEquals):
            out.append(_less_than_or_equals(other, must))
        for other in g.objects(node, SH.equals):
            out.append(_equals(other, must))
        for expected in g.objects(node, SH.hasValue):
            out.append(_has_value(expected, must))
        return out

    # -- components on each value ------------------------------------------------------------
    def value_checks(self, node: Node, must: bool, of_values: bool) -> list[Check]:
        g, out = self.g, []
        for component in _COMPONENTS:
            if of_values and component == SH.hasValue:
                continue
            for value in g.objects(node, component):
                out.append(self.component(component, value, must))
        return out

    def component(self, component: URIRef, value: Node, must: bool) -> Check:
        if component == SH["class"]:
            return lambda graph, v: _is_instance(graph, v, value)
        if component in (SH["in"], SH.hasValue):
            allowed = rdf_list(self.g, value) if component == SH["in"] else [value]
            return _member(frozenset(allowed), must)
        if component in _OPS:
            return _range(_OPS[component], value, must)
        if component == SH["not"]:
            inner = self.shape(value, not must)
            return lambda graph, v: not inner(graph, v)
        if component == SH.node:
            return self.shape(value, must)
        members = [self.shape(s, must) for s in rdf_list(self.g, value)]
        if component == SH["and"]:
            return _every(members)
        return lambda graph, v: any(m(graph, v) for m in members)  # sh:or

    def path(self, node: Node) -> Callable[[PatientGraph, Node], Values]:
        if isinstance(node, URIRef):
            return lambda graph, focus: _step(graph, [(focus, True)], node)
        if isinstance(node, BNode) and self.g.value(node, RDF.first) is not None:
            steps = rdf_list(self.g, node)
            if all(isinstance(step, URIRef) for step in steps):
                def sequence(graph: PatientGraph, focus: Node) -> Values:
                    current: Values = [(focus, True)]
                    for step in steps:
                        current = _step(graph, current, cast(URIRef, step))
                    return current

                return sequence
        raise Unsupported(f"path {node}")


_COMPONENTS = (SH["class"], SH["in"], SH.hasValue, SH.minInclusive, SH.maxInclusive,
               SH.minExclusive, SH.maxExclusive, SH["or"], SH["and"], SH["not"], SH.node)


def _step(graph: PatientGraph, nodes: Values, predicate: URIRef) -> Values:
    """One step of a path: each value, certain when reached through certain nodes and not
    marked as holding only possibly through this predicate."""
    spo = graph._spo
    reached: dict[Node, bool] = {}
    for node, certain in nodes:
        for value in spo.get(node, _EMPTY).get(predicate, ()):
            via = spo.get(value, _EMPTY).get(QL.onlyPossiblyVia, ())
            sure = certain and predicate not in via
            reached[value] = reached.get(value, False) or sure
    return list(reached.items())


def _every(checks: list[Check]) -> Check:
    if not checks:
        return lambda graph, value: True
    if len(checks) == 1:
        return checks[0]
    return lambda graph, value: all(c(graph, value) for c in checks)


def _member(allowed: frozenset, must: bool) -> Check:
    numbers = [Decimal(str(m.toPython())) for m in allowed if isinstance(m, Literal)
               and isinstance(m.toPython(), int | float | Decimal)
               and not isinstance(m.toPython(), bool)]

    def check(graph: PatientGraph, value: Node) -> bool:
        if not is_interval(value):
            return value in allowed
        interval = interval_of(value)
        if interval is None or must:
            return False  # an interval that is not a point is never one member for sure
        return any(contains(interval, n) for n in numbers)

    return check


def _range(op: str, limit: Node, must: bool) -> Check:
    if not isinstance(limit, Literal):
        return lambda graph, value: False
    bound = limit.toPython()
    plain = _PLAIN[op]
    try:
        number = Decimal(str(bound))
    except ArithmeticError:
        number = None
    decide = holds_all if must else holds_some

    def check(graph: PatientGraph, value: Node) -> bool:
        if not isinstance(value, Literal):
            return False
        if is_interval(value):
            interval = interval_of(value)
            return interval is not None and number is not None and decide(interval, op,
                                                                          number)
        try:
            return bool(plain(value.toPython(), bound))
        except TypeError:
            return False

    return check


def _less_than_or_equals(other: Node, must: bool):
    def check(graph: PatientGraph, focus: Node, values: Values) -> bool:
        limits = graph._spo.get(focus, _EMPTY).get(other, _EMPTY)
        for value, certain in values:
            if not (must or certain):
                continue
            a = interval_of(value)
            for limit in limits:
                b = interval_of(limit)
                if a is None or b is None:
                    return False
                if must and not (a.hi is not None and b.lo is not None and a.hi <= b.lo):
                    return False
                if not must and not (a.lo is None or b.hi is None or a.lo <= b.hi):
                    return False
        return True

    return check


def _equals(other: Node, must: bool):
    """sh:equals: the values are exactly the focus node's values of ``other``; a value reached
    only possibly may or may not be one of them."""
    def check(graph: PatientGraph, focus: Node, values: Values) -> bool:
        others = set(graph._spo.get(focus, _EMPTY).get(other, _EMPTY))
        sure = {v for v, c in values if c}
        every = {v for v, _c in values}
        return sure == every == others if must else sure <= others <= every

    return check


def _has_value(expected: Node, must: bool):
    """sh:hasValue on a property shape: some value is ``expected`` (certainly, in must mode)."""
    return lambda graph, focus, values: any((c or not must) and (v == expected)
                                            for v, c in values)
