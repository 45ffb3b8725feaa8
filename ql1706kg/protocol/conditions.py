"""Conditions and their composition, read from the ontology (three-valued logic as data).

A ``ql:Condition`` is decided exactly like a criterion (shapes name it with ``ql:criterion``
and say what their violation means with ``ql:onViolation``), to met / not_met / unknown, but it
is no criterion of the protocol: no outcome row, no part of the verdict; it exists to be
referenced. A criterion or a condition can be

- *defined by a composition*: ``ql:anyOf ( … )`` (Kleene OR), ``ql:allOf ( … )`` (Kleene
  AND), ``ql:noneOf ( … )`` (NOT any of); members are conditions or further compositions
  (blank nodes carrying one of the three). With shapes of its own as well, both must hold;
- *applicable only when* a condition or composition holds (``ql:appliesWhen``).

The evaluation is :mod:`ql1706kg.pipeline.compose`; this module only reads the declarations
and refuses what cannot be evaluated (:class:`LogicError`): a member that is neither a
condition nor a composition, an empty list, a cycle, a condition that nothing references or
that decides nothing (no shapes and no composition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import RDFS, BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from ..errors import ShapesError
from .namespaces import QL, RDF
from .visible import visible

OPERATORS = {"any": QL.anyOf, "all": QL.allOf, "none": QL.noneOf}
# the outcome a condition's text is for (ql:whenMet …: the words an explanation uses)
TEXTS = {"met": QL.whenMet, "not_met": QL.whenNotMet, "unknown": QL.whenUnknown}


class LogicError(ValueError):
    """A composition or condition that cannot be evaluated; the message names it."""


@dataclass(frozen=True)
class Expr:
    """A condition reference (``op`` "is", ``ref`` its key) or a composition ("any", "all",
    "none") of ``members``."""

    op: str
    ref: str = ""
    members: tuple[Expr, ...] = ()

    def refs(self) -> set[str]:
        """Every condition this expression reads."""
        return {self.ref} if self.op == "is" else set().union(*(m.refs() for m in self.members))


@dataclass(frozen=True)
class ConditionInfo:
    """What explanations need of a condition: its label and its words for each outcome."""

    key: str
    iri: URIRef
    label: str
    texts: dict[str, str] = field(default_factory=dict)
    collect: str = ""
    evidence: tuple[URIRef, ...] = ()


@dataclass(frozen=True)
class Logic:
    """The conditions (by key: the IRI's text), and per criterion id or condition key its
    definition and its applicability."""

    conditions: dict[str, ConditionInfo] = field(default_factory=dict)
    defined: dict[str, Expr] = field(default_factory=dict)
    applies: dict[str, Expr] = field(default_factory=dict)

    def composed(self, key: str) -> bool:
        """Whether a criterion's outcome goes through the logic (not only its own shapes)."""
        return key in self.defined or key in self.applies

    def reads(self, key: str) -> set[str]:
        """Every condition a criterion or condition depends on, directly or not."""
        out: set[str] = set()
        stack = [key]
        while stack:
            current = stack.pop()
            for expr in (self.defined.get(current), self.applies.get(current)):
                for ref in expr.refs() if expr is not None else ():
                    if ref not in out:
                        out.add(ref)
                        stack.append(ref)
        return out


def _name(node: Node, graph: Graph) -> str:
    return "a blank node" if isinstance(node, BNode) else node.n3(graph.namespace_manager)


def read_logic(graph: Graph, criteria: dict[URIRef, str],
               shaped: set[URIRef] | None = None) -> Logic:
    """The conditions and compositions of ``graph`` (an ontology); ``criteria`` maps each
    criterion IRI to its id; ``shaped`` (when given) the criteria and conditions shapes name,
    so a condition that decides nothing is refused."""
    conditions = {str(c): c for c in graph.subjects(RDF.type, QL.Condition)
                  if isinstance(c, URIRef)}
    keys = {**{iri: key for key, iri in conditions.items()}, **criteria}
    logic = Logic(conditions={key: _info(graph, key, iri) for key, iri in conditions.items()})
    for subject, key in keys.items():
        parts = [_expr(graph, subject, keys, op, prop, (subject,))
                 for op, prop in OPERATORS.items() if graph.value(subject, prop) is not None]
        if parts:
            logic.defined[key] = parts[0] if len(parts) == 1 else Expr("all", members=tuple(parts))
        when = list(graph.objects(subject, QL.appliesWhen))
        if len(when) > 1:
            raise LogicError(f"{_name(subject, graph)} has {len(when)} ql:appliesWhen: one "
                             "condition (compose several with ql:allOf)")
        if when:
            logic.applies[key] = _member(graph, when[0], keys, (subject,))
    _check(graph, logic, conditions, shaped)
    return logic


def _info(graph: Graph, key: str, iri: URIRef) -> ConditionInfo:
    label = graph.value(iri, RDFS.label)
    return ConditionInfo(
        key=key, iri=iri, label=visible(label) if label is not None else key,
        texts={outcome: visible(text) for outcome, prop in TEXTS.items()
               if (text := graph.value(iri, prop)) is not None},
        collect=visible(graph.value(iri, QL.collectHint) or ""),
        evidence=tuple(sorted(v for v in graph.objects(iri, QL.evidenceProperty)
                              if isinstance(v, URIRef))))


def _expr(graph: Graph, node: Node, keys: dict[URIRef, str], op: str, prop: URIRef,
          path: tuple[Node, ...]) -> Expr:
    lists = list(graph.objects(node, prop))
    if len(lists) != 1:
        raise LogicError(f"{_name(node, graph)} has {len(lists)} {prop.n3(graph.namespace_manager)}"
                         ": one list of members")
    members = list(Collection(graph, lists[0])) if lists[0] != RDF.nil else []
    if not members:
        raise LogicError(f"{_name(path[0], graph)}: an empty {prop.n3(graph.namespace_manager)}"
                         " decides nothing (give it at least one member)")
    return Expr(op, members=tuple(_member(graph, m, keys, (*path, node)) for m in members))


def _member(graph: Graph, node: Node, keys: dict[URIRef, str], path: tuple[Node, ...]) -> Expr:
    if isinstance(node, URIRef) and node in keys:
        if (node, RDF.type, QL.Condition) not in graph:
            raise LogicError(f"{_name(path[0], graph)} references the criterion "
                             f"{_name(node, graph)}: reference a ql:Condition (a criterion's "
                             "outcome is reported, a condition's is not)")
        return Expr("is", ref=keys[node])
    if node in path:
        raise LogicError(f"{_name(path[0], graph)}: a composition contains itself")
    found = [(op, prop) for op, prop in OPERATORS.items() if graph.value(node, prop) is not None]
    if len(found) != 1:
        raise LogicError(f"{_name(path[0], graph)} references {_name(node, graph)}, which is "
                         "neither a ql:Condition nor a composition with exactly one of "
                         "ql:anyOf, ql:allOf, ql:noneOf")
    return _expr(graph, node, keys, *found[0], path)


def _check(graph: Graph, logic: Logic, conditions: dict[str, URIRef],
           shaped: set[URIRef] | None) -> None:
    """Refuse cycles, conditions nothing references, and conditions that decide nothing."""
    def deps(key: str) -> set[str]:
        return set().union(*(e.refs() for e in (logic.defined.get(key), logic.applies.get(key))
                             if e is not None))

    state: dict[str, int] = {}

    def visit(key: str, trail: tuple[str, ...]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = " -> ".join(_name(conditions.get(k, URIRef(k)), graph)
                                for k in (*trail[trail.index(key):], key))
            raise LogicError(f"a cycle of conditions: {cycle}")
        state[key] = 1
        for ref in sorted(deps(key)):
            visit(ref, (*trail, key))
        state[key] = 2

    for key in sorted({*logic.defined, *logic.applies}):
        visit(key, ())
    used = set().union(*(deps(k) for k in {*logic.defined, *logic.applies}))
    for key, iri in sorted(conditions.items()):
        if key not in used:
            raise LogicError(f"the condition {_name(iri, graph)} is used by no criterion or "
                             "condition (ql:anyOf, ql:allOf, ql:noneOf, ql:appliesWhen): "
                             "reference it or remove it")
        if shaped is not None and iri not in shaped and key not in logic.defined:
            raise LogicError(f"the condition {_name(iri, graph)} decides nothing: no shape "
                             "names it (ql:criterion) and it has no composition")


def logic_of(graph: Graph, criteria: dict[URIRef, str]) -> Logic:
    """:func:`read_logic` for the terminology, whose errors are :class:`ShapesError`."""
    try:
        return read_logic(graph, criteria)
    except LogicError as exc:
        raise ShapesError(str(exc)) from None
