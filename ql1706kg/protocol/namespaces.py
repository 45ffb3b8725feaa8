"""The project's namespaces, and one object per term.

``QL`` is open (terms come from the ontology files). Every namespace here makes each term once
and keeps it, and :func:`intern` gives the ontology's and the shapes' terms that same object.
Why: a patient is looked up ~1,000 times by term; rdflib's closed namespaces (``RDF.type``)
build a new URIRef on every attribute access, and two equal but distinct URIRefs are told
equal by rdflib's Python-level ``__eq__``, where one object is told equal by identity (in C).
Profiled before this: ~2.5 million ``__eq__`` calls for 2,000 patients.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from typing import Any

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL as _OWL
from rdflib.namespace import PROV as _PROV
from rdflib.namespace import RDF as _RDF
from rdflib.namespace import RDFS as _RDFS
from rdflib.namespace import SH as _SH
from rdflib.namespace import SKOS as _SKOS
from rdflib.namespace import XSD as _XSD

_TERMS: dict[URIRef, URIRef] = {}


def intern(term: Any) -> Any:
    """The one shared object of a URIRef (anything else is returned as it is)."""
    if type(term) is URIRef:
        return _TERMS.setdefault(term, term)
    return term


def intern_all(value: Any) -> Any:
    """``value`` with every URIRef inside it (dicts, lists, tuples, sets, dataclasses) shared;
    for tables loaded once (the terminology), not for per-patient data."""
    if type(value) is URIRef:
        return intern(value)
    if isinstance(value, dict):
        return {intern_all(k): intern_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(intern_all(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            object.__setattr__(value, item.name, intern_all(getattr(value, item.name)))
    return value


def _interned_iri(value: str) -> URIRef:
    """Unpickling a URIRef: the shared object (named in pickles; keep its name)."""
    return intern(URIRef(value))


def _literal(lexical: str, language: str | None, datatype: URIRef | None) -> Literal:
    """Unpickling a Literal: its lexical form exactly as it was (named in pickles)."""
    return Literal(lexical, lang=language, datatype=datatype, normalize=False)


class _InterningPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is URIRef:
            return _interned_iri, (str(obj),)
        if type(obj) is Literal:
            return _literal, (str(obj), obj.language, obj.datatype)
        return NotImplemented


def dumps_interned(value: Any) -> bytes:
    """Pickle a table whose URIRefs, when loaded, are the shared objects: loading is then one
    ``pickle.loads`` (each distinct IRI interned once, as pickle keeps one copy of each
    object), with no walk over the table like :func:`intern_all`."""
    buffer = io.BytesIO()
    _InterningPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def interned_graph(graph: Graph) -> Graph:
    """A copy of ``graph`` whose URIRefs are the shared objects (prefixes kept)."""
    copy = Graph(namespace_manager=graph.namespace_manager)
    copy.addN((intern(s), intern(p), intern(o), copy) for s, p, o in graph)
    return copy


class _CachedNamespace(Namespace):
    """A Namespace that makes each term once (and shares it through :func:`intern`)."""

    def __getattr__(self, name: str):
        term = super().__getattr__(name)
        if not name.startswith("__"):
            term = intern(term)
            self.__dict__[name] = term
        return term

    def __getitem__(self, key: str):  # type: ignore[override]  # rdflib's Namespace does so
        return intern(super().__getitem__(key))


QL = _CachedNamespace("https://w3id.org/ql1706kg#")
QLS = _CachedNamespace("https://w3id.org/ql1706kg/shapes#")
QLP = Namespace("https://w3id.org/ql1706kg/patient/")  # one term per patient: not kept
QLR = Namespace("https://w3id.org/ql1706kg/result/")
OWL, PROV, RDF, RDFS, SH, SKOS, XSD = (
    _CachedNamespace(str(ns)) for ns in (_OWL, _PROV, _RDF, _RDFS, _SH, _SKOS, _XSD))

__all__ = ["OWL", "PROV", "QL", "QLP", "QLR", "QLS", "RDF", "RDFS", "SH", "SKOS", "XSD",
           "bind_prefixes", "dumps_interned", "intern", "intern_all", "interned_graph"]


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes so serialisations read well."""
    for prefix, ns in (("ql", QL), ("qls", QLS), ("qlp", QLP), ("qlr", QLR), ("prov", PROV),
                       ("sh", SH), ("skos", SKOS)):
        graph.bind(prefix, ns, override=True)
    return graph
