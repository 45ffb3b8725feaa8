"""Uncertain data through both SHACL engines, and a screen as of two dates.

The compiled evaluator decides uncertain graphs by must/may evaluation (pipeline/
shacl_uncertain.py); pySHACL, the reference, is run on every reading of the graph
(pipeline/worlds.py). On issue 20's fixtures both give the same outcome for every criterion.

A retrospective screen ("who was eligible on 2024-03-01", with later data in the export) gives
what the data known on each date supports: facts after the assessment date are invisible,
never an error.
"""

from __future__ import annotations

import copy
import json

import pytest

from ql1706kg import screen
from ql1706kg.api import assessment_for, patient_graph
from ql1706kg.inputs.records import parse_record
from ql1706kg.pipeline.judge import judge
from ql1706kg.pipeline.lift import patient_iri
from ql1706kg.pipeline.shacl_uncertain import is_uncertain
from ql1706kg.pipeline.validate import shapes, validate_graphs
from ql1706kg.protocol.terminology import terminology

from .conftest import AS_OF, BASE, DATA_DIR

FIXTURES = sorted((DATA_DIR / "issue20").glob("*.json"))


def _outcomes(rec: dict, engine: str) -> dict[str, str]:
    item = parse_record(rec, "t")
    assessment = assessment_for(AS_OF)
    graph = patient_graph(item.record, assessment, "t")
    violations = validate_graphs([graph], engine)
    result = judge(patient_iri(item.record.id), graph, violations, shapes(), terminology(),
                   assessment, "t")
    return {c.id: c.outcome for c in result.criteria}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_both_engines_decide_the_fixtures_alike(path):
    rec = json.loads(path.read_text())
    assert _outcomes(rec, "compiled") == _outcomes(rec, "pyshacl")


def test_the_fixtures_exercise_uncertain_graphs():
    assessment = assessment_for(AS_OF)
    uncertain = [p.stem for p in FIXTURES
                 if is_uncertain(patient_graph(parse_record(json.loads(p.read_text()), "t")
                                               .record, assessment))]
    assert len(uncertain) >= 10, uncertain


# -- a screen as of two dates ----------------------------------------------------------------

def _history() -> dict:
    """A record exported in 2026 holding a screening of 2024 and one of 2026."""
    rec = copy.deepcopy(BASE)
    rec["id"] = "RETRO"
    rec["consent"] = {"icf_signed": "2024-02-20", "able_to_comply": True}
    rec["prior_therapies"][0].update(start="2023-03-01", end="2023-08-01")
    rec["diagnosis"]["date"] = "2023-01-20"
    rec["metastases"] = [{"site": "lung", "date": "2023-02-01"},
                         {"site": "liver", "date": "2025-06-01"}]
    rec["lesions"][0]["date"] = "2024-02-22"
    old = [dict(o, date=o["date"].replace("2026-11", "2024-02")) for o in rec["observations"]]
    for obs in old:
        if obs["test"] == "ANC":
            obs["value"] = 1.0   # not met in 2024
        if obs["test"] == "AST":
            obs["value"] = 120   # 3 ×ULN: not met without a liver metastasis
    for obs in rec["observations"]:
        if obs["test"] == "AST":
            obs["value"] = 120   # within 5 ×ULN once the liver metastasis is known (2025)
    rec["observations"] = old + rec["observations"]
    rec["supportive_care"] = [{"product": "filgrastim", "date": "2026-11-05"}]
    return rec


@pytest.mark.parametrize(("as_of", "expected"), [
    # the only product on the list is of 2026: on 2024-03-01 the list said nothing yet
    # (derive/cut.py: a list whose every item is later is no longer "recorded")
    ("2024-03-01", {"IC1": "met", "IC9.1-ANC": "not_met", "IC9.2-AST": "not_met",
                    "IC9.0": "unknown", "IC5.1": "met"}),
    ("2026-11-20", {"IC1": "met", "IC9.1-ANC": "met", "IC9.2-AST": "met",
                    "IC9.0": "not_met", "IC5.1": "met"}),
    ("2023-01-01", {"IC1": "unknown", "IC3.3": "unknown", "IC9.1-ANC": "unknown"}),
])
def test_one_record_screened_as_of_two_dates(as_of, expected):
    result = screen([_history()], as_of=as_of)
    assert result.errors == []
    (patient,) = result.patients
    got = {c.id: c.outcome for c in patient.criteria}
    assert {k: got[k] for k in expected} == expected


def test_later_facts_are_invisible_and_said_not_refused():
    result = screen([_history()], as_of="2024-03-01")
    (patient,) = result.patients
    ast = next(c for c in patient.criteria if c.id == "IC9.2-AST")
    assert "Set aside as dated after the assessment date 2024-03-01" in ast.explanation
    assert "liver" in ast.explanation.split("Set aside")[1]
    assert "2025-06-01" not in ast.explanation.split("Set aside")[0]
