"""IC6 (RECIST), IC7 (samples), IC8 (ECOG, survival), IC9.0 (support products), IC10, IC11."""

from __future__ import annotations

import pytest

from .conftest import BASE, explain, outcomes, record, with_observation
from .reference_compare import FORMS, screened


def lesion(kind="non_nodal", method="CT", ld=None, sa=None, slices=None, irradiated=False):
    out = {"kind": kind, "method": method, "previously_irradiated": irradiated}
    for key, value in (("longest_diameter_mm", ld), ("short_axis_mm", sa),
                       ("slice_thickness_mm", slices)):
        if value is not None:
            out[key] = value
    return out


@pytest.mark.parametrize(("lesions", "recist", "expected"), [
    ([lesion(ld=10)], None, "met"),
    ([lesion(ld=9.9)], None, "not_met"),
    ([lesion(ld=10, method="MRI")], None, "met"),
    ([lesion(ld=12, slices=8)], None, "not_met"),      # thick slices: needs 16 mm
    ([lesion(ld=16, slices=8)], None, "met"),
    ([lesion(ld=10, method="caliper")], None, "met"),
    ([lesion(ld=19, method="chest_x_ray")], None, "not_met"),
    ([lesion(ld=20, method="chest_x_ray")], None, "met"),
    ([lesion(ld=30, method="ultrasound")], None, "not_met"),
    ([lesion(kind="lymph_node", sa=15)], None, "met"),
    ([lesion(kind="lymph_node", sa=14)], None, "not_met"),
    ([lesion(ld=30, irradiated=True)], None, "not_met"),
    ([lesion(ld=5), lesion(kind="lymph_node", sa=16)], None, "met"),
    (None, {"measurable_disease": True}, "met"),
    (None, {"measurable_disease": False}, "not_met"),
    ([lesion(ld=30)], {"measurable_disease": False}, "not_met"),   # the investigator decides
    (None, None, "unknown"),
])
def test_ic6(lesions, recist, expected):
    assert outcomes(record(lesions=lesions, recist=recist))["IC6"] == expected


@pytest.mark.parametrize(("samples", "expected"), [
    ({"tumour_tissue": True, "blood": True}, "met"),
    ({"tumour_tissue": False, "blood": True}, "not_met"),
    ({"tumour_tissue": True, "blood": False}, "not_met"),
    ({"tumour_tissue": True}, "unknown"),
    (None, "unknown"),
])
def test_ic7(samples, expected):
    assert outcomes(record(samples=samples))["IC7"] == expected


@pytest.mark.parametrize(("score", "date", "expected"), [
    (0, "2026-11-16", "met"), (1, "2026-11-16", "met"), (2, "2026-11-16", "not_met"),
    ("ECOG 1", "2026-11-16", "met"), ("ambulatory", "2026-11-16", "unknown"),
    (1, "2026-09-16", "unknown"),
])
def test_ic8_1_ecog(score, date, expected):
    rec = with_observation(BASE, "ECOG", score, date=date)
    assert outcomes(rec)["IC8.1"] == expected


@pytest.mark.parametrize(("survival", "expected"), [
    ({"value": 12, "unit": "weeks"}, "met"),
    ({"value": 84, "unit": "days"}, "met"),
    ({"value": 83, "unit": "days"}, "not_met"),
    ({"value": 11.9, "unit": "weeks"}, "not_met"),
    ({"value": 3, "unit": "months"}, "met"),
    (None, "unknown"),
])
def test_ic8_2_expected_survival(survival, expected):
    assert outcomes(record(expected_survival=survival))["IC8.2"] == expected


# Labs are dated 2026-11-12 in the base record: day 14 before it is 2026-10-29.
@pytest.mark.parametrize(("care", "expected"), [
    ([], "met"),
    ([{"product": "filgrastim", "date": "2026-10-29"}], "not_met"),        # day 14 counts
    ([{"product": "filgrastim", "date": "2026-10-28"}], "met"),            # day 15
    ([{"product": "red blood cell transfusion", "date": "2026-11-10"}], "not_met"),
    ([{"product": "platelet transfusion", "date": "2026-11-12"}], "not_met"),   # same day
    ([{"product": "pegfilgrastim", "date": "2026-11-13"}], "met"),        # after the labs
    ([{"product": "erythropoietin", "date": "2026-11-01"}], "not_met"),
    ([{"product": "romiplostim", "date": "2026-11-01"}], "not_met"),
    ([{"product": "rhTPO", "date": "2026-11-01"}], "not_met"),
    ([{"product": "iron sucrose", "date": "2026-11-01"}], "not_met"),
    ([{"product": {"system": "ATC", "code": "L03AA02"}, "date": "2026-11-01"}], "not_met"),
    ([{"product": "ondansetron-x", "date": "2026-11-01"}], "unknown"),    # unclassified
    ([{"product": "filgrastim"}], "unknown"),                              # undated
    (None, "unknown"),                                                     # not recorded
])
def test_ic9_0_supportive_care(care, expected):
    assert outcomes(record(supportive_care=care))["IC9.0"] == expected


def test_ic9_0_lvef_is_not_a_laboratory_test():
    rec = record(supportive_care=[{"product": "filgrastim", "date": "2026-10-20"}])
    rec = with_observation(rec, "LVEF", 60, "%", date="2026-10-25")
    assert outcomes(rec)["IC9.0"] == "met"


def test_ic9_0_explanation_names_product_and_lab():
    rec = record(supportive_care=[{"product": "filgrastim", "date": "2026-11-02"}])
    text = explain(rec, "IC9.0")
    assert "filgrastim on 2026-11-02, 10 days before" in text


FEMALE = {"lactating": False, "childbearing_potential": True, "contraception_agreed": True}


@pytest.mark.parametrize(("sex", "reproductive", "test", "expected"), [
    ("male", {"childbearing_potential": False}, None, "not_applicable"),
    ("female", FEMALE, "negative", "met"),
    ("female", FEMALE, "positive", "not_met"),
    ("female", {**FEMALE, "lactating": True}, "negative", "not_met"),
    ("female", FEMALE, None, "unknown"),
    ("female", {"childbearing_potential": False}, "negative", "unknown"),   # lactation?
    (None, FEMALE, "negative", "unknown"),
])
def test_ic10(sex, reproductive, test, expected):
    rec = record(sex=sex, reproductive=reproductive)
    if test:
        rec = with_observation(rec, "pregnancy test", test, date="2026-11-17")
    assert outcomes(rec)["IC10"] == expected


@pytest.mark.parametrize(("reproductive", "expected"), [
    ({"childbearing_potential": True, "contraception_agreed": True}, "met"),
    ({"childbearing_potential": True, "contraception_agreed": False}, "not_met"),
    ({"childbearing_potential": True}, "unknown"),
    ({"childbearing_potential": False}, "not_applicable"),
    ({}, "unknown"),
    (None, "unknown"),
])
def test_ic11(reproductive, expected):
    assert outcomes(record(reproductive=reproductive))["IC11"] == expected


# criteria.md: "IC11 is unknown when it [childbearing potential] is not recorded": a refusal
# excludes only a subject of childbearing potential (issue 24). JSON and FHIR alike.
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("reproductive", "expected"), [
    ({"contraception_agreed": False}, "unknown"),
    ({"lactating": False, "contraception_agreed": False}, "unknown"),
    ({"childbearing_potential": True, "contraception_agreed": False}, "not_met"),
    ({"childbearing_potential": False, "contraception_agreed": False}, "not_applicable"),
])
def test_ic11_a_refusal_while_the_potential_is_not_recorded(form, reproductive, expected,
                                                            tmp_path):
    rec = record(reproductive=reproductive)
    assert screened(rec, form, tmp_path).outcome("IC11") == expected


# An unidentified product is never assumed harmless, but matters only when it may have been
# given within the lookback: undated, it may have been (issue 24). JSON only: a FHIR
# administration is dated, and FHIR cannot say "these products and no others".
@pytest.mark.parametrize(("care", "expected"), [
    ([{"product": "zorblax"}], "unknown"),                              # undated
    ([{"product": "zorblax", "date": "2026-10-28"}], "met"),            # day 15: cannot matter
    ([{"product": "zorblax", "date": "2026-10-29"}], "unknown"),        # day 14: may matter
    ([{"product": "zorblax", "date": "2026-11-13"}], "met"),            # after the labs
    ([{"product": "dexamethasone"}], "met"),                            # undated, not one
])
def test_ic9_0_an_unidentified_product(care, expected):
    assert outcomes(record(supportive_care=care))["IC9.0"] == expected


def test_unknown_lvef_says_what_to_collect_and_by_when():
    rec = with_observation(BASE, "LVEF", None)
    text = explain(rec, "IC9.6-LVEF")
    assert text.startswith('IC9.6-LVEF "')
    assert "echocardiogram or MUGA dated from 2026-10-23 to 2026-11-20" in text
