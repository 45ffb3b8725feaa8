"""The project's namespaces. ``QL`` is open (terms come from the ontology files)."""

from __future__ import annotations

from rdflib import Graph, Namespace
from rdflib.namespace import OWL, PROV, RDF, RDFS, SH, SKOS, XSD

QL = Namespace("https://w3id.org/ql1706kg#")
QLS = Namespace("https://w3id.org/ql1706kg/shapes#")
QLP = Namespace("https://w3id.org/ql1706kg/patient/")
QLR = Namespace("https://w3id.org/ql1706kg/result/")

__all__ = ["OWL", "PROV", "QL", "QLP", "QLR", "QLS", "RDF", "RDFS", "SH", "SKOS", "XSD",
           "bind_prefixes"]


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes so serialisations read well."""
    for prefix, ns in (("ql", QL), ("qls", QLS), ("qlp", QLP), ("qlr", QLR), ("prov", PROV),
                       ("sh", SH), ("skos", SKOS)):
        graph.bind(prefix, ns, override=True)
    return graph
