"""Every term a protocol folder uses must be one that something defines.

RDF tools ignore what they do not know: a misspelt ``ql:appliesWhne`` is a triple nobody reads
(the criterion then applies to everyone), a shape whose ``sh:path ql:hasOtherActivePrimaryCancr``
names no property finds no value (a ``sh:maxCount 0`` is then met by every patient), and
``sh:maxInclusve`` is no constraint at all. None of this is an error to a Turtle parser, to
pySHACL or to the W3C SHACL-SHACL shapes, so a folder could silently make patients eligible.

A folder is therefore refused (naming the file, the term and the nearest known spelling) when it
uses:

* a term of the engine's namespace (``ql:``, as predicate, object, datatype or in a query) that
  neither the engine's bundled ontology and shapes nor the folder itself defines (a subject of
  some triple);
* a term of a closed W3C vocabulary (RDF, RDFS, OWL, XSD, SHACL) that the vocabulary does not
  define (rdflib's ``DefinedNamespace`` lists them, from the specifications);
* a shape, by IRI, in a shape-valued SHACL parameter (``sh:node``, ``sh:property``,
  ``sh:qualifiedValueShape``, ``sh:not``, the members of ``sh:and`` / ``sh:or`` / ``sh:xone``)
  that no file of the folder describes: SHACL reads an undescribed shape as one without
  constraints, which every node conforms to.
"""

from __future__ import annotations

import difflib
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path

from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, SH

from .check_criteria import ProtocolRefused
from .namespaces import QL
from .resources import bundled_data_dir, cache_dir, content_hash, read_cache, write_cache

_CLOSED = (RDF, RDFS, OWL, XSD, SH)
_SHAPE_VALUED = (SH.node, SH.property, SH.qualifiedValueShape, SH["not"])
_SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)


def check_terms(graphs: dict[Path, Graph], queries: Iterable[Path]) -> None:
    """Refuse the folder (:class:`ProtocolRefused`) at its first unknown term or undescribed
    shape, in file order; see the module docstring."""
    known = _engine_terms() | {s for g in graphs.values() for s in g.subjects()
                               if isinstance(s, URIRef)}
    for file, graph in sorted(graphs.items()):
        for term in _used(graph):
            _refuse_unknown(file, term, known)
        if file.parent.name == "shapes":
            _shapes_described(file, graph, graphs)
    for file in sorted(queries):
        for term in _query_terms(file):
            _refuse_unknown(file, term, known)


def _refuse_unknown(file: Path, term: URIRef, known: set[URIRef]) -> None:
    text = str(term)
    if text.startswith(str(QL)):
        if term in known:
            return
        candidates = [str(k) for k in known if str(k).startswith(str(QL))]
        owner = "neither the engine's ontology nor this folder defines it"
    else:
        vocabulary = next((ns for ns in _CLOSED if text.startswith(str(ns))), None)
        if vocabulary is None or term in vocabulary:
            return
        candidates = [str(vocabulary) + name for name in dir(vocabulary)
                      if not name.startswith("_")]
        owner = f"its vocabulary ({vocabulary}) defines no such term"
    near = difflib.get_close_matches(text, candidates, n=1, cutoff=0.8)
    hint = f"; did you mean <{near[0]}>?" if near else ""
    raise ProtocolRefused(f"{file}: uses <{text}>, but {owner}{hint} (RDF tools ignore an "
                          "unknown term, which could make a criterion met)")


def _used(graph: Graph) -> Iterator[URIRef]:
    """The IRIs ``graph`` uses as predicates or objects, and the datatypes of its literals."""
    seen: set[URIRef] = set()
    for _subject, predicate, value in graph:
        for term in (predicate, value.datatype if isinstance(value, Literal) else value):
            if isinstance(term, URIRef) and term not in seen:
                seen.add(term)
                yield term


def _shapes_described(file: Path, graph: Graph, graphs: dict[Path, Graph]) -> None:
    described = {s for f, g in graphs.items() if f.parent.name == "shapes"
                 for s in g.subjects() if isinstance(s, URIRef)}
    for shape in _shape_references(graph):
        if isinstance(shape, URIRef) and shape not in described:
            raise ProtocolRefused(
                f"{file}: names the shape <{shape}>, which no shapes file describes (SHACL "
                "reads it as a shape without constraints, which every patient conforms to)")


def _shape_references(graph: Graph) -> Iterator:
    for parameter in _SHAPE_VALUED:
        yield from graph.objects(None, parameter)
    for parameter in _SHAPE_LISTS:
        for head in graph.objects(None, parameter):
            if isinstance(head, BNode) or head == RDF.nil:
                yield from Collection(graph, head)


def _query_terms(file: Path) -> set[URIRef]:
    """The IRIs a SPARQL query names (its algebra, so prefixes are resolved); a query that
    parses but cannot be translated (an undefined prefix) is refused here."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        algebra = prepareQuery(file.read_text(encoding="utf-8")).algebra
    except Exception as exc:  # rdflib raises several kinds: each is a refusal, not a crash
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProtocolRefused(f"{file}: not a usable SPARQL query: {why}") from None
    found: set[URIRef] = set()
    stack: list[object] = [algebra]
    while stack:
        node = stack.pop()
        if isinstance(node, URIRef):
            found.add(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set | frozenset):
            stack.extend(node)
    return found


def _engine_terms() -> set[URIRef]:
    """Every engine-namespace IRI the bundled ontology and shapes describe, cached on disk by
    their content (a check then parses only the folder)."""
    files = [*sorted(bundled_data_dir("ontology").glob("*.ttl")),
             *sorted(bundled_data_dir("shapes").glob("*.ttl"))]
    key = content_hash(files, Path(__file__).read_bytes())
    path = cache_dir() / f"protocol-terms-{key}.pickle"
    found = read_cache(path, lambda value: isinstance(value, frozenset))
    if found is None:
        graph = Graph()
        for file in files:
            graph.parse(file, format="turtle")
        found = frozenset(s for s in graph.subjects()
                          if isinstance(s, URIRef) and str(s).startswith(str(QL)))
        write_cache(path, pickle.dumps(found))
    return set(found)
