"""What each criterion reads, from the protocol's data; and the set-aside facts that keep it
from being met.

A fact the reader could not read or trust (``ql:UntrustedFact``: an unknown modifier
extension, an implausible value, a resource type it does not read) is set aside, never
dropped: while it stands, no criterion that reads its section (for an observation, its test)
can be met, since the fact might have decided it the other way. Which criterion reads what is
not listed in Python: it is every property on the paths of the criterion's shapes (with the
shapes they use and the condition probes), and the criterion's ``ql:evidenceProperty``, closed
over ``ql:derivedFromProperty`` (the age is derived from the birth date and the ICF; every
screening result from the observations). An untrusted fact stands for the properties its
section is lifted to (``ql:setAsideFrom``) or, for an observation of a known test, for that
test's screening property.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from rdflib import BNode, Graph, URIRef

from ..protocol.namespaces import QL, RDF, SH
from ..protocol.terminology import Terminology
from ..protocol.texts import used_shapes
from .graph import PatientGraph
from .shacl_compiled import rdf_list
from .validate import Shapes

_CACHE: dict[tuple[int, int], tuple[Shapes, Terminology, dict[str, frozenset[URIRef]]]] = {}


def criterion_reads(shapes: Shapes, term: Terminology) -> dict[str, frozenset[URIRef]]:
    """Per criterion id, every patient property it reads, directly or through a derived one
    (computed once per shapes and terminology)."""
    key = (id(shapes), id(term))
    known = _CACHE.get(key)
    if known is None or known[0] is not shapes or known[1] is not term:
        known = _CACHE[key] = (shapes, term, _reads(shapes, term))
    return known[2]


def criterion_paths(shapes: Shapes, term: Terminology) -> dict[str, frozenset[URIRef]]:
    """Per criterion id, the properties its shapes' paths and its evidence name (without the
    sources they are derived from): where its explanation looks for uncertain facts."""
    key = (id(shapes), -id(term))
    known = _CACHE.get(key)
    if known is None or known[0] is not shapes or known[1] is not term:
        graph = PatientGraph(shapes.triples)
        known = _CACHE[key] = (shapes, term, {cid: frozenset(_direct(graph, shapes, cid, crit))
                                              for cid, crit in term.criteria.items()})
    return known[2]


def _direct(graph: PatientGraph, shapes: Shapes, cid: str, crit: dict) -> set[URIRef]:
    read: set[URIRef] = set(crit["evidence"])
    for shape in shapes.by_criterion(cid):
        for node in used_shapes(cast(Graph, graph), shape.iri):  # (reads only)
            read.update(_path_properties(graph, graph.value(node, SH.path)))
    return read


def _reads(shapes: Shapes, term: Terminology) -> dict[str, frozenset[URIRef]]:
    graph = PatientGraph(shapes.triples)
    sources = {prop: set(found) for prop, found in term.derived_from.items()}
    for info in term.tests.values():
        if info.screening_property is not None:
            sources.setdefault(info.screening_property, set()).add(QL.hasObservation)
    out = {}
    conditions = {key: {"evidence": info.evidence} for key, info in term.logic.conditions.items()}
    for cid, crit in {**term.criteria, **conditions}.items():  # a ql:Condition reads too
        read = _direct(graph, shapes, cid, crit)
        stack = list(read)
        while stack:
            for source in sources.get(stack.pop(), ()):
                if source not in read:
                    read.add(source)
                    stack.append(source)
        out[cid] = frozenset(read)
    return out


def _path_properties(graph: PatientGraph, path) -> list[URIRef]:
    if isinstance(path, URIRef):
        return [path]
    if isinstance(path, BNode):
        return [step for step in rdf_list(graph, path) if isinstance(step, URIRef)]
    return []


def untrusted_links(graph: PatientGraph, fact, term: Terminology) -> set[URIRef]:
    """The properties an untrusted fact stands for: its test's screening property when it is
    an observation of a known test, else the properties of its section."""
    test = graph.value(fact, QL.test)
    info = term.tests.get(cast(URIRef, test)) if test is not None else None
    if info is not None:
        return {info.screening_property} if info.screening_property is not None else set()
    return set(cast("Iterator[URIRef]", graph.objects(fact, QL.setAsideFrom)))


def blocking_facts(graph: PatientGraph, patient, crit: dict, shapes: Shapes,
                   term: Terminology) -> list:
    """The untrusted facts set aside that a criterion reads (it cannot be met while they
    stand)."""
    read = criterion_reads(shapes, term).get(crit["id"], frozenset())
    return [fact for fact in graph.objects(patient, QL.setAsideFact)
            if (fact, RDF.type, QL.UntrustedFact) in graph
            and untrusted_links(graph, fact, term) & read]
