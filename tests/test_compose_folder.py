"""Conditions and compositions end to end: the declarations read and refused
(protocol/conditions.py, on small graphs), and a tiny protocol folder (tests/data/
logic-protocol: made-up criteria over sex, age and the contraception statement) screened
once: every outcome, the explanations in the conditions' words, a set-aside fact read by a
member condition, what-if's refusal to guess, and the check's refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, URIRef

from ql1706kg.cli import main
from ql1706kg.pipeline.protocol_check import ProtocolRefused, check_protocol
from ql1706kg.protocol.conditions import LogicError, read_logic

DATA = Path(__file__).parent / "data" / "logic-protocol"
SCHEMA = Path(__file__).resolve().parents[1] / "examples" / "protocols" / "sarc028" / "ontology"
PREFIXES = """@prefix ql: <https://w3id.org/ql1706kg#> . @prefix t: <https://example.org/t#> .
"""
T1 = URIRef("https://example.org/t#T1")


def _logic(turtle: str, shaped: set | None = None):
    graph = Graph().parse(data=PREFIXES + turtle, format="turtle")
    return read_logic(graph, {T1: "T1"}, shaped)


def test_a_criterion_defined_by_nested_compositions():
    logic = _logic("t:A a ql:Condition . t:B a ql:Condition . t:C a ql:Condition ."
                   "t:T1 ql:anyOf ( [ ql:allOf ( t:A t:B ) ] t:C ) ; ql:appliesWhen t:A .")
    a, b, c = ("https://example.org/t#" + x for x in "ABC")
    assert logic.defined["T1"].op == "any"
    assert logic.defined["T1"].refs() == {a, b, c}
    assert logic.applies["T1"].ref == a
    assert logic.reads("T1") == {a, b, c}


@pytest.mark.parametrize(("turtle", "message"), [
    ("t:A a ql:Condition . t:T1 ql:anyOf ( t:A t:Nothing ) .", "neither a ql:Condition"),
    ("t:A a ql:Condition . t:T1 ql:anyOf ( ) , ( t:A ) .", "one list"),
    ("t:A a ql:Condition . t:T1 ql:allOf ( t:A ) . t:X ql:anyOf ( ) .", ""),
    ("t:A a ql:Condition . t:T1 ql:allOf ( ) ; ql:appliesWhen t:A .", "empty"),
    ("t:A a ql:Condition ; ql:anyOf ( t:B ) . t:B a ql:Condition ; ql:noneOf ( t:A ) ."
     "t:T1 ql:appliesWhen t:A .", "cycle"),
    ("t:A a ql:Condition . t:B a ql:Condition . t:T1 ql:appliesWhen t:A .", "used by no"),
    ("t:A a ql:Condition . t:T1 ql:anyOf ( t:A t:T1 ) .", "references the criterion"),
    ("t:A a ql:Condition . t:B a ql:Condition ."
     "t:T1 ql:appliesWhen t:A , t:B .", "ql:appliesWhen"),
])
def test_refused_declarations(turtle, message):
    if not message:  # a composition nothing references is not read: no error
        _logic(turtle)
        return
    with pytest.raises(LogicError, match=message):
        _logic(turtle)


def test_a_condition_that_decides_nothing_is_refused():
    with pytest.raises(LogicError, match="decides nothing"):
        _logic("t:A a ql:Condition . t:T1 ql:appliesWhen t:A .", shaped=set())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("logic") / "logic-protocol"
    shutil.copytree(DATA, out)
    for schema in [SCHEMA / "ql1706kg.ttl", *SCHEMA.glob("terminology-*.ttl")]:
        shutil.copy(schema, out / "ontology")
    return out


@pytest.fixture(scope="module")
def screened(folder) -> dict[str, dict[str, dict]]:
    result = CliRunner().invoke(main, ["screen", str(folder / "patients"), "--protocol",
                                       str(folder), "--as-of", "2027-03-15", "--format",
                                       "json"])
    assert result.exit_code in (0, 1, 3), result.output
    return {p["id"]: {c["id"]: c for c in p["criteria"]} | {"verdict": p["verdict"]}
            for p in json.loads(result.stdout)["patients"]}


# T1 = anyOf(allOf(Female, AtLeast12), AtLeast18); T2 applies when Female (own: agreed);
# T3 (exclusion) = noneOf(Female). P7's sex is set aside as untrusted.
EXPECTED = {
    "P1": ("met", "met", "not_met", "ineligible"),  # female, 14, agreed
    "P2": ("not_met", "not_applicable", "met", "ineligible"),  # male, 14
    "P3": ("met", "not_applicable", "met", "eligible"),  # male, 40, not agreed
    "P4": ("unknown", "unknown", "unknown", "incomplete"),  # no sex, 14, not agreed
    "P5": ("met", "met", "unknown", "incomplete"),  # no sex, 40, agreed: met either way
    "P6": ("unknown", "unknown", "unknown", "incomplete"),  # nothing at all
    "P7": ("unknown", "unknown", "not_met", "ineligible"),  # female 40, sex set aside
}


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_outcomes(screened, pid):
    got = screened[pid]
    assert (got["T1"]["outcome"], got["T2"]["outcome"], got["T3"]["outcome"],
            got["verdict"]) == EXPECTED[pid]


def test_explanations_use_the_conditions_words(screened):
    assert "Met: the patient is female; aged 12 or more." in screened["P1"]["T1"]["explanation"]
    assert ("Not applicable: applies only when the patient is female; the patient is not "
            "female.") in screened["P2"]["T2"]["explanation"]
    assert ("whether it applies (only when the patient is female) is not known: the sex is "
            "not on record, and it is met either way") in screened["P5"]["T2"]["explanation"]
    t1 = screened["P6"]["T1"]["explanation"]
    assert t1.count("the age is not known") == 1 and "the sex is not on record" in t1


def test_a_set_aside_fact_read_by_a_member_condition_blocks(screened):
    for cid in ("T1", "T2"):
        text = screened["P7"][cid]["explanation"]
        assert "two sexes recorded" in text and "set aside as untrusted" in text


def test_what_if_says_it_computes_no_change_for_a_composition(screened):
    for pid, cid in (("P2", "T1"), ("P4", "T2"), ("P1", "T3")):
        assert screened[pid][cid]["change_needed"].startswith("no change computed"), (pid, cid)


def _edited(folder: Path, tmp_path: Path, old: str, new: str) -> Path:
    copy = tmp_path / "edited"
    shutil.copytree(folder, copy)
    path = copy / "ontology" / "logic.ttl"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return copy


@pytest.mark.parametrize(("old", "new", "message"), [
    ("ql:appliesWhen t:Female .", "ql:appliesWhen t:Nobody .", "neither a ql:Condition"),
    ("ql:noneOf ( t:Female ) .", "ql:noneOf ( ) .", "empty"),
    ('ql:whenUnknown "the age is not known" .\nt:AtLeast18',
     'ql:whenUnknown "the age is not known" ; ql:anyOf ( t:AtLeast18 ) .\nt:AtLeast18', ""),
])
def test_the_check_refuses(folder, tmp_path, old, new, message):
    edited = _edited(folder, tmp_path, old, new)
    if not message:  # AtLeast12 = anyOf(AtLeast18) is allowed; then make it a cycle
        text = (edited / "ontology" / "logic.ttl").read_text()
        (edited / "ontology" / "logic.ttl").write_text(text.replace(
            'ql:whenNotMet "younger than 18" ;',
            'ql:whenNotMet "younger than 18" ; ql:allOf ( t:AtLeast12 ) ;'))
        message = "cycle"
    with pytest.raises(ProtocolRefused, match=message):
        check_protocol(edited)


def test_the_check_refuses_a_composition_met_on_no_data(folder, tmp_path):
    """T3 turned into an inclusion that is met when Female is not: a patient without a sex
    on record would be unknown (Female unknown), but with the 'is female' shape written so
    that nothing on record violates it, a patient with no data would meet it."""
    edited = _edited(folder, tmp_path, "ql:AtomicCriterion, ql:ExclusionCriterion ;",
                     "ql:AtomicCriterion ;")
    shapes = edited / "shapes" / "logic.ttl"
    shapes.write_text(shapes.read_text().replace("sh:in ( ql:Female )",
                                                 "sh:hasValue ql:Female"))
    with pytest.raises(ProtocolRefused,
                       match=r"no data at all passes T2 \(not_applicable\), T3 \(met\)"):
        check_protocol(edited)
