"""Named SPARQL queries: exact rows on the examples; verdict graphs as input; safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.errors import InputError
from ql1706kg.semweb.query import QueryError, check_safe, named_queries, query_store, read_rdf, run
from tests.conftest import protocol_criteria_rows

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def graph():
    with query_store([EXAMPLES], as_of=AS_OF) as store:
        assert store.errors == []
        yield store


def rows(graph, name: str) -> list[list[str]]:
    return run(named_queries()[name].text, graph)[1]


def test_every_named_query_says_why_it_exists():
    queries = named_queries()
    assert {"eligible-patients", "attrition", "unknown-worklist", "failing-only-on-labs",
            "protocol-criteria"} <= set(queries)
    for query in queries.values():
        assert query.text.startswith("# Why:") and len(query.purpose) > 40


def test_eligible_patients(graph):
    assert [row[1] for row in rows(graph, "eligible-patients")] == [
        "QL-AS-009", "QL-ASPS-011", "QL-CHD-012", "QL-DDL-003", "QL-LMS-001", "QL-LMS-006",
        "QL-UPS-002", "QL-US-005", "QL-USC-007"]


def test_attrition_in_protocol_order(graph):
    table = {row[1]: row[2:] for row in rows(graph, "attrition")}
    assert list(table)[:3] == ["IC1", "IC2", "IC3.1"] and len(table) == 28
    removed = {cid: int(r[0]) for cid, r in table.items() if r[0] != "0"}
    assert removed == {"IC2": 1, "IC3.1": 1, "IC3.3": 1, "IC4": 1, "IC5.1": 1, "IC9.0": 1,
                       "IC9.2-AST": 1}
    assert table["IC9.5-UPRO"] == ["0", "0", "2"] and table["IC1"] == ["0", "0", "1"]


def test_unknown_worklist(graph):
    found = rows(graph, "unknown-worklist")
    by_patient = {}
    for patient, criterion, collect, as_of in found:
        by_patient.setdefault(patient, []).append(criterion)
        assert as_of == AS_OF and collect
    assert by_patient["QL-LMS-013"] == ["IC9.6-LVEF", "IC10"]
    assert by_patient["QL-MFS-008"] == ["IC9.5-UPRO"]
    assert len(by_patient["QL-COH-02"]) == 21 and len(found) == 24
    lvef = next(r for r in found if r[:2] == ["QL-LMS-013", "IC9.6-LVEF"])
    assert lvef[2] == ("an LVEF by echocardiogram or MUGA dated from 2026-10-23 to 2026-11-20 "
                       "(the 28-day screening window)")


def test_failing_only_on_labs(graph):
    assert rows(graph, "failing-only-on-labs") == [["QL-MFS-004", "IC9.2-AST", AS_OF],
                                                  ["QL-UPS-014", "IC9.0", AS_OF]]


def test_protocol_criteria_with_their_limits(graph):
    found = rows(graph, "protocol-criteria")
    assert [r[1] for r in found][:2] == ["IC1", "IC2"] and len({r[1] for r in found}) == 28
    ast = [r[3] for r in found if r[1] == "IC9.2-AST"]
    assert len(ast) == 2 and any("AST ≤2.5 ×ULN" in r for r in ast) and any(
        "AST ≤5 ×ULN" in r for r in ast)
    assert ast == sorted(ast)  # one row per limit, in a total order


def test_verdict_graph_files_give_the_same_rows(tmp_path, graph):
    out = tmp_path / "verdicts.ttl"
    runner = CliRunner()
    result = runner.invoke(main, ["screen", str(EXAMPLES), "--as-of", AS_OF, "--format",
                                  "turtle", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with query_store([out]) as from_file:
        assert from_file.errors == []
        for name in ("eligible-patients", "attrition", "failing-only-on-labs"):
            assert rows(from_file, name) == rows(graph, name)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_cli_query_formats(fmt):
    result = CliRunner().invoke(main, ["query", "failing-only-on-labs", str(EXAMPLES),
                                       "--as-of", AS_OF, "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        data = json.loads(result.stdout)
        assert data["head"]["vars"] == ["id", "failedLab", "asOf"]
        assert data["results"]["bindings"][0]["id"]["value"] == "QL-MFS-004"
    elif fmt == "csv":
        assert result.stdout.splitlines() == ["id,failedLab,asOf",
                                              f"QL-MFS-004,IC9.2-AST,{AS_OF}",
                                              f"QL-UPS-014,IC9.0,{AS_OF}"]
    else:
        assert "QL-MFS-004" in result.stdout and "(2 rows)" in result.stdout


def test_cli_lists_queries_and_runs_a_rq_file(tmp_path):
    listing = CliRunner().invoke(main, ["query", "--list"])
    assert "attrition" in listing.stdout and "CONSORT" in listing.stdout
    rq = tmp_path / "count.rq"
    rq.write_text("PREFIX ql: <https://w3id.org/ql1706kg#>\n"
                  "SELECT (COUNT(?a) AS ?n) WHERE { ?a a ql:Assessment }")
    result = CliRunner().invoke(main, ["query", str(rq), str(EXAMPLES), "--as-of", AS_OF,
                                       "--format", "csv"])
    assert result.stdout.splitlines() == ["n", "19"]


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", "FROM"),
    ("LOAD <http://example.org/data.ttl>", "updates"),
    ("PREFIX x: <http://x/>\nINSERT DATA { x:a x:b x:c }", "updates"),
    ("DELETE WHERE { ?s ?p ?o }", "updates"),
    ("SELECT * WHERE { ?s ?p ", "not a valid SPARQL query"),
])
def test_unsafe_or_invalid_queries_are_refused(text, message):
    with pytest.raises(QueryError, match=message):
        check_safe(text)


def test_cli_refuses_a_service_query_with_a_usage_error(tmp_path):
    rq = tmp_path / "remote.rq"
    rq.write_text("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }")
    result = CliRunner().invoke(main, ["query", str(rq), str(EXAMPLES), "--as-of", AS_OF])
    assert result.exit_code == 2 and "SERVICE is refused" in result.stderr


def test_jsonld_with_a_remote_context_is_refused(tmp_path):
    path = tmp_path / "v.jsonld"
    path.write_text(json.dumps({"@context": "https://example.org/context.jsonld",
                                "@id": "x", "name": "y"}))
    with pytest.raises(InputError, match="remote @context"):
        read_rdf(path)


def test_rdf_xml_with_entities_is_refused(tmp_path):
    path = tmp_path / "v.rdf"
    path.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>')
    with pytest.raises(InputError, match="DOCTYPE"):
        read_rdf(path)


@pytest.mark.parametrize("fmt", ["nquads", "jsonld"])
def test_nquads_and_jsonld_verdict_files_give_the_same_rows(tmp_path, graph, fmt):
    out = tmp_path / f"verdicts.{'nq' if fmt == 'nquads' else 'jsonld'}"
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES), "--as-of", AS_OF, "--format",
                                       fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    with query_store([out]) as from_file:
        assert from_file.errors == []
        for name in named_queries():
            assert rows(from_file, name) == rows(graph, name), name


def test_a_kept_store_is_loaded_once_and_queried_again(tmp_path, graph):
    store = tmp_path / "store"
    first = CliRunner().invoke(main, ["query", "attrition", str(EXAMPLES), "--as-of", AS_OF,
                                      "--store", str(store), "--format", "csv"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, ["query", "attrition", "--store", str(store), "--format",
                                      "csv"])
    assert again.exit_code == 0 and again.stdout == first.stdout
    assert again.stdout.splitlines()[1:] == [",".join(r) for r in rows(graph, "attrition")]
    listed = CliRunner().invoke(main, ["query", "unknown-worklist", "--store", str(store),
                                       "--format", "csv"])
    assert len(listed.stdout.splitlines()) == 25  # the 24 rows of the worklist, and a header


def test_a_verdict_file_oxigraph_cannot_parse_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.nq"
    bad.write_text("<urn:a> <urn:b> .\n")
    result = CliRunner().invoke(main, ["query", "protocol-criteria", str(bad), "--format",
                                       "csv"])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {bad}: not valid nquads: ")
    # a header, a row per criterion and limit
    assert len(result.stdout.splitlines()) == 1 + protocol_criteria_rows()


def test_a_store_folder_of_other_files_is_refused_untouched():
    before = sorted(p.name for p in EXAMPLES.iterdir())
    result = CliRunner().invoke(main, ["query", "attrition", "--store", str(EXAMPLES)])
    assert result.exit_code == 2 and "holds files and no Oxigraph store" in result.stderr
    assert sorted(p.name for p in EXAMPLES.iterdir()) == before


def test_a_large_kept_store_is_compacted_and_answers_the_same(tmp_path, graph, monkeypatch):
    from ql1706kg.semweb import dataset
    from ql1706kg.semweb.store import Store

    compacted = []
    real = Store.optimize
    monkeypatch.setattr(dataset, "OPTIMIZE_FROM", 19)  # "large": the 19 examples
    monkeypatch.setattr(Store, "optimize", lambda self: compacted.append(1) or real(self))
    with query_store([EXAMPLES], as_of=AS_OF, location=tmp_path / "store") as kept:
        assert kept.patients == 19 and compacted == [1]
        for name in named_queries():
            assert rows(kept, name) == rows(graph, name), name
    with query_store([EXAMPLES], as_of=AS_OF) as temporary:  # one query: never compacted
        assert temporary.patients == 19 and compacted == [1]
