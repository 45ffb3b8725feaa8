"""`query` never fetches, never ends in a traceback, stops at its timeout, and writes CSV a
spreadsheet cannot execute and JSON in the W3C results format."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
import rdflib.plugins.shared.jsonld.context as jsonld_context
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef

from ql1706kg.cli import main
from ql1706kg.errors import InputError
from ql1706kg.semweb.query import QueryTimeout, read_rdf, run_query
from ql1706kg.semweb.results import QueryResult, csv_cell, format_result
from tests.conftest import protocol_criteria_rows

ROOT = Path(__file__).resolve().parents[1]
ONE_PATIENT = ROOT / "examples" / "patients" / "ineligible-age-77.json"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture
def no_fetch(monkeypatch):
    """rdflib's JSON-LD reader fetches through one function: make any call to it fail."""
    def fetch(*args, **kwargs):
        raise AssertionError(f"a document was fetched: {args}")

    monkeypatch.setattr(jsonld_context, "source_to_json", fetch)


REMOTE = "http://127.0.0.1:9/context.jsonld"


@pytest.mark.parametrize("document", [
    {"@context": REMOTE, "@id": "urn:x"},
    {"@context": [{"@vocab": "urn:v#"}, [REMOTE]], "@id": "urn:x"},
    {"@context": {"@import": REMOTE}, "@id": "urn:x"},
    {"@context": {"@context": "ctx.jsonld"}, "@id": "urn:x"},  # relative: a local file
    {"@context": {"knows": {"@id": "urn:knows", "@context": REMOTE}}, "@id": "urn:x"},
    {"@graph": [{"@id": "urn:x", "urn:p": {"@context": [{"@import": REMOTE}]}}]},
    {"@id": "urn:x", "urn:p": [[{"@context": {"t": {"@context": {"@import": "x"}}}}]]},
])
def test_jsonld_that_would_fetch_any_document_is_refused(tmp_path, no_fetch, document):
    path = tmp_path / "v.jsonld"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="never fetched") as caught:
        read_rdf(path)
    assert caught.value.source == str(path)


def test_jsonld_with_inline_contexts_is_read_without_fetching(tmp_path, no_fetch):
    path = tmp_path / "v.jsonld"
    path.write_text(json.dumps({"@context": {"@vocab": "urn:v#", "knows": {
        "@id": "urn:knows", "@context": {"name": "urn:name"}}},
        "@id": "urn:x", "knows": {"@id": "urn:y", "name": "Y"}}))
    assert len(read_rdf(path)) == 2


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_jsonld_is_an_input_error(tmp_path, depth):
    path = tmp_path / "deep.jsonld"
    path.write_text('{"@id": "urn:x", "urn:p": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(InputError, match="nested deeper") as caught:
        read_rdf(path)
    assert caught.value.source == str(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_rdf_xml_is_an_input_error(tmp_path, encoding):
    path = tmp_path / "v.rdf"
    path.write_bytes(f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
                     '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
                     .encode(encoding))
    with pytest.raises(InputError, match="UTF-8") as caught:
        read_rdf(path)
    assert caught.value.source == str(path)


def test_cli_unreadable_verdict_files_are_one_line_each_and_exit_1(tmp_path):
    deep = tmp_path / "deep.jsonld"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    utf16 = tmp_path / "v.rdf"
    utf16.write_bytes("<rdf:RDF/>".encode("utf-16"))
    result = CliRunner().invoke(main, ["query", "protocol-criteria", str(deep), str(utf16),
                                       "--format", "csv"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines == [f"error: {deep}: JSON nested deeper than 64 levels is refused",
                     f"error: {utf16}: is UTF-16 text; RDF input must be UTF-8"]
    # the query still ran over the rest
    assert len(result.stdout.splitlines()) == 1 + protocol_criteria_rows()


def test_cli_screening_errors_print_like_the_other_commands(tmp_path):
    record = json.loads((ROOT / "tests" / "data" / "base-eligible.json").read_text())
    record.update(id="BAD-1", birth_date="1950-02-31")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["query", "eligible-patients", str(bad), "--as-of",
                                       "2026-11-20"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {bad}, record BAD-1, field birth_date: ")
    assert "ScreeningError(" not in result.stderr


def test_a_missing_query_file_says_it_does_not_exist(tmp_path):
    missing = tmp_path / "missing.rq"
    result = CliRunner().invoke(main, ["query", str(missing), str(ONE_PATIENT)])
    assert result.exit_code == 2
    assert f"the query file '{missing}' does not exist" in result.stderr
    assert "no query named" not in result.stderr


def test_a_runaway_query_stops_at_its_timeout_and_burns_no_more_cpu(tmp_path):
    graph = Graph()
    for i in range(400):
        graph.add((URIRef(f"urn:s{i}"), URIRef("urn:p"), Literal(i)))
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    began = time.monotonic()
    with pytest.raises(QueryTimeout, match="stopped at its 1 s timeout"):
        run_query(RUNAWAY, graph, timeout=1)
    took = time.monotonic() - began
    assert 1 <= took < 2.5
    left = [c for c in me.children(recursive=True) if c.pid not in before
            and c.status() != psutil.STATUS_ZOMBIE]
    assert left == []  # the worker that burned the CPU is gone


def test_cli_timeout_is_one_line_and_exit_3(tmp_path):
    rq = tmp_path / "slow.rq"
    rq.write_text(RUNAWAY)
    result = CliRunner().invoke(main, ["query", str(rq), "--timeout", "0.5"])
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: the query was stopped at its 0.5 s timeout")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+2", "\"'=1+2\""),
    ("+cmd|' /C calc'!A0", "\"'+cmd|' /C calc'!A0\""),
    ("-2+3+cmd", "\"'-2+3+cmd\""),
    ("@SUM(A1)", "\"'@SUM(A1)\""),
    ("\t=1", "\"'\t=1\""),
    ("\r=1", "\"'\r=1\""),
    ('=HYPERLINK("http://x")', "\"'=HYPERLINK(\"\"http://x\"\")\""),
    ("-12", "-12"),
    ("+3.5", "+3.5"),
    ("-1.2E-3", "-1.2E-3"),
    ("42", "42"),
    ("a,b", '"a,b"'),
    ("plain", "plain"),
])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(value, cell):
    assert csv_cell(value) == cell


def test_cli_csv_escapes_formulas_but_keeps_numbers(tmp_path):
    data = tmp_path / "v.ttl"
    data.write_text('<urn:a> <urn:v> "=1+2", "-7"^^<http://www.w3.org/2001/XMLSchema#integer>,'
                    ' "@x" .')
    rq = tmp_path / "v.rq"
    rq.write_text("SELECT ?v WHERE { <urn:a> <urn:v> ?v } ORDER BY STR(?v)")
    result = CliRunner().invoke(main, ["query", str(rq), str(data), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["v", "-7", "\"'=1+2\"", "\"'@x\""]


def test_json_follows_the_w3c_results_format():
    result = QueryResult(["s", "n", "label", "b", "missing"], [[
        URIRef("urn:a"), Literal(3), Literal("chat", lang="fr"), BNode("b0"), None]])
    data = json.loads(format_result(result, "json"))
    assert data == {"head": {"vars": ["s", "n", "label", "b", "missing"]}, "results": {
        "bindings": [{"s": {"type": "uri", "value": "urn:a"},
                      "n": {"type": "literal", "value": "3", "datatype": XSD_INTEGER},
                      "label": {"type": "literal", "value": "chat", "xml:lang": "fr"},
                      "b": {"type": "bnode", "value": "b0"}}]}}
    assert json.loads(format_result(QueryResult(boolean=False), "json")) == {
        "head": {}, "boolean": False}


def test_cli_json_types_iris_as_uri(tmp_path):
    rq = tmp_path / "c.rq"
    rq.write_text("PREFIX ql: <https://w3id.org/ql1706kg#>\n"
                  "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                  "SELECT ?c WHERE { ql:hasInclusionCriterion rdfs:range ?c }")
    result = CliRunner().invoke(main, ["query", str(rq), "--format", "json"])
    assert result.exit_code == 0, result.output
    (binding,) = json.loads(result.stdout)["results"]["bindings"]
    assert binding["c"] == {"type": "uri", "value": "https://w3id.org/ql1706kg#InclusionCriterion"}
