"""Windows anchored on another fact selection (ql:windowAnchor a ql:FactSelection: "after the
last CNS-directed treatment"): the protocol check refuses an anchor the engine cannot count
from (no anchor, date kind or selection of that IRI) and a cycle of selections anchored on each
other, and the selections run each after the one it is anchored on."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph

from ql1706kg.pipeline.derive.selections import _ordered
from ql1706kg.protocol.fact_kinds import anchor_problems, build_fact_kinds

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
HEAD = """@prefix ql: <https://w3id.org/ql1706kg#> .
@prefix ex: <https://example.org/p#> .
ex:Therapy a ql:FactKind ; ql:recordKey "therapy" ; ql:valueType ql:PresenceValue .
ex:Day1 a ql:FactKind ; ql:recordKey "day1" ; ql:valueType ql:DateValue .
ex:therapy a ql:FactSelection ; ql:selectsKind ex:Therapy .
"""


def _problems(turtle: str) -> list[str]:
    kinds, selections = build_fact_kinds(Graph().parse(data=HEAD + turtle, format="turtle"))
    return anchor_problems(kinds.values(), selections)


@pytest.mark.parametrize(("anchor", "refused"), [
    ("ql:ConsentAnchor", None), ("ql:AssessmentAnchor", None), ("ex:Day1", None),
    ("ex:therapy", None), ("ex:Therapy", "no anchor"), ("ex:nothing", "no anchor"),
    ("ex:after", "a cycle"),
])
def test_an_anchor_the_engine_cannot_count_from_is_refused(anchor, refused):
    problems = _problems(f"ex:after a ql:FactSelection ; ql:selectsKind ex:Therapy ; "
                         f"ql:windowAnchor {anchor} ; ql:withinDaysBefore 0 .")
    assert (problems == []) if refused is None else any(refused in p for p in problems)


def test_a_cycle_through_two_selections_is_refused():
    problems = _problems("""
ex:a a ql:FactSelection ; ql:selectsKind ex:Therapy ; ql:windowAnchor ex:b ; ql:withinDaysBefore 1 .
ex:b a ql:FactSelection ; ql:selectsKind ex:Therapy ; ql:windowAnchor ex:a ; ql:withinDaysBefore 1 .
""")
    assert len([p for p in problems if "a cycle" in p]) == 2


def test_a_selection_runs_after_the_one_it_is_anchored_on():
    """SARC028's selections have no anchor problem, and IN12.3's imaging window comes after the
    CNS-directed treatments it counts from (whatever order their IRIs sort in)."""
    graph = Graph()
    for path in sorted((FOLDER / "ontology").glob("*.ttl")):
        graph.parse(path, format="turtle")
    kinds, selections = build_fact_kinds(graph)
    assert anchor_problems(kinds.values(), selections) == []
    order = [str(s.iri).rsplit("#", 1)[-1] for s in _ordered(selections)]
    assert order.index("cnsTherapyOnRecord") < order.index("brainImagingAfterCNSTherapy")
    assert sorted(order) == sorted(str(s.iri).rsplit("#", 1)[-1] for s in selections)
