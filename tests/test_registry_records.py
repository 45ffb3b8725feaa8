"""`publish --as dcat` and `publish --as w3id`: records a data registry harvests and the
redirect rules of the persistent namespace, checked as their readers would read them."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, XSD

from ql1706kg.cli import main
from ql1706kg.semweb.publish import publication_graph
from ql1706kg.semweb.publish.catalog import DCAT, SYNTAXES

DATA = Path(__file__).parent / "data"
DCAT_AP = DATA / "dcat-ap-3.0.0"
# The official DCAT-AP 3.0.0 shapes: core, recommended (warnings), class ranges, deprecations,
# and the shapes generated from the release's model (shacl/dcat-ap-SHACL.ttl).
PROFILE = ("shapes.ttl", "shapes_recommended.ttl", "range.ttl", "deprecateduris.ttl",
           "dcat-ap-SHACL.ttl")
ENDPOINT = "https://trials.example.net/ql1706kg/query"


def run(*arguments: str):
    return CliRunner().invoke(main, ["publish", *arguments])


@pytest.fixture(scope="module")
def record() -> Graph:
    result = run("--as", "dcat", "--endpoint-url", ENDPOINT)
    assert result.exit_code == 0, result.output
    return Graph().parse(data=result.stdout, format="turtle")


@cache
def shapes(*names: str) -> Graph:
    graph = Graph()
    for name in names:
        graph.parse(DCAT_AP / name, format="turtle")
    return graph


def results(data: Graph, *names: str) -> Counter:
    """pySHACL's top-level results of the official shapes on ``data``: (severity, focus node,
    path) counted."""
    _conforms, report, _text = validate(data, shacl_graph=shapes(*names), allow_warnings=True)
    found: Counter = Counter()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        if (None, SH.detail, result) in report:
            continue  # a detail of another result, not a result of its own
        severity = str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        found[(severity, str(report.value(result, SH.focusNode)),
               str(report.value(result, SH.resultPath)))] += 1
    return found


def test_the_dcat_record_passes_the_official_dcat_ap_3_shapes(record):
    assert results(record, *PROFILE) == Counter()


def test_the_controlled_values_come_from_the_eu_vocabularies(record):
    # mdr-vocabularies: every controlled value in its EU / ADMS scheme (violations), and the
    # publisher in the EU corporate-body table (a warning: ours is not an EU institution, and
    # the shape asks only to check whether one fits).
    found = results(record, "mdr-vocabularies.shape.ttl")
    assert {key for key in found if key[0] == "Violation"} == set()
    assert set(found) == {("Warning", node, str(DCTERMS.publisher)) for node in (
        "https://w3id.org/ql1706kg/catalog", "https://w3id.org/ql1706kg/dataset")}


@pytest.mark.parametrize("prop", [
    DCAT.endpointURL, DCAT.theme, DCAT.contactPoint, DCAT.keyword, DCTERMS.temporal,
    DCTERMS.spatial, DCTERMS.type, URIRef("http://data.europa.eu/r5r/availability")])
def test_the_official_shapes_do_fire(record, prop):
    broken = Graph() + record
    broken.remove((None, prop, None))
    assert results(broken, *PROFILE), f"removing {prop} went unnoticed"


def test_a_literal_access_right_is_a_violation(record):
    broken = Graph() + record
    (service,) = broken.subjects(RDF.type, DCAT.DataService)
    broken.remove((service, DCTERMS.accessRights, None))
    broken.add((service, DCTERMS.accessRights, Literal("Restricted", lang="en")))
    assert ("Violation", str(service), str(DCTERMS.accessRights)) in results(broken, *PROFILE)


def test_the_record_is_dcat_3(record):
    """Every dcat: term is one the DCAT 3 vocabulary defines, used within its domain and range
    (classes as the record types its nodes, with DCAT 3's subclasses; datatypes as given)."""
    vocabulary = Graph().parse(DATA / "dcat3.ttl", format="turtle")
    dcat = str(DCAT)
    used = {term for triple in record for term in triple
            if isinstance(term, URIRef) and str(term).startswith(dcat)}
    assert used - set(vocabulary.subjects()) == set()

    def classes(node) -> set:
        out, todo = set(record.objects(node, RDF.type)), list(record.objects(node, RDF.type))
        while todo:
            for parent in vocabulary.objects(todo.pop(), RDFS.subClassOf):
                if isinstance(parent, URIRef) and parent not in out:
                    out.add(parent)
                    todo.append(parent)
        return out

    problems = []
    for subject, predicate, obj in record:
        for domain in vocabulary.objects(predicate, RDFS.domain):
            if isinstance(domain, URIRef) and domain not in classes(subject):
                problems.append(f"{subject} {predicate}: not a {domain}")
        for range_ in vocabulary.objects(predicate, RDFS.range):
            if not isinstance(range_, URIRef) or range_ == RDFS.Resource:
                continue
            if str(range_).startswith(str(XSD)) or range_ == RDFS.Literal:
                ok = isinstance(obj, Literal) and (range_ == RDFS.Literal
                                                   or obj.datatype == range_)
            else:
                ok = range_ in classes(obj)
            if not ok:
                problems.append(f"{subject} {predicate} {obj}: not a {range_}")
    assert problems == []


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
    assert record.value(dataset, OWL.versionInfo) is None  # deprecated by DCAT-AP: dcat:version
    assert record.value(dataset, DCAT.version) == Literal(str(version))
    assert set(record.objects(dataset, DCAT.keyword)) == set(ontology.objects(head,
                                                                             DCAT.keyword))
    assert set(record.objects(dataset, DCAT.theme)) == set(ontology.objects(head, DCAT.theme))
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
    # the version IRI (owl:versionIRI) and its shapes resolve to that version's files
    version = str(publication_graph("ontology").value(URIRef("https://w3id.org/ql1706kg"),
                                                      OWL.versionIRI)).rsplit("/", 1)[1]
    for accept, suffix in expected.items():
        assert resolve(rules, version, accept) == f"{files}{version}/ontology.{suffix}", accept
        assert resolve(rules, f"{version}/shapes", accept) == \
            f"{files}{version}/shapes.{suffix}", accept
    assert resolve(rules, version, browser) == f"{files}docs/"
    assert resolve(rules, f"{version}/ontology.nt", "*/*") == f"{files}{version}/ontology.nt"


def test_another_trials_record_passes_the_official_dcat_ap_3_shapes():
    """The record of a protocol folder (SARC028), not only of the bundled trial."""
    folder = Path(__file__).resolve().parents[1] / "examples" / "protocols" / "sarc028"
    result = run("--as", "dcat", "--endpoint-url", ENDPOINT, "--protocol", str(folder))
    assert result.exit_code == 0, result.output
    data = Graph().parse(data=result.stdout, format="turtle")
    assert results(data, *PROFILE) == Counter()
    assert (None, DCTERMS.title, Literal("SARC028 protocol ontology: catalogue", lang="en")) in data
