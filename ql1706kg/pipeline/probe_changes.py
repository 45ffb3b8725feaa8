"""The changes the protocol probe makes to a patient graph (:mod:`.protocol_probe`): links to
facts removed, values removed or made unreadable, a value set on a full path. Each returns a
new graph (the probe patient's stays as it is), or None when the patient has nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from .graph import PatientGraph, copy_graph

Change = Callable[[PatientGraph, URIRef], PatientGraph | None]
JUNK = Literal("unreadable")


def _nodes(graph: PatientGraph, start, path: tuple) -> list:
    found = [start]
    for predicate in path:
        found = [o for node in found for o in graph.objects(node, predicate)]
    return found


def _copy(graph: PatientGraph, drop: set[tuple], add: Iterable[tuple] = ()) -> PatientGraph:
    out = copy_graph(graph)
    for triple in drop:
        out.remove(triple)
    for triple in add:
        out.add(triple)
    return out


def without_links(paths: set[tuple]) -> Callable:
    firsts = {path[0] for path in paths}

    def change(graph: PatientGraph, patient: URIRef) -> PatientGraph | None:
        drop = {(patient, p, o) for p in firsts for o in graph.objects(patient, p)}
        return _copy(graph, drop) if drop else None
    return change


def leaves(paths: set[tuple], replacement: Literal | None) -> Callable:
    def change(graph: PatientGraph, patient: URIRef) -> PatientGraph | None:
        drop, add = set(), []
        for path in paths:
            for node in _nodes(graph, patient, path[:-1]):
                for value in graph.objects(node, path[-1]):
                    drop.add((node, path[-1], value))
                    if replacement is not None:
                        add.append((node, path[-1], replacement))
        return _copy(graph, drop, add) if drop else None
    return change


_DECIMAL = XSD.decimal


def value_at(path: tuple, number: Decimal) -> Callable:
    literal = Literal(str(number), datatype=_DECIMAL)

    def change(graph: PatientGraph, patient: URIRef) -> PatientGraph | None:
        holders = _nodes(graph, patient, path[:-1])
        if not holders:
            return None
        drop = {(n, path[-1], v) for n in holders for v in graph.objects(n, path[-1])}
        return _copy(graph, drop, [(n, path[-1], literal) for n in holders])
    return change
