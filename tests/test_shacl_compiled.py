"""The compiled SHACL evaluator and pySHACL (the reference) agree, shape for shape.

On every example patient (JSON and FHIR) and on 1,000 generated patients that exercise every
criterion, both engines must report the same (focus node, top-level shape) pairs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyshacl
import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from ql1706kg.api import assessment_for, patient_graph, screen
from ql1706kg.inputs.read import read_paths
from ql1706kg.inputs.records import parse_record
from ql1706kg.inputs.synthetic import patients
from ql1706kg.pipeline.shacl_compiled import Unsupported, compile_shapes
from ql1706kg.pipeline.validate import shapes, validate_graphs

ROOT = Path(__file__).resolve().parents[1]
ASSESSMENT = assessment_for("2026-11-20")


def pairs(graphs: list[Graph], engine: str) -> set[tuple[str, str]]:
    return {(str(v.focus), str(v.shape)) for v in validate_graphs(graphs, engine)}


def test_the_bundled_shapes_compile():
    assert shapes().fast is not None
    assert len(shapes().fast.checks) == len(shapes().info)


@pytest.mark.parametrize("folder", ["patients", "fhir"])
def test_engines_agree_on_every_example(folder):
    graphs = [patient_graph(item.record, ASSESSMENT, item.source)
              for item in read_paths([ROOT / "examples" / folder])]
    assert len(graphs) >= 16
    for graph in graphs:
        assert pairs([graph], "compiled") == pairs([graph], "pyshacl")


GENERATED, PART = 500, 250  # 500 patients in two parts, so xdist spreads them


@pytest.mark.parametrize("start", range(0, GENERATED, PART))
def test_engines_agree_on_500_generated_patients(start):
    records = list(patients(GENERATED, seed=42))[start:start + PART]
    generated = [patient_graph(parse_record(rec, "synthetic").record, ASSESSMENT)
                 for rec in records]
    for first in range(0, len(generated), 25):
        batch = generated[first:first + 25]
        assert pairs(batch, "compiled") == pairs(batch, "pyshacl"), f"batch at {start + first}"


def test_generated_patients_exercise_every_outcome_of_every_criterion():
    result = screen(list(patients(1000, seed=42)), as_of="2026-11-20", jobs=1,
                    keep_graphs=False)
    seen = Counter((c.id, c.outcome) for p in result.patients for c in p.criteria)
    for criterion in {c.id for c in result.patients[0].criteria}:
        outcomes = {o for (cid, o) in seen if cid == criterion}
        assert "met" in outcomes and len(outcomes) >= 2, (criterion, outcomes)
    verdicts = Counter(p.verdict for p in result.patients)
    assert 0.3 <= verdicts["eligible"] / 1000 <= 0.55


def test_an_unknown_component_is_refused_not_ignored():
    graph = Graph()
    shape = URIRef("https://example.org/s")
    sh = "http://www.w3.org/ns/shacl#"
    graph.add((shape, URIRef(sh + "targetClass"), URIRef("https://example.org/C")))
    graph.add((shape, URIRef(sh + "pattern"), Literal("^a")))
    with pytest.raises(Unsupported):
        compile_shapes(graph)


@pytest.mark.parametrize(("values", "others"), [
    ((), ()), (("a",), ("a",)), (("a", "b"), ("b", "a")), (("a",), ()), ((), ("a",)),
    (("a",), ("a", "b")), (("a", "b"), ("a",)), (("a",), ("b",)),
], ids=["both-empty", "same", "same-order-apart", "more", "fewer", "subset", "superset",
        "other"])
def test_sh_equals_agrees_with_pyshacl(values, others):
    """sh:equals (two fact selections hold the same facts: "every such fact lies in the
    window"): the compiled evaluator gives pySHACL's answer on every relation of two sets."""
    ex = Namespace("https://example.org/")
    shapes_graph, data = Graph(), Graph()
    shape, inner = ex.shape, BNode()
    shapes_graph.add((shape, SH.targetClass, ex.C))
    shapes_graph.add((shape, SH["or"], inner))  # as the SARC028 shapes write it
    member = BNode()
    shapes_graph.add((member, SH.path, ex.p))
    shapes_graph.add((member, SH.equals, ex.q))
    Collection(shapes_graph, inner, [member])
    data.add((ex.focus, RDF.type, ex.C))
    for name in values:
        data.add((ex.focus, ex.p, ex[name]))
    for name in others:
        data.add((ex.focus, ex.q, ex[name]))
    compiled = {(str(f), str(s)) for f, s in compile_shapes(shapes_graph).violations(data)}
    conforms, _report, _text = pyshacl.validate(data, shacl_graph=shapes_graph)
    assert (not compiled) == conforms == (set(values) == set(others))
