"""What ``serve`` says about itself, by content negotiation (:mod:`ql1706kg.semweb.negotiation`):
the SPARQL service description (``GET /query``) and the VoID description
(``/.well-known/void``) in Turtle, N-Triples, JSON-LD and RDF/XML, the same graph in each, never
the engine's own description; counts of distinct triples; no feature the endpoint refuses.
"""

from __future__ import annotations

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from ql1706kg.semweb.negotiation import negotiate, wants_page
from tests.test_serve import EXAMPLES, http, rows, running

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
SYNTAXES = {"text/turtle": "turtle", "application/n-triples": "nt",
            "application/ld+json": "json-ld", "application/rdf+xml": "xml"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "chosen"), [
    (None, "text/turtle"), ("*/*", "text/turtle"), ("text/turtle", "text/turtle"),
    ("application/n-triples", "application/n-triples"), ("text/plain", "application/n-triples"),
    ("application/ld+json", "application/ld+json"), ("application/json", "application/ld+json"),
    ("application/rdf+xml", "application/rdf+xml"),
    ("text/turtle;q=0.5, application/rdf+xml", "application/rdf+xml"),
    ("application/*;q=0.9, text/turtle;q=0.1", "application/n-triples"),
    ("*/*;q=0.1, application/ld+json;q=0.2", "application/ld+json"),
    ("text/turtle;q=0, */*", "application/n-triples"),
    ("application/sparql-results+json", None), ("text/turtle;q=0", None),
    ("text/turtle;q=abc", None)])
def test_negotiation_follows_the_accept_header(accept, chosen):
    found = negotiate(accept)
    assert (found[0] if found else None) == chosen


@pytest.mark.parametrize(("accept", "page"), [
    (BROWSER, True), ("text/html", True), ("text/turtle", False), (None, False), ("*/*", False),
    ("application/rdf+xml,text/html;q=0.5", False)])
def test_a_browser_gets_the_query_page(accept, page):
    assert wants_page(accept) is page


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running(tmp_path_factory.mktemp("describe"), str(EXAMPLES), "--as-of",
                 "2026-11-20") as endpoint:
        yield endpoint


def fetch(endpoint, path: str, media: str) -> Graph:
    status, body, headers = http(endpoint.port, path, headers={"Accept": media})
    assert status == 200, body
    assert headers["Content-Type"].split(";")[0] == media
    return Graph().parse(data=body, format=SYNTAXES[media])


@pytest.mark.parametrize("path", ["/query", "/.well-known/void"])
def test_each_syntax_gives_the_same_description(served, path):
    graphs = [fetch(served, path, media) for media in SYNTAXES]
    assert len(graphs[0]) > 10
    assert all(isomorphic(graphs[0], other) for other in graphs[1:])


def test_the_service_description_is_ours_in_every_syntax(served):
    for media in SYNTAXES:
        graph = fetch(served, "/query", media)
        (service,) = graph.subjects(RDF.type, SD.Service)
        features = set(graph.objects(service, SD.feature))
        assert SD.BasicFederatedQuery not in features  # the gate refuses SERVICE
        assert set(graph.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
        assert URIRef(f"http://127.0.0.1:{served.port}/query") == graph.value(service,
                                                                              SD.endpoint)


def count(endpoint, query: str) -> int:
    return int(rows(endpoint.port, query)[0]["n"]["value"])


def test_void_counts_distinct_triples_and_partitions(served):
    graph = fetch(served, "/.well-known/void", "application/n-triples")
    (dataset,) = graph.subjects(RDF.type, VOID.Dataset)
    distinct = "{ SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }"
    triples = count(served, f"SELECT (COUNT(*) AS ?n) WHERE {distinct}")
    quads = count(served, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert graph.value(dataset, VOID.triples).toPython() == triples < quads
    for node in graph.objects(dataset, VOID.propertyPartition):
        prop = graph.value(node, VOID.property)
        assert graph.value(node, VOID.triples).toPython() == count(
            served, f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?o WHERE {{ "
                    f"GRAPH ?g {{ ?s <{prop}> ?o }} }} }}"), prop
    for node in graph.objects(dataset, VOID.classPartition):
        cls = graph.value(node, VOID["class"])
        assert graph.value(node, VOID.entities).toPython() == count(
            served, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s a <{cls}> }} }}")
    sd = fetch(served, "/query", "text/turtle")
    (service,) = sd.subjects(RDF.type, SD.Service)
    default = sd.value(sd.value(service, SD.defaultDataset), SD.defaultGraph)
    assert sd.value(default, VOID.triples).toPython() == triples


def test_what_is_not_offered_is_406_and_a_browser_gets_the_page(served):
    for path in ("/query", "/.well-known/void"):
        status, body, _headers = http(served.port, path,
                                      headers={"Accept": "application/sparql-results+json"})
        assert status == 406 and b"text/turtle" in body
    status, body, headers = http(served.port, "/query", headers={"Accept": BROWSER})
    # urllib follows the gate's 303 to the query page: HTML, not the engine's description
    assert status == 200 and headers["Content-Type"].startswith("text/html")
