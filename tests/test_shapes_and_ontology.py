"""The shapes and ontology are well formed and complete: every criterion, every term."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDFS

from ql1706kg.pipeline.validate import load_shapes_graph, shapes
from ql1706kg.protocol.namespaces import QL, RDF, SH
from ql1706kg.protocol.terminology import closure_graph, load_ontology, terminology

CRITERIA = [
    "IC1", "IC2", "IC3.1", "IC3.2", "IC3.3", "IC4", "IC5.1", "IC5.2", "IC6", "IC7", "IC8.1",
    "IC8.2", "IC9.0", "IC9.1-ANC", "IC9.1-PLT", "IC9.1-HB", "IC9.2-AST", "IC9.2-ALT",
    "IC9.2-TBIL", "IC9.2-ALB", "IC9.3-CR", "IC9.4-APTT", "IC9.4-INR", "IC9.4-PT", "IC9.5-UPRO",
    "IC9.6-LVEF", "IC10", "IC11",
]
PACKAGE = Path(__file__).resolve().parents[1] / "ql1706kg"


def test_shapes_pass_shacl_shacl():
    conforms, _graph, text = validate(load_shapes_graph(), meta_shacl=True,
                                      shacl_graph=Graph())
    assert conforms, text


def test_all_28_criteria_are_individuals_and_have_shapes():
    assert list(terminology().criteria) == CRITERIA
    decided = {s.criterion for s in shapes().info.values()}
    assert set(CRITERIA) <= decided


@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_criterion_can_be_unknown_and_not_met(criterion):
    outcomes = {s.outcome for s in shapes().by_criterion(criterion)}
    assert {"unknown", "not_met"} <= outcomes


def test_every_criterion_shape_has_message_name_and_link():
    graph = load_shapes_graph()
    for shape in graph.subjects(QL.criterion, None):
        assert graph.value(shape, SH.message), shape
        assert graph.value(shape, SH.name), shape
        assert graph.value(shape, QL.onViolation), shape
        assert graph.value(shape, RDF.type) in (SH.NodeShape, SH.PropertyShape), shape
        assert graph.value(shape, RDFS.seeAlso) == graph.value(shape, QL.criterion), shape


def test_limit_names_state_their_threshold():
    """A shape's name ('AST ≤2.5 ×ULN') must carry the number its constraint checks."""
    graph = load_shapes_graph()
    for info in shapes().info.values():
        if not info.is_limit or info.outcome != "not_met":
            continue
        numbers = {str(graph.value(n, c)) for n in graph.transitive_objects(info.iri, None)
                   for c in (SH.minInclusive, SH.maxInclusive, SH.minExclusive,
                             SH.maxExclusive) if graph.value(n, c) is not None}
        assert any(re.sub(r"\.0$", "", n) in info.name.replace(",", "") for n in numbers) or \
            info.criterion in {"IC6", "IC5.2", "IC8.2", "IC9.0"}, (info.iri, numbers)


def test_ontology_has_registry_metadata():
    graph = load_ontology()
    ontology = next(graph.subjects(RDF.type, OWL.Ontology))
    for prop in ("http://purl.org/dc/terms/title", "http://purl.org/dc/terms/license",
                 "http://www.w3.org/2002/07/owl#versionIRI",
                 "http://purl.org/vocab/vann/preferredNamespacePrefix"):
        assert graph.value(ontology, URIRef(prop)) is not None, prop


def test_every_ql_term_used_by_the_code_is_declared():
    declared = {str(s) for s in closure_graph().subjects()}
    used = set()
    for path in PACKAGE.glob("*.py"):
        used |= set(re.findall(r"\bQL\.(\w+)", path.read_text()))
    missing = sorted(t for t in used if str(QL[t]) not in declared)
    assert missing == []


def test_closure_gives_class_membership():
    term = terminology()
    assert term.is_a(QL.Cadonilimab, QL.PD1OrPDL1Inhibitor)
    assert term.is_a(QL.PegylatedLiposomalDoxorubicin, QL.Anthracycline)
    assert not term.is_a(QL.Mitoxantrone, QL.Anthracycline)
    assert term.is_a(QL.UndifferentiatedSpindleCellSarcoma, QL.ProtocolHistology)
    assert term.is_a(QL.DedifferentiatedLiposarcoma, QL.SubtypeWithStandardSystemicTherapy)

