"""PatientGraph answers every lookup exactly as rdflib.Graph does on the same triples."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from ql1706kg import patient_graph
from ql1706kg.api import assessment_for
from ql1706kg.inputs.models import PatientRecord
from ql1706kg.inputs.synthetic import patients
from ql1706kg.pipeline.graph import PatientGraph
from ql1706kg.protocol.namespaces import QL, RDF, XSD

EX = "https://example.org/"
S = [URIRef(EX + "a"), URIRef(EX + "b"), BNode("n1")]
P = [URIRef(EX + "p"), URIRef(EX + "q"), RDF.type]
OBJ = [URIRef(EX + "a"), Literal("x"), Literal(Decimal("1.0"), datatype=XSD.decimal),
     Literal(Decimal("1"), datatype=XSD.decimal), Literal(True, datatype=XSD.boolean)]
TRIPLES = [t for i, t in enumerate(itertools.product(S, P, OBJ)) if i % 3 != 1]


def both() -> tuple[PatientGraph, Graph]:
    ours, theirs = PatientGraph(), Graph()
    for triple in TRIPLES + TRIPLES[:5]:  # repeats are stored once
        ours.add(triple)
        theirs.add(triple)
    return ours, theirs


PATTERNS = list(itertools.product([None, *S, URIRef(EX + "z")], [None, *P],
                                  [None, *OBJ, Literal("absent")]))


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: "-".join(
    "_" if t is None else str(t)[-3:] for t in p))
def test_triples_match_rdflib(pattern):
    ours, theirs = both()
    found = list(ours.triples(pattern))
    assert len(found) == len(set(found)) and set(found) == set(theirs.triples(pattern))
    assert (pattern in ours) == (pattern in theirs)


def same(ours, theirs) -> bool:
    """Each node once (rdflib repeats a node per matching triple), the same set as rdflib."""
    found = list(ours)
    return len(found) == len(set(found)) and set(found) == set(theirs)


def test_lookups_match_rdflib():
    ours, theirs = both()
    assert len(ours) == len(theirs) == len(TRIPLES)
    for s, p in itertools.product([None, *S], [None, *P]):
        assert same(ours.objects(s, p), theirs.objects(s, p))
    for p, o in itertools.product([None, *P], [None, *OBJ]):
        assert same(ours.subjects(p, o), theirs.subjects(p, o))
    for s, o in itertools.product([None, *S], [None, *OBJ]):
        assert same(ours.predicates(s, o), theirs.predicates(s, o))
    for s, p in itertools.product(S, P):
        assert ours.value(s, p) in set(theirs.objects(s, p)) | {None}
        assert (ours.value(s, p) is None) == (theirs.value(s, p) is None)


def test_decimal_literals_keep_their_written_form():
    """rdflib term equality: 1.0 and 1 are different literals, so both are kept."""
    ours, _ = both()
    values = set(ours.objects(S[0], P[0]))
    assert Literal(Decimal("1.0"), datatype=XSD.decimal) in values
    assert Literal(Decimal("1"), datatype=XSD.decimal) in values


def test_value_needs_one_open_position():
    with pytest.raises(ValueError, match="exactly one"):
        PatientGraph().value(None, None, None)


def test_adding_while_iterating_is_safe():
    graph = PatientGraph([(S[0], P[0], S[1])])
    for obj in graph.objects(S[0], P[0]):
        graph.add((S[0], P[0], URIRef(str(obj) + "x")))
    assert len(graph) == 2


def test_a_patient_graph_converts_to_an_isomorphic_rdflib_graph():
    record = PatientRecord.model_validate(next(iter(patients(1, seed=3))))
    graph = patient_graph(record, assessment_for("2026-11-20"))
    converted = graph.to_rdflib()
    assert len(converted) == len(graph) > 100
    merged = Graph()
    merged += graph
    assert isomorphic(merged, converted)
    assert "ql:Patient" in graph.serialize(format="turtle")
    rows = list(graph.query(f"SELECT ?p WHERE {{ ?p a <{QL.Patient}> }}"))
    assert len(rows) == 1


def test_results_and_records_survive_the_trip_to_a_worker_and_back():
    """Both travel in a compact form (tuples; the validated JSON value): nothing is lost."""
    import pickle

    from ql1706kg import screen
    from ql1706kg.inputs.records import parse_record

    raw = list(patients(5, seed=8))
    records = [parse_record(item, f"cohort[{i}]") for i, item in enumerate(raw)]
    assert pickle.loads(pickle.dumps(records)) == records
    results = screen(raw, as_of="2026-11-20", keep_graphs=False).patients
    back = pickle.loads(pickle.dumps(results))
    assert back == results
    assert [c.evidence_nodes for r in back for c in r.criteria] == [
        c.evidence_nodes for r in results for c in r.criteria]


def test_screening_leaves_the_garbage_collector_as_it_found_it():
    import gc

    from ql1706kg import screen

    before = gc.get_threshold()
    screen(list(patients(3, seed=2)), as_of="2026-11-20")
    assert gc.get_threshold() == before


def test_removing_and_adding_again_match_rdflib():
    ours, theirs = both()
    gone = [*TRIPLES[::2], (S[0], P[0], Literal("absent")), (URIRef(EX + "z"), P[0], OBJ[0])]
    for triple in gone:
        ours.remove(triple)
        theirs.remove(triple)
        assert len(ours) == len(theirs) and set(ours) == set(theirs)
    for s, p in itertools.product(S, P):
        assert same(ours.objects(s, p), theirs.objects(s, p))
    for p, o in itertools.product(P, OBJ):
        assert same(ours.subjects(p, o), theirs.subjects(p, o))
    for triple in reversed(gone[:-2]):
        ours.add(triple)
        theirs.add(triple)
    assert len(ours) == len(theirs) == len(TRIPLES) and set(ours) == set(theirs)


def test_equal_terms_made_apart_are_one_triple():
    graph = PatientGraph()
    for _ in range(2):  # a new but equal term each time, first and later objects alike
        graph.add((URIRef(EX + "s"), URIRef(EX + "p"), Literal("1", datatype=XSD.integer)))
        graph.add((URIRef(EX + "s"), URIRef(EX + "p"), Literal("2", datatype=XSD.integer)))
        graph.add((URIRef(EX + "s"), URIRef(EX + "q"), URIRef(EX + "o")))
    assert len(graph) == 3 == len(list(graph))
    assert list(graph.objects(URIRef(EX + "s"), URIRef(EX + "p"))) == [
        Literal("1", datatype=XSD.integer), Literal("2", datatype=XSD.integer)]
    assert list(graph.subjects(URIRef(EX + "q"), URIRef(EX + "o"))) == [URIRef(EX + "s")]


def test_own_gives_the_graphs_own_term_for_an_equal_subject():
    stored = URIRef(EX + "s")
    graph = PatientGraph([(stored, P[0], OBJ[1]), (S[1], P[0], stored)])
    again, absent = URIRef(EX + "s"), URIRef(EX + "absent")
    assert again is not stored and graph.own(again) is stored
    assert graph.own(absent) is absent
    assert graph.own(Literal("x")) == Literal("x")
