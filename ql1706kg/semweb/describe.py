"""What ``serve`` says about itself: a SPARQL 1.1 Service Description and a VoID description.

- ``GET /query`` (or ``/sparql``) without a query, asking for Turtle, N-Triples, JSON-LD or
  RDF/XML (or anything, ``*/*``; :mod:`.negotiation`), is answered with the service
  description (SPARQL 1.1 Service Description, W3C
  Recommendation 2013, §3 "Service Description Vocabulary" and §2 "Accessing a Service
  Description": the description is what a GET of the endpoint URL returns). Ours, not
  Oxigraph's own, since that one advertises ``sd:BasicFederatedQuery`` (the gate refuses
  ``SERVICE``) and no dataset: ``sd:Service`` with ``sd:endpoint``, ``sd:supportedLanguage
  sd:SPARQL11Query``, each ``sd:resultFormat`` (W3C format IRIs,
  https://www.w3.org/ns/formats/), and ``sd:defaultDataset`` whose default graph is the union
  of the named graphs, each ``sd:namedGraph`` listed (the ontology, the shapes, then the
  assessments, at most :data:`MAX_LISTED_GRAPHS` of them).
- ``GET /.well-known/void`` is the VoID description (Describing Linked Datasets with the VoID
  Vocabulary, W3C Interest Group Note 2011, §3.1 for the statistics, §6.2 for the
  ``/.well-known/void`` path): a ``void:Dataset`` with ``void:sparqlEndpoint``,
  ``void:triples``, ``void:distinctSubjects``, ``void:classPartition`` (``void:class``,
  ``void:entities``), ``void:propertyPartition`` (``void:property``, ``void:triples``) and
  ``void:vocabulary``, counted in the loaded store, in the same syntaxes.

The triples counted are the distinct triples of the default graph (the union of the named
graphs), which is what VoID's ``void:triples`` and the service description's default graph
describe: a triple held in two graphs (the ontology's declarations that the shapes restate, a
patient fact in two assessments) is one triple there, not two quads.

The counts are asked of the engine once (the store is read-only while served) and kept.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

from .dataset import ONTOLOGY_GRAPH, SHAPES_GRAPH

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
                  "SPARQL_Results_TSV", "Turtle", "N-Triples", "RDF_XML", "N-Quads", "TriG")
VOCABULARIES = ("https://w3id.org/ql1706kg#", "http://www.w3.org/ns/prov#",
                "http://www.w3.org/ns/shacl#", "http://www.w3.org/2002/07/owl#",
                "http://www.w3.org/2004/02/skos/core#", "http://www.w3.org/2000/01/rdf-schema#")
VOID_PATHS = ("/.well-known/void", "/void")
MAX_LISTED_GRAPHS = 1000

Ask = Callable[[str], list[dict]]

_DISTINCT = "{ SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }"
_QUERIES = {
    "quads": f"SELECT (COUNT(*) AS ?n) WHERE {_DISTINCT}",
    "subjects": "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
    "graphs": "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
    "classes": "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a ?c } } "
               "GROUP BY ?c ORDER BY ?c",
    "properties": f"SELECT ?p (COUNT(*) AS ?n) WHERE {_DISTINCT} GROUP BY ?p ORDER BY ?p",
    "listed": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } FILTER(?g NOT IN "
              f"(<{ONTOLOGY_GRAPH}>, <{SHAPES_GRAPH}>)) }} ORDER BY ?g "
              f"LIMIT {MAX_LISTED_GRAPHS}",
}


def engine_asker(connect: Callable[[], http.client.HTTPConnection],
                 headers: dict[str, str]) -> Ask:
    """Ask the engine over the connections ``connect`` opens, with ``headers`` (its secret)
    (SPARQL 1.1 Protocol, JSON results)."""
    def ask(query: str) -> list[dict]:
        connection = connect()
        try:
            connection.request("POST", "/query", body=urllib.parse.urlencode(
                {"query": query}).encode(), headers={
                **headers, "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/sparql-results+json"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"the engine answered {response.status}")
            return json.loads(body)["results"]["bindings"]
        finally:
            connection.close()
    return ask


class Statistics:
    """The store's counts, asked once (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[str, list[dict]] | None = None

    def get(self, ask: Ask) -> dict[str, list[dict]]:
        with self._lock:
            if self._found is None:
                self._found = {name: ask(query) for name, query in _QUERIES.items()}
            return self._found


def _count(rows: list[dict]) -> int:
    return int(rows[0]["n"]["value"]) if rows else 0


def endpoint_url(host: str | None, fallback: str) -> str:
    """The endpoint's URL as the client reached it (its Host header when well formed)."""
    if host and host.isprintable() and not any(c in host for c in ' /\\"<>{}|^`'):
        return f"http://{host}/query"
    return f"http://{fallback}/query"


def service_description(endpoint: str, found: dict[str, list[dict]]) -> Graph:
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    service, dataset, default = URIRef(endpoint + "#service"), BNode("dataset"), BNode("union")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(endpoint)))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    for name in RESULT_FORMATS:
        g.add((service, SD.resultFormat, FORMATS[name]))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOID.triples, Literal(_count(found["quads"]), datatype=XSD.integer)))
    names = [ONTOLOGY_GRAPH, SHAPES_GRAPH] + [row["g"]["value"] for row in found["listed"]]
    for index, name in enumerate(names):
        node = BNode(f"graph{index}")
        g.add((dataset, SD.namedGraph, node))
        g.add((node, RDF.type, SD.NamedGraph))
        g.add((node, SD.name, URIRef(name)))
    return g


def void_description(endpoint: str, found: dict[str, list[dict]]) -> Graph:
    g = Graph()
    g.bind("void", VOID)
    root = endpoint.rsplit("/", 1)[0]
    dataset = URIRef(root + "/.well-known/void#dataset")
    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(endpoint)))
    g.add((dataset, VOID.triples, Literal(_count(found["quads"]), datatype=XSD.integer)))
    g.add((dataset, VOID.distinctSubjects,
           Literal(_count(found["subjects"]), datatype=XSD.integer)))
    g.add((dataset, VOID.uriSpace, Literal("https://w3id.org/ql1706kg/")))
    for vocabulary in VOCABULARIES:
        g.add((dataset, VOID.vocabulary, URIRef(vocabulary)))
    for index, row in enumerate(found["classes"]):
        node = URIRef(f"{dataset}-class-{index}")
        g.add((dataset, VOID.classPartition, node))
        g.add((node, VOID["class"], URIRef(row["c"]["value"])))
        g.add((node, VOID.entities, Literal(int(row["n"]["value"]), datatype=XSD.integer)))
    for index, row in enumerate(found["properties"]):
        node = URIRef(f"{dataset}-property-{index}")
        g.add((dataset, VOID.propertyPartition, node))
        g.add((node, VOID.property, URIRef(row["p"]["value"])))
        g.add((node, VOID.triples, Literal(int(row["n"]["value"]), datatype=XSD.integer)))
    return g
