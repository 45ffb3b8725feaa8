"""The OWL 2 DL view of a patient or verdict graph: what a DL reasoner (HermiT, Pellet…) takes.

Graphs write dates as ``xsd:date``, which SPARQL stores compare as dates, but ``xsd:date`` is
outside the OWL 2 datatype map: a DL reasoner refuses such a literal outright. The ontology's
date properties therefore have the range ``xsd:dateTime``, and this view writes every date as
the ``xsd:dateTime`` of its midnight ("2026-11-10T00:00:00", still readable); nothing else
changes. A partial date (``xsd:gYear``, ``xsd:gYearMonth``: outside the map too) is written as
the dateTime of its first day, and a value that is an interval (``ql:DecimalInterval``, issue 20)
is left out of the view: a DL reasoner has no datatype for it, and the view is for classes.
Loaded with the ontology, the view is consistent for every real patient, and a contradiction
(one tumour typed as two protocol histologies) makes it inconsistent.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

_PARTIAL = {XSD.gYear: "-01-01", XSD.gYearMonth: "-01"}
_INTERVAL = URIRef("https://w3id.org/ql1706kg#DecimalInterval")


def dl_literal(term: Node) -> Node:
    """A date literal as the xsd:dateTime of its midnight (a partial date: of its first day);
    any other term unchanged."""
    if isinstance(term, Literal) and term.datatype == XSD.date:
        return Literal(f"{term}T00:00:00", datatype=XSD.dateTime)
    if isinstance(term, Literal) and term.datatype in _PARTIAL:
        return Literal(f"{term}{_PARTIAL[term.datatype]}T00:00:00", datatype=XSD.dateTime)
    return term


def dl_view(triples: Iterable[tuple[Node, Node, Node]]) -> Graph:
    """A new graph of ``triples`` with every date written as OWL 2 DL accepts it."""
    view = Graph()
    for s, p, o in triples:
        if isinstance(o, Literal) and o.datatype == _INTERVAL:
            continue
        view.add((s, p, dl_literal(o)))
    return view
