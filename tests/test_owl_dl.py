"""The ontology is OWL 2 DL: HermiT (through owlready2, on Java) accepts it and finds it
consistent; the DL view of real patient graphs is consistent with it; a contradictory patient
graph (one tumour typed as two protocol histologies) is found inconsistent.

Skipped where Java or owlready2 is missing; CI installs both (Java is on the machine kind).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from ql1706kg.api import assessment_for, patient_graph
from ql1706kg.inputs.read import read_paths
from ql1706kg.outputs.owl_dl import dl_view
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.resources import ontology_files

owlready2 = pytest.importorskip("owlready2")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs Java")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"


def ontology() -> Graph:
    graph = Graph()
    for path in ontology_files():
        graph.parse(path, format="turtle")
    return graph


def hermit(graph: Graph, tmp_path: Path) -> None:
    """Run HermiT on ``graph``; raises owlready2's inconsistency error when it is one."""
    path = tmp_path / "dl.owl"
    graph.serialize(path, format="xml")
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    with onto:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    return world


def test_hermit_accepts_the_ontology_and_finds_it_consistent(tmp_path):
    world = hermit(ontology(), tmp_path)
    unsatisfiable = [str(c) for c in world.inconsistent_classes()]
    assert unsatisfiable == []


def test_the_dl_view_of_the_example_patients_is_consistent(tmp_path):
    graph = ontology()
    for item in read_paths([EXAMPLES]):
        graph += dl_view(patient_graph(item.record, assessment_for("2026-11-20"),
                                       item.source).to_rdflib())
    hermit(graph, tmp_path)  # raises if inconsistent


def test_a_tumour_typed_as_two_protocol_histologies_is_inconsistent(tmp_path):
    graph = ontology()
    record = next(i for i in read_paths([EXAMPLES / "eligible-leiomyosarcoma.json"]))
    patient = patient_graph(record.record, assessment_for("2026-11-20"), record.source)
    graph += dl_view(patient.to_rdflib())
    diagnosis = next(o for o in graph.objects(None, QL.hasDiagnosis))
    assert isinstance(diagnosis, URIRef)
    graph.add((diagnosis, RDF.type, QL.AlveolarSoftPartSarcoma))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        hermit(graph, tmp_path)


def test_the_dl_view_of_uncertain_patients_is_consistent(tmp_path):
    """Issue 20's records: partial dates, intervals, choices of screening result, pregnancies,
    condition records and facts set aside keep the view consistent (intervals are left out)."""
    graph = ontology()
    for item in read_paths([Path(__file__).parent / "data" / "issue20"]):
        graph += dl_view(patient_graph(item.record, assessment_for("2026-11-20"),
                                       item.source).to_rdflib())
    hermit(graph, tmp_path)  # raises if inconsistent
