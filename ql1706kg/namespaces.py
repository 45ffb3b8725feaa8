"""The project's namespaces. ``QL`` is open (terms come from the ontology files)."""

from __future__ import annotations

from rdflib import Graph, Namespace
from rdflib.namespace import OWL, PROV, RDF, RDFS, SH, SKOS, XSD


class _CachedNamespace(Namespace):
    """A Namespace that makes each term once: the pipeline looks up its terms ~1,000 times per
    patient, and rdflib builds a new URIRef on every attribute access (profiled: ~13 % of a
    screening before this)."""

    def __getattr__(self, name: str):
        term = super().__getattr__(name)
        if not name.startswith("__"):
            self.__dict__[name] = term
        return term


QL = _CachedNamespace("https://w3id.org/ql1706kg#")
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
