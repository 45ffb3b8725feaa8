"""`publish --as dcat` and `publish --as w3id`: records a data registry harvests and the
redirect rules of the persistent namespace, checked as their readers would read them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF

from ql1706kg.cli import main
from ql1706kg.semweb.publish import publication_graph
from ql1706kg.semweb.publish.catalog import DCAT, SYNTAXES

SHAPES = Path(__file__).parent / "data" / "dcat-ap-3-mandatory.ttl"
ENDPOINT = "https://trials.example.net/ql1706kg/query"


def run(*arguments: str):
    return CliRunner().invoke(main, ["publish", *arguments])


@pytest.fixture(scope="module")
def record() -> Graph:
    result = run("--as", "dcat", "--endpoint-url", ENDPOINT)
    assert result.exit_code == 0, result.output
    return Graph().parse(data=result.stdout, format="turtle")


def test_the_dcat_record_conforms_to_the_mandatory_dcat_ap_3_properties(record):
    conforms, _graph, text = validate(record, shacl_graph=Graph().parse(SHAPES))
    assert conforms, text
    # the shapes do fire: a record without the endpoint URL does not conform
    broken = Graph() + record
    broken.remove((None, DCAT.endpointURL, None))
    assert not validate(broken, shacl_graph=Graph().parse(SHAPES))[0]


def test_the_record_says_what_the_issue_asks_and_reads_it_from_the_ontology(record):
    ontology = publication_graph("ontology")
    head = URIRef("https://w3id.org/ql1706kg")
    (catalog,) = record.subjects(RDF.type, DCAT.Catalog)
    (dataset,) = record.subjects(RDF.type, DCAT.Dataset)
    (service,) = record.subjects(RDF.type, DCAT.DataService)
    assert record.value(service, DCAT.endpointURL) == URIRef(ENDPOINT)
    assert (service, DCAT.servesDataset, dataset) in record
    assert {catalog, dataset, service} <= set(record.subjects(DCTERMS.license,
                                                              ontology.value(head,
                                                                             DCTERMS.license)))
    version = ontology.value(head, OWL.versionInfo)
    assert record.value(dataset, OWL.versionInfo) == version
    assert record.value(dataset, DCAT.version) == Literal(str(version))
    assert record.value(dataset, DCTERMS.title) == ontology.value(head, DCTERMS.title)
    assert record.value(dataset, DCTERMS.publisher) is not None
    conforms = set(record.objects(dataset, DCTERMS.conformsTo))
    assert URIRef("https://www.w3.org/TR/shacl/") in conforms
    distributions = list(record.objects(dataset, DCAT.distribution))
    assert len(distributions) == 2 * len(SYNTAXES)  # ontology and shapes, each syntax
    media = {str(record.value(d, DCAT.mediaType)).rsplit("media-types/", 1)[1]
             for d in distributions}
    assert media == {"text/turtle", "application/ld+json", "application/rdf+xml",
                     "application/n-triples"}


def test_a_bad_url_is_a_usage_error():
    for option in ("--endpoint-url", "--files-url"):
        result = run("--as", "dcat", option, "not a url")
        assert result.exit_code == 2 and "is not an http(s) URL" in result.stderr


RULE = re.compile(r"^RewriteRule (\S+) (\S+) \[([A-Z0-9=,]+)\]$")
CONDITION = re.compile(r"^RewriteCond %\{HTTP_ACCEPT\} (!?)(\S+)(?: \[OR\])?$")


def resolve(rules: list[tuple[list[tuple[bool, str, bool]], str, str, str]], path: str,
            accept: str) -> str | None:
    """Apache mod_rewrite as these rules use it: conditions of a rule ANDed (an [OR] group
    ORed), the first matching rule with L wins, $n replaced."""
    for conditions, pattern, target, _flags in rules:
        match = re.search(pattern, path)
        if not match or not _conditions_hold(conditions, accept):
            continue
        return _substitute(target, match.groups())
    return None


def _substitute(target: str, groups: tuple) -> str:
    return re.sub(r"\$(\d)", lambda m: groups[int(m.group(1)) - 1], target)


def _conditions_hold(conditions: list[tuple[bool, str, bool]], accept: str) -> bool:
    ok, pending_or = True, None
    for negated, pattern, has_or in conditions:
        hit = bool(re.search(pattern, accept)) != negated
        if pending_or is not None:
            hit = hit or pending_or
        if has_or:
            pending_or = hit
            continue
        pending_or = None
        ok = ok and hit
    return ok and pending_or in (None, True)


def parse(text: str):
    rules, conditions = [], []
    for line in text.splitlines():
        if line.startswith("RewriteCond"):
            found = CONDITION.match(line)
            assert found, line
            conditions.append((found.group(1) == "!", found.group(2), line.endswith("[OR]")))
        elif line.startswith("RewriteRule"):
            found = RULE.match(line)
            assert found, line
            assert "R=303" in found.group(3) and "L" in found.group(3).split(","), line
            rules.append((conditions, found.group(1), found.group(2), found.group(3)))
            conditions = []
        else:
            assert not line or line.startswith(("#", "Options", "RewriteEngine")), line
    return rules


def test_the_w3id_rules_negotiate_content_by_accept_header():
    result = run("--as", "w3id", "--files-url", "https://files.example.net/ql/")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "RewriteEngine on" in text and "Options +FollowSymLinks" in text
    rules = parse(text)
    files = "https://files.example.net/ql/"
    expected = {"text/turtle": "ttl", "application/ld+json": "jsonld",
                "application/rdf+xml": "rdf", "application/n-triples": "nt"}
    for accept, suffix in expected.items():
        assert resolve(rules, "", accept) == f"{files}ontology.{suffix}", accept
        assert resolve(rules, "shapes", accept) == f"{files}shapes.{suffix}", accept
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert resolve(rules, "", browser) == f"{files}docs/"
    assert resolve(rules, "", "application/rdf+xml,text/html;q=0.5") == f"{files}ontology.rdf"
    assert resolve(rules, "ontology.jsonld", "*/*") == f"{files}ontology.jsonld"
    assert resolve(rules, "catalog", "text/turtle") == f"{files}catalog.ttl"
    assert resolve(rules, "anything/else", "") == f"{files}docs/"
