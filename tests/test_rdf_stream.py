"""Verdict RDF written patient by patient (`outputs/rdf_stream.py`): the same graph as rdflib's
serialisation of the verdict graph, one named graph per assessment in N-Quads, the facts the
named queries read, and literals that survive every parser (rdflib's and Oxigraph's)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from ql1706kg import screen
from ql1706kg.cli import main
from ql1706kg.outputs import rdf_stream
from ql1706kg.outputs.render import verdict_graph
from ql1706kg.protocol.namespaces import QL, RDF
from ql1706kg.protocol.terminology import load_ontology
from ql1706kg.semweb.store import oxigraph_binary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
AS_OF = "2026-11-20"
STAMP = "2026-11-20T12:00:00+00:00"


@pytest.fixture(scope="module")
def screening():
    return screen([EXAMPLES], as_of=AS_OF)


@pytest.fixture(scope="module")
def run(screening):
    return rdf_stream.rdf_run(AS_OF, screening.protocol_version, STAMP)


def streamed(screening, run, fmt: str) -> str:
    return rdf_stream.render(screening.patients, run, fmt)


def test_turtle_parses_to_the_graph_rdflib_serialises(screening, run):
    reference = verdict_graph(screening, run=run)
    expected = Graph().parse(data=reference.serialize(format="turtle"), format="turtle")
    found = Graph().parse(data=streamed(screening, run, "turtle"), format="turtle")
    assert len(found) == len(expected) > 10_000
    assert isomorphic(found, expected)


def test_jsonld_parses_to_the_graph_rdflib_serialises(screening, run):
    reference = verdict_graph(screening, run=run)
    context = {p: s for p, s in rdf_stream.PREFIXES if p in rdf_stream.JSONLD_PREFIXES}
    expected = Graph().parse(data=reference.serialize(format="json-ld", context=context),
                             format="json-ld")
    text = streamed(screening, run, "jsonld")
    document = json.loads(text)
    assert set(document) == {"@context", "@graph"}  # one context, one streamed array
    assert all(isinstance(v, str) for v in document["@context"].values())  # nothing fetched
    found = Graph().parse(data=text, format="json-ld")
    assert isomorphic(found, expected)


def test_nquads_hold_one_graph_per_assessment_with_the_patients_own_facts(screening, run):
    data = Dataset()
    data.parse(data=streamed(screening, run, "nquads"), format="nquads")
    names = {g.identifier for g in data.graphs() if len(g)}
    assessments = set(verdict_graph(screening, run=run).subjects(RDF.type, QL.Assessment))
    assert names == assessments and len(names) == len(screening.patients) == 19
    for patient in screening.patients:
        name = URIRef(rdf_stream.assessment_iri(patient.id, AS_OF))
        graph = data.graph(name)
        assert (name, QL.assessedPatient, patient.iri) in graph
        own = {t for t in patient.graph if str(t[0]).startswith(str(patient.iri))}
        assert own and all(t in graph for t in own)
        # The terminology a patient cites lives in the ontology's graph, not in each of these.
        assert not any(str(s).startswith(str(QL)) for s in graph.subjects())


def test_each_assessment_carries_the_facts_the_named_queries_read(screening, run):
    graph = verdict_graph(screening, run=run, include_patients=False)
    for patient in screening.patients:
        a = URIRef(rdf_stream.assessment_iri(patient.id, AS_OF))
        counts = patient.as_dict()["counts"]
        for outcome, name in (("met", "metCount"), ("not_met", "notMetCount"),
                              ("unknown", "unknownCount"),
                              ("not_applicable", "notApplicableCount")):
            assert graph.value(a, QL[name]) == Literal(counts[outcome])
        failing = [c.id for c in patient.criteria if c.outcome == "not_met"]
        assert {str(c) for c in graph.objects(a, QL.notMetCriterion)} == {
            str(QL[c]) for c in failing}
        first = graph.value(a, QL.firstNotMet)
        assert first == (QL[min(failing, key=lambda c: run.order[c])] if failing else None)
        unknown = {str(QL[c.id]) for c in patient.criteria if c.outcome == "unknown"}
        assert {str(c) for c in graph.objects(a, QL.unknownCriterion)} == unknown
        for result in graph.objects(a, QL.unknownResult):
            assert str(graph.value(result, QL.criterion)) in unknown
        for result in graph.objects(a, QL.hasResult):
            criterion = str(graph.value(result, QL.criterion)).rsplit("#", 1)[1]
            assert graph.value(result, QL.criterionOrder) == Literal(run.order[criterion])


def test_inclusion_criteria_by_numbering_are_the_ontologys_part_of():
    ontology = load_ontology()
    for criterion in ontology.subjects(RDF.type, QL.AtomicCriterion):
        cid = str(ontology.value(criterion, QL.criterionId))
        whole = ontology.value(criterion, QL.partOf) or criterion
        assert QL[rdf_stream.inclusion_criterion(cid)] == whole, cid


def odd_patient(screening):
    patient = screening.patients[0]
    text = 'quote " backslash \\ line\nbreak\r tab\t bell\x07 ünï 😀 \u2028 end'
    criteria = (dataclasses.replace(patient.criteria[0], explanation=text,
                                    limits=("a\\b",), to_collect='say "x"'),
                *patient.criteria[1:])
    return dataclasses.replace(patient, criteria=criteria), text


@pytest.mark.parametrize("fmt", ["turtle", "nquads", "jsonld"])
def test_any_text_survives_rdflib_and_oxigraph(screening, run, tmp_path, fmt):
    patient, text = odd_patient(screening)
    document = rdf_stream.render([patient], run, fmt)
    parsed = Dataset(default_union=True)
    parsed.parse(data=document, format={"turtle": "turtle", "nquads": "nquads",
                                        "jsonld": "json-ld"}[fmt])
    assert Literal(text) in set(parsed.objects(None, QL.explanation))
    path = tmp_path / f"v.{ {'turtle': 'ttl', 'nquads': 'nq', 'jsonld': 'jsonld'}[fmt]}"
    path.write_text(document, encoding="utf-8")
    converted = subprocess.run([oxigraph_binary(), "convert", "--from-file", str(path),
                                "--to-format", "nq"], capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout.count("\n") == len(parsed)  # \u2028 is not a line end there


@pytest.mark.parametrize("fmt", ["turtle", "nquads", "jsonld"])
def test_no_patient_is_still_a_valid_document(run, fmt):
    document = rdf_stream.render([], run, fmt)
    parsed = Dataset(default_union=True)
    parsed.parse(data=document, format={"turtle": "turtle", "nquads": "nquads",
                                        "jsonld": "json-ld"}[fmt])
    assert len(parsed) == 0


@pytest.mark.parametrize("fmt", ["turtle", "nquads", "jsonld"])
def test_cli_streams_from_worker_processes_in_input_order(tmp_path, fmt):
    from ql1706kg.inputs.synthetic import patients

    source = tmp_path / "cohort.ndjson"
    records = list(patients(120, seed=7))  # three batches of 50: screened by two workers
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["screen", str(source), "--as-of", AS_OF, "--format",
                                       fmt, "-o", str(out), "--jobs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    parsed = Dataset(default_union=True)
    parsed.parse(out, format={"turtle": "turtle", "nquads": "nquads", "jsonld": "json-ld"}[fmt])
    assert len(set(parsed.subjects(QL.verdict, None))) == 120
    text = out.read_text()
    order = [text.index(rdf_stream.assessment_iri(r["id"], AS_OF).rsplit("/", 2)[1])
             for r in records]
    assert order == sorted(order)  # written in input order
    if fmt == "turtle":  # prefixes once, at the top
        assert text.count("@prefix ql:") == 1 and text.startswith("@prefix")
