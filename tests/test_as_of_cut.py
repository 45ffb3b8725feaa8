"""The as-of cut: a fact dated after the assessment date is set aside in one place, named.

Whatever its kind (consent, diagnosis, metastasis, therapy, result, product, lesion), a fact
dated after the as-of date was not known then: no criterion uses it, and the criteria that
would have read it say so.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.api import assessment_for, patient_graph
from ql1706kg.inputs.records import parse_record
from ql1706kg.protocol.namespaces import QL

BASE = json.loads((Path(__file__).parent / "data" / "base-eligible.json").read_text())
AS_OF = "2026-11-20"
LATER = "2026-11-25"


def screened(**changes):
    record = copy.deepcopy(BASE)
    record.update(changes)
    result = screen([parse_record(record, "t").record], as_of=AS_OF)
    (patient,) = result.patients
    return patient


def criterion(patient, cid):
    return next(c for c in patient.criteria if c.id == cid)


def test_a_consent_signed_after_as_of_is_no_consent_in_ic1_and_ic2():
    patient = screened(consent={"icf_signed": LATER, "able_to_comply": True})
    for cid in ("IC1", "IC2"):
        result = criterion(patient, cid)
        assert f"Set aside as dated after the assessment date {AS_OF}" in result.explanation
        assert f"ICF signed on {LATER}" in result.explanation
    assert criterion(patient, "IC1").outcome == "unknown"
    assert "age" in criterion(patient, "IC2").explanation  # taken on the as-of date instead


def test_a_metastasis_found_after_as_of_does_not_raise_the_liver_limit():
    record = copy.deepcopy(BASE)
    ast = next(o for o in record["observations"] if o["test"] == "AST")
    ast.update(value=150, uln=40)  # 3.75 × ULN: met only with a liver metastasis
    patient = screened(metastases=[{"site": "liver", "date": LATER}],
                       observations=record["observations"])
    result = criterion(patient, "IC9.2-AST")
    assert result.outcome == "not_met"
    assert "metastasis: liver (found 2026-11-25)" in result.explanation


def test_a_list_whose_every_item_is_set_aside_is_not_recorded_none():
    patient = screened(prior_therapies=[{"drugs": ["doxorubicin"], "start": LATER}])
    result = criterion(patient, "IC5.1")
    assert result.outcome in ("unknown", "not_applicable")
    assert "doxorubicin" in result.explanation or result.outcome == "not_applicable"


def test_a_result_taken_after_as_of_is_set_aside_and_named():
    record = copy.deepcopy(BASE)
    anc = next(o for o in record["observations"] if o["test"] == "ANC")
    anc["date"] = LATER
    patient = screened(observations=record["observations"])
    result = criterion(patient, "IC9.1-ANC")
    assert result.outcome == "unknown"
    assert f"Set aside as dated after the assessment date {AS_OF}" in result.explanation
    assert LATER in result.explanation


@pytest.mark.parametrize(("field", "value", "link"), [
    ("consent", {"icf_signed": LATER}, QL.informedConsent),
    ("diagnosis", {"histology": "leiomyosarcoma", "date": LATER}, QL.hasDiagnosis),
    ("metastases", [{"site": "lung", "date": LATER}], QL.hasMetastasis),
    ("supportive_care", [{"product": "filgrastim", "date": LATER}],
     QL.receivedSupportiveCare),
    ("tumour_measurements", [{"date": LATER, "sum_of_diameters_mm": 50}],
     QL.hasTumourMeasurement),
])
def test_every_kind_of_dated_fact_is_cut_in_the_same_place(field, value, link):
    record = copy.deepcopy(BASE)
    record[field] = value
    graph = patient_graph(parse_record(record, "t").record, assessment_for(AS_OF))
    patient = next(graph.subjects(QL.patientId, None))
    aside = list(graph.objects(patient, QL.setAsideFact))
    assert aside and all(graph.value(fact, QL.setAsideFrom) == link for fact in aside)
    assert not [f for f in graph.objects(patient, link) if f in aside]


def test_facts_on_the_as_of_date_are_kept():
    graph = patient_graph(parse_record(dict(BASE, metastases=[{"site": "lung",
                                                               "date": AS_OF}]), "t").record,
                          assessment_for(AS_OF))
    patient = next(graph.subjects(QL.patientId, None))
    assert list(graph.objects(patient, QL.hasMetastasis))
    assert not list(graph.objects(patient, QL.setAsideFact))
