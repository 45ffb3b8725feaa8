"""Walks over a shapes graph that the protocol check and the protocol probe share: the
criteria by the id in their data, the shapes of each criterion, the full path (from the
patient) of every value a criterion's shapes read and of every numeric limit, and the cycles
a shape graph must not hold.

A criterion is known by its ``ql:criterionId`` literal, never by the spelling of its IRI: a
shape belongs to the criterion whose individual it names with ``ql:criterion``, and that
individual's id is the criterion's identity (a folder that renames the IRI keeps the
criterion; one that drops the id loses it).

A full path is the tuple of predicates from the focus node (the patient) to a value: a
property shape's ``sh:path`` (a predicate or a sequence of predicates) appended to the path of
the value nodes its parent constrains. A shape nested in a property shape (``sh:property``,
``sh:node``, ``sh:qualifiedValueShape``, ``sh:not``, the members of ``sh:or``/``sh:and``/
``sh:xone``) applies to that property's value nodes; one nested in a node shape applies to the
same focus. A path that is not a plain sequence of predicates (inverse, alternative, ``*``…)
is ``None``: no value can be placed on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from rdflib import BNode, Graph, URIRef

from .namespaces import QL, RDF, SH
from .texts import literal_number, shape_children

BOUNDS = {SH.minInclusive: (True, False), SH.minExclusive: (True, True),
          SH.maxInclusive: (False, False), SH.maxExclusive: (False, True)}
Path = tuple[URIRef, ...] | None


class ShapeCycle(ValueError):
    """Shapes that use each other in a ring (``sh:node``/``sh:property``/… back to itself)."""

    def __init__(self, ring: list) -> None:
        super().__init__("shapes use each other in a cycle")
        self.ring = ring


@dataclass(frozen=True)
class Bound:
    """One numeric limit: its criterion's id, the full path of the value it limits, whether it
    is a minimum, whether it is exclusive, its number and the shape node holding it."""

    criterion: str
    path: Path
    minimum: bool
    exclusive: bool
    value: Decimal
    shape: object
    top: URIRef


def criterion_ids(ontology: Graph) -> dict[URIRef, str]:
    """Each atomic criterion's individual and the id its data gives (``ql:criterionId``)."""
    out = {}
    for criterion in ontology.subjects(RDF.type, QL.AtomicCriterion):
        cid = ontology.value(criterion, QL.criterionId)
        if isinstance(criterion, URIRef) and cid is not None:
            out[criterion] = str(cid)
    return out


def top_shapes(shapes: Graph, ids: dict[URIRef, str]) -> dict[str, list[URIRef | BNode]]:
    """The top-level shapes of each criterion (by id), in a stable order."""
    out: dict[str, list] = {}
    for shape, criterion in shapes.subject_objects(QL.criterion):
        if criterion in ids:
            out.setdefault(ids[criterion], []).append(shape)
    return {cid: sorted(found, key=str) for cid, found in out.items()}


def simple_path(shapes: Graph, path) -> Path:
    """A ``sh:path`` as a tuple of predicates, or None when it is not a plain sequence."""
    if isinstance(path, URIRef):
        return (path,)
    if isinstance(path, BNode) and shapes.value(path, RDF.first) is not None:
        items = []
        node, seen = path, set()
        while node is not None and node != RDF.nil:
            if node in seen:
                return None
            seen.add(node)
            item = shapes.value(node, RDF.first)
            if not isinstance(item, URIRef):
                return None
            items.append(item)
            node = shapes.value(node, RDF.rest)
        return tuple(items) if items else None
    return None


def _walk(shapes: Graph, top) -> Iterator[tuple[object, Path]]:
    """Every shape node used by ``top`` with the full path of the nodes it applies to (its
    own ``sh:path`` included for a property shape); each (node, path) pair once."""
    stack: list[tuple[object, Path]] = [(top, ())]
    seen = set()
    while stack:
        node, prefix = stack.pop()
        if (node, prefix) in seen or len(seen) > 100_000:
            continue
        seen.add((node, prefix))
        path = shapes.value(node, SH.path)
        here = prefix
        if path is not None:
            own = simple_path(shapes, path)
            here = None if prefix is None or own is None else prefix + own
        yield node, here
        for child in shape_children(shapes, node):
            if isinstance(child, URIRef | BNode):
                stack.append((child, here))


def bounds(shapes: Graph, ids: dict[URIRef, str]) -> list[Bound]:
    """Every numeric limit of every criterion's shapes (nested and named helpers included)."""
    out = []
    for cid, tops in top_shapes(shapes, ids).items():
        for top in tops:
            for node, path in _walk(shapes, top):
                for predicate, (minimum, exclusive) in BOUNDS.items():
                    for value in shapes.objects(node, predicate):
                        number = literal_number(value)
                        if number is not None and number.is_finite():
                            out.append(Bound(cid, path, minimum, exclusive, number, node,
                                             top))
    return sorted(set(out), key=lambda b: (b.criterion, str(b.path), b.minimum, b.value,
                                            str(b.shape)))


def fact_paths(shapes: Graph, ids: dict[URIRef, str]) -> dict[str, set[tuple[URIRef, ...]]]:
    """The full paths of the values each criterion's shapes read (plain sequences only)."""
    out: dict[str, set] = {}
    for cid, tops in top_shapes(shapes, ids).items():
        for top in tops:
            for _node, path in _walk(shapes, top):
                if path:
                    out.setdefault(cid, set()).add(path)
    return out


def literals_of(shapes: Graph, ids: dict[URIRef, str]) -> dict[str, set[Decimal]]:
    """Every number any shape of a criterion states (limits, ``sh:in``, ``sh:hasValue``…):
    the points a trick such as ``sh:or ( [limit] [sh:hasValue 0.7] )`` would single out."""
    out: dict[str, set] = {}
    for cid, tops in top_shapes(shapes, ids).items():
        for top in tops:
            for node, _path in _walk(shapes, top):
                for _p, value in shapes.predicate_objects(node):
                    values = [value]
                    if isinstance(value, BNode) and shapes.value(value, RDF.first) is not None:
                        values = list(_members(shapes, value))
                    for item in values:
                        number = literal_number(item)
                        if number is not None and number.is_finite():
                            out.setdefault(cid, set()).add(number)
    return out


def _members(shapes: Graph, head) -> Iterator:
    seen = set()
    while head is not None and head != RDF.nil and head not in seen:
        seen.add(head)
        yield shapes.value(head, RDF.first)
        head = shapes.value(head, RDF.rest)


def find_cycle(shapes: Graph) -> list | None:
    """A ring of shapes that use one another (each through sh:node, sh:property, sh:not,
    sh:qualifiedValueShape or a member of sh:or/sh:and/sh:xone), or None: SHACL leaves a
    recursive shape undefined, and an engine would recurse until it fails."""
    nodes = {s for p in (SH.property, SH.node, SH.qualifiedValueShape, SH["not"], SH["or"],
                         SH["and"], SH.xone) for s in shapes.subjects(p, None)}
    state: dict = {}  # 1: on the current path, 2: done
    for start in sorted(nodes, key=str):
        if start in state:
            continue
        path = [start]
        iterators = [iter(shape_children(shapes, start))]
        state[start] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
                continue
            if not isinstance(child, URIRef | BNode):
                continue
            if state.get(child) == 1:
                return [*path[path.index(child):], child]
            if child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(shape_children(shapes, child)))
    return None
