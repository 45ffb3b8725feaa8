"""The ontology is OWL 2 DL: HermiT and Pellet (both through owlready2, on Java) accept it and
find it consistent; the DL view of real patient graphs is consistent with it; a contradictory
patient graph (one tumour typed as two protocol histologies) is found inconsistent by both.

Skipped where Java or owlready2 is missing; CI installs both (Java is on the machine kind).
owlready2's Pellet jars (0.51) hold classes built for Java 25, so Pellet runs on a Java 25 or
later when one is found (``QL1706KG_JAVA25``, ``JAVA_HOME``, ``/usr/lib/jvm``), else its cases
are skipped with that reason. tests/test_owl_profile.py runs the OWL API's OWL 2 DL profile
checker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
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


@cache
def java_for_pellet() -> str | None:
    """A ``java`` of version 25 or later, which owlready2's Pellet jars need."""
    candidates = [os.environ.get("QL1706KG_JAVA25", "")]
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    candidates.append(shutil.which("java") or "")
    for java in filter(None, candidates):
        try:
            shown = subprocess.run([java, "-version"], capture_output=True, text=True,
                                   timeout=30, check=False).stderr
        except OSError:
            continue
        found = re.search(r'version "(\d+)', shown)
        if found and int(found.group(1)) >= 25:
            return java
    return None


def reason(graph: Graph, tmp_path: Path, reasoner: str):
    """Run HermiT or Pellet on ``graph``; raises owlready2's inconsistency error when it is
    one."""
    path = tmp_path / "dl.owl"
    graph.serialize(path, format="xml")
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    if reasoner == "hermit":
        with onto:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        return world
    java = java_for_pellet()
    if java is None:
        pytest.skip("owlready2's Pellet needs Java 25 or later (its jars are built for it)")
    before, owlready2.JAVA_EXE = owlready2.JAVA_EXE, java
    try:
        with onto:
            owlready2.sync_reasoner_pellet(world, infer_property_values=False,
                                           infer_data_property_values=False, debug=0)
    finally:
        owlready2.JAVA_EXE = before
    return world


REASONERS = pytest.mark.parametrize("reasoner", ["hermit", "pellet"])


@REASONERS
def test_the_reasoner_accepts_the_ontology_and_finds_it_consistent(tmp_path, reasoner):
    world = reason(ontology(), tmp_path, reasoner)
    unsatisfiable = [str(c) for c in world.inconsistent_classes()]
    assert unsatisfiable == []


@REASONERS
def test_the_dl_view_of_the_example_patients_is_consistent(tmp_path, reasoner):
    graph = ontology()
    for item in read_paths([EXAMPLES]):
        graph += dl_view(patient_graph(item.record, assessment_for("2026-11-20"),
                                       item.source).to_rdflib())
    reason(graph, tmp_path, reasoner)  # raises if inconsistent


@REASONERS
def test_a_tumour_typed_as_two_protocol_histologies_is_inconsistent(tmp_path, reasoner):
    graph = ontology()
    record = next(i for i in read_paths([EXAMPLES / "eligible-leiomyosarcoma.json"]))
    patient = patient_graph(record.record, assessment_for("2026-11-20"), record.source)
    graph += dl_view(patient.to_rdflib())
    diagnosis = next(o for o in graph.objects(None, QL.hasDiagnosis))
    assert isinstance(diagnosis, URIRef)
    graph.add((diagnosis, RDF.type, QL.AlveolarSoftPartSarcoma))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        reason(graph, tmp_path, reasoner)


@REASONERS
def test_the_dl_view_of_uncertain_patients_is_consistent(tmp_path, reasoner):
    """Issue 20's records: partial dates, intervals, choices of screening result, pregnancies,
    condition records and facts set aside keep the view consistent (intervals are left out)."""
    graph = ontology()
    for item in read_paths([Path(__file__).parent / "data" / "issue20"]):
        graph += dl_view(patient_graph(item.record, assessment_for("2026-11-20"),
                                       item.source).to_rdflib())
    reason(graph, tmp_path, reasoner)  # raises if inconsistent
