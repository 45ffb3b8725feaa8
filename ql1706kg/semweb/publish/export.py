"""The ontology and shapes as files a vocabulary registry takes: Turtle, JSON-LD (context
inline), RDF/XML or N-Triples that round-trip to the same graph, and HTML pages (pyLODE).
"""

from __future__ import annotations

import functools
import logging
from io import BytesIO
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH
from rdflib.plugins.serializers.turtle import TurtleSerializer

from ...protocol.namespaces import bind_prefixes
from ...protocol.resources import bundled_data_dir, ontology_files, protocol_root, shape_files
from ...protocol.texts import render_graph

WHATS = ("ontology", "shapes", "all")
# What declares a term (OWL 2 Structural Specification 5.8); a declared term's label and
# comment travel with its declaration.
_DECLARATIONS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                 RDFS.Datatype)
FORMATS: dict[str, str] = {"ttl": "turtle", "jsonld": "json-ld", "xml": "xml", "nt": "nt"}
PYLODE_VERSION = "3.3.4"


def publication_graph(what: str) -> Graph:
    """Return the bundled ontology (both files), the shapes, or both, as one graph."""
    if what not in WHATS:
        raise ValueError(f"what must be one of {', '.join(WHATS)}, not {what!r}")
    paths = [*ontology_files()] if what in ("ontology", "all") else []
    paths += shape_files() if what in ("shapes", "all") else ()
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    if protocol_root() is not None:
        _declare_engine_terms(graph)
    return bind_prefixes(render_graph(graph))  # texts show their limits' numbers


def _declare_engine_terms(graph: Graph) -> None:
    """Add the engine's declarations of the terms a protocol folder uses without declaring.

    A folder written for another trial uses the engine's vocabulary (``ql:anyOf``,
    ``sh:minInclusive`` read as OWL properties) but need not copy its declarations, and a copy
    goes stale as the engine grows; a registry's OWL validator rejects an undeclared term, so
    the publication declares each as the engine's own files do."""
    engine = _engine_declarations()
    declared = {s for kind in _DECLARATIONS for s in graph.subjects(RDF.type, kind)}
    used = {term for _s, p, o in graph for term in (p, o.datatype if isinstance(o, Literal) else o)
            if isinstance(term, URIRef)}
    predicates = set(graph.predicates())
    for term in sorted(used - declared):
        for predicate, value in engine.predicate_objects(term):
            graph.add((term, predicate, value))
        if term in SH and (term, RDF.type, None) not in engine:
            # a SHACL term the engine's own shapes do not use: declared as they declare theirs
            # (to OWL a shape is an individual, its constraints annotations)
            graph.add((term, RDF.type,
                       OWL.AnnotationProperty if term in predicates else OWL.Class))


@functools.cache
def _engine_declarations() -> Graph:
    """The declarations (type, label, comment) of the engine's bundled ontology and shapes."""
    files = [*sorted(bundled_data_dir("ontology").glob("*.ttl")),
             *sorted(bundled_data_dir("shapes").glob("*.ttl"))]
    source, out = Graph(), Graph()
    for file in files:
        source.parse(file, format="turtle")
    for kind in _DECLARATIONS:
        for term in source.subjects(RDF.type, kind):
            out.add((term, RDF.type, kind))
            for predicate in (RDFS.label, RDFS.comment):
                for value in source.objects(term, predicate):
                    out.add((term, predicate, value))
    return out


def export(what: str, fmt: str) -> str:
    """Serialise the ontology, the shapes or both as Turtle, JSON-LD, RDF/XML or N-Triples.

    JSON-LD carries its own ``@context`` (the graph's prefixes), so a reader never fetches a
    remote context and the output is compact rather than expanded.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    graph = publication_graph(what)
    if fmt == "jsonld":
        return graph.serialize(format="json-ld", context=_jsonld_context(graph))
    if fmt == "ttl":
        stream = BytesIO()
        LosslessTurtleSerializer(graph).serialize(stream, encoding="utf-8")
        return stream.getvalue().decode("utf-8")
    return graph.serialize(format=FORMATS[fmt])


class LosslessTurtleSerializer(TurtleSerializer):
    """Turtle that keeps every literal's lexical form.

    rdflib writes numbers in shorthand, which re-spells a non-canonical lexical form
    (``"1"^^xsd:decimal`` becomes ``1.0``): the same value but a different RDF term, so the
    export would not round-trip to the same graph. Such literals are written quoted instead.
    """

    def label(self, node: Any, position: int) -> str:
        """Write a literal in shorthand only when the shorthand spells its lexical form."""
        if not isinstance(node, Literal):
            return super().label(node, position)
        plain = node._literal_n3(use_plain=True, qname_callback=self._datatype_name)
        if plain.startswith('"') or plain == str(node):
            return plain
        return node._literal_n3(use_plain=False, qname_callback=self._datatype_name)

    def _datatype_name(self, datatype: str) -> str | None:
        """Return a datatype's prefixed name when its prefix is bound (as rdflib does)."""
        return self.get_pname(URIRef(datatype), False)


def _jsonld_context(graph: Graph) -> dict[str, str]:
    """Return the prefixes of the namespaces the graph's IRIs actually use."""
    iris = {str(term) for triple in graph for term in triple if isinstance(term, URIRef)}
    iris |= {str(o.datatype) for o in graph.objects() if isinstance(o, Literal) and o.datatype}
    return {
        prefix: str(namespace)
        for prefix, namespace in sorted(graph.namespaces())
        if prefix and any(iri.startswith(str(namespace)) for iri in iris)
    }


def docs(out_dir: Path) -> Path:
    """Write browsable HTML documentation of the ontology to ``out_dir/index.html``.

    pyLODE 3.3.4 renders it offline: its background vocabularies ship with it and the CSS is
    inlined, so the page has no external resources. The graph given to pyLODE is a fresh one,
    since pyLODE adds its own inferred triples to it.
    """
    ontpub = _import_ontpub()
    try:
        html = ontpub(ontology=publication_graph("ontology")).make_html()
    except PermissionError as error:
        # pyLODE 3.3.4 pickles its background vocabularies into its own package folder on
        # first use and only tolerates FileNotFoundError there.
        raise RuntimeError(
            f"pyLODE could not write its cache in its package folder ({error.filename}); "
            "run this once with write access to the Python environment"
        ) from error
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    return target


def _import_ontpub() -> Any:
    """Import pyLODE's OntPub, undoing the DEBUG root-logger set-up its import performs.

    ``pylode.profiles.supermodel.loader`` calls ``logging.basicConfig(level=DEBUG)`` at import,
    which would make every library's debug messages appear on a CLI user's stderr.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from pylode import OntPub
    except ImportError as error:
        raise RuntimeError(
            f"the ontology's HTML documentation needs pyLODE {PYLODE_VERSION}, the 'docs' "
            "extra: pip install 'ql1706kg[docs]'"
        ) from error
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return OntPub
