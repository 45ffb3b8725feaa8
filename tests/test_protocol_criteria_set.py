"""A protocol folder's criteria are exactly those it declares: removed, added, ordered, unique.

One exported folder is edited as a protocol author would: a bundled criterion removed (its
individual and its shapes), one added with no ``ql:criterionOrder``; and the id refusals
(two criteria with one id, one criterion declared in two files) are checked statically, each
naming both files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from ql1706kg.protocol.check import ProtocolRefused, static_check
from ql1706kg.protocol.namespaces import QL, RDF
from ql1706kg.protocol.order import complete_order, natural_key
from ql1706kg.protocol.resources import protocol

from .conftest import AS_OF, EXAMPLES

ONTOLOGY = "ontology/ql1706kg.ttl"
SAMPLES = "shapes/04-disease-and-samples.ttl"
REMOVED = "IC7"
BOTH = r"\S*(?:ql1706kg|added)\.ttl and \S*(?:ql1706kg|added)\.ttl"  # both files, named
ADDED = """@prefix ql: <https://w3id.org/ql1706kg#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
ql:ADD-1 a owl:NamedIndividual, ql:AtomicCriterion ; rdfs:label "ADD-1"@en ;
    ql:criterionId "ADD-1" ;
    skos:definition "Expected survival of at least 100 days."@en ;
    ql:collectHint "the investigator's estimate of survival" ;
    ql:screeningWindowApplies false ;
    ql:evidenceProperty ql:expectedSurvival .
"""
ADDED_SHAPES = """@prefix ql: <https://w3id.org/ql1706kg#> .
@prefix qls: <https://w3id.org/ql1706kg/shapes#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
qls:ADD-1-Recorded a sh:PropertyShape ;
    sh:targetClass ql:Patient ; ql:criterion ql:ADD-1 ; ql:onViolation ql:Unknown ;
    sh:severity sh:Warning ; sh:name "expected survival recorded" ;
    sh:path ( ql:expectedSurvival ql:normalisedValue ) ; sh:minCount 1 ;
    sh:message "No expected survival is on record." .
qls:ADD-1-Limit a sh:PropertyShape ;
    sh:targetClass ql:Patient ; ql:criterion ql:ADD-1 ; ql:onViolation ql:NotMet ;
    sh:severity sh:Violation ; sh:name "expected survival ≥{sh:minInclusive} days" ;
    sh:path ( ql:expectedSurvival ql:normalisedValue ) ; sh:minInclusive 100 ;
    sh:message "The expected survival is below {sh:minInclusive} days." .
"""


def _edit(folder: Path, file: str, change) -> None:
    path = folder / file
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


@pytest.fixture(scope="module")
def reshaped(exported: Path, tmp_path_factory) -> Path:
    """The exported protocol without IC7 and with ADD-1 (no stated order)."""
    folder = tmp_path_factory.mktemp("reshaped") / "protocol"
    shutil.copytree(exported, folder)
    statement = re.compile(rf"^ql:{REMOVED} a owl:NamedIndividual, ql:AtomicCriterion ;.*?"
                           r"\s\.$\n", re.S | re.M)
    shapes = re.compile(rf"^qls:{REMOVED}-.*?\s\.$\n", re.S | re.M)
    _edit(folder, ONTOLOGY, lambda text: statement.sub("", text, count=1))
    _edit(folder, SAMPLES, lambda text: shapes.sub("", text))
    (folder / "ontology" / "added.ttl").write_text(ADDED, encoding="utf-8")
    (folder / "shapes" / "90-added.ttl").write_text(ADDED_SHAPES, encoding="utf-8")
    return folder


def test_natural_order_counts_numbers_by_value():
    ids = ["IC10", "IC9.1-ANC", "IC2", "IC9.0", "IC1", "IC9.10", "IC9.2-AST"]
    assert sorted(ids, key=natural_key) == ["IC1", "IC2", "IC9.0", "IC9.1-ANC", "IC9.2-AST",
                                            "IC9.10", "IC10"]


def test_a_missing_or_unusable_order_is_derived_after_the_stated_ones():
    graph = Graph()
    for name, order in (("B10", None), ("B9", None), ("A", 7), ("C", "first")):
        node = URIRef(f"urn:x:{name}")
        graph.add((node, RDF.type, QL.AtomicCriterion))
        graph.add((node, QL.criterionId, Literal(name)))
        if order is not None:
            graph.add((node, QL.criterionOrder, Literal(order)))
    complete_order(graph)
    got = {str(graph.value(s, QL.criterionId)): int(graph.value(s, QL.criterionOrder))
           for s in graph.subjects(RDF.type, QL.AtomicCriterion)}
    assert got == {"A": 7, "B9": 8, "B10": 9, "C": 10}


def test_a_folder_screens_exactly_the_criteria_it_declares(reshaped: Path):
    from ql1706kg import screen
    from ql1706kg.protocol.terminology import terminology

    notes, _graphs = static_check(reshaped)
    assert any(f"removes criteria of the bundled protocol: {REMOVED}" in n for n in notes)
    assert any("adds criteria the bundled protocol lacks: ADD-1" in n for n in notes)
    with protocol(reshaped):
        result = screen([EXAMPLES / "eligible-leiomyosarcoma.json"], as_of=AS_OF)
        orders = {cid: c["order"] for cid, c in terminology().criteria.items()}
    ids = [c.id for c in result.patients[0].criteria]
    assert REMOVED not in ids and ids[-1] == "ADD-1"
    assert orders["ADD-1"] == max(orders.values()) and len(set(orders.values())) == len(ids)
    assert result.patients[0].outcome("ADD-1") == "met"  # 24 weeks of expected survival


def test_every_output_lists_an_added_criterion_without_a_stated_order(reshaped: Path):
    from ql1706kg.semweb.publish.study import criteria, study

    with protocol(reshaped):
        listed = [cid for cid, _text in criteria(study().iri)]
    assert listed[-1] == "ADD-1" and REMOVED not in listed


@pytest.mark.parametrize(("added", "expected"), [
    # a second criterion, in another file, given an id the protocol already uses
    ('ql:IC8.2-again a ql:AtomicCriterion ; ql:criterionId "IC8.2" ; ql:criterionOrder 99 .',
     rf"{BOTH}: two criteria have the id 'IC8\.2'"),
    # a bundled criterion declared again (its block copied and edited): it would merge
    ('ql:IC8.2 a ql:AtomicCriterion ; ql:criterionId "IC8.2-new" ; ql:criterionOrder 99 .',
     rf"{BOTH}: criterion ql:IC8\.2 is declared more than once "
     r"\(ids 'IC8\.2', 'IC8\.2-new'\)"),
], ids=["one-id-two-criteria", "one-criterion-two-files"])
def test_an_id_names_one_criterion(exported: Path, tmp_path: Path, added: str, expected: str):
    folder = tmp_path / "duplicated"
    shutil.copytree(exported, folder)
    (folder / "ontology" / "added.ttl").write_text(
        "@prefix ql: <https://w3id.org/ql1706kg#> .\n" + added + "\n", encoding="utf-8")
    with pytest.raises(ProtocolRefused, match=expected):
        static_check(folder)


def test_a_deactivated_shape_is_named_in_a_note(tmp_path: Path):
    """SHACL ignores a deactivated shape (2.1.5), so whatever it refuses passes: legitimate in
    an amendment, but the folder's notes say so, naming the shape and its criterion."""
    from rdflib.namespace import SH

    from ql1706kg.protocol.check_criteria import shapes_and_criteria

    shapes, criterion, shape = Graph(), QL["ADD-1"], URIRef("https://example.org/s#Limit")
    shapes.add((shape, QL.criterion, criterion))
    shapes.add((shape, SH.deactivated, Literal(True)))
    by_file = {tmp_path / "shapes" / "added.ttl": shapes}
    notes = shapes_and_criteria({criterion: "ADD-1"}, shapes, by_file, tmp_path, {"ADD-1"})
    assert notes == [f"{tmp_path / 'shapes' / 'added.ttl'}: shape <https://example.org/s#Limit>"
                     " of ADD-1 is deactivated (sh:deactivated true): nothing it would refuse "
                     "is refused"]
    shapes.set((shape, SH.deactivated, Literal(False)))
    assert shapes_and_criteria({criterion: "ADD-1"}, shapes, by_file, tmp_path, {"ADD-1"}) == []
