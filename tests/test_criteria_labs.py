"""IC9.1-IC9.6: every laboratory threshold at the limit, one step either side, other units."""

from __future__ import annotations

import pytest

from .conftest import BASE, explain, outcomes, record, with_observation


def lab(test, value, unit=None, uln=None, criterion=None, date="2026-11-12", rec=None):
    rec = with_observation(rec or BASE, test, value, unit, uln, date)
    return outcomes(rec)[criterion]


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1.5, "10*9/L", "met"), (1.49, "10*9/L", "not_met"), (1.51, "10*9/L", "met"),
    (1500, "/uL", "met"), (1499, "/uL", "not_met"), (1400, "/uL", "not_met"),
    (1.5, "10*3/uL", "met"), (1.4, "10*3/mm3", "not_met"), ("1.5", "x10^9/L", "met"),
    (1.5, "furlongs", "unknown"), (1.5, None, "unknown"),
])
def test_ic9_1_anc(value, unit, expected):
    assert lab("ANC", value, unit, criterion="IC9.1-ANC") == expected


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (90, "10*9/L", "met"), (89, "10*9/L", "not_met"), (91, "10*9/L", "met"),
    (90, "10*3/uL", "met"), (89.9, "10*3/uL", "not_met"), (90000, "/uL", "met"),
])
def test_ic9_1_platelets(value, unit, expected):
    assert lab("platelets", value, unit, criterion="IC9.1-PLT") == expected


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (90, "g/L", "met"), (89, "g/L", "not_met"), (91, "g/L", "met"),
    (9.0, "g/dL", "met"), (8.9, "g/dL", "not_met"), (9.1, "g/dL", "met"),
])
def test_ic9_1_haemoglobin(value, unit, expected):
    assert lab("haemoglobin", value, unit, criterion="IC9.1-HB") == expected


LIVER_MET = [{"site": "liver", "date": "2025-02-01"}]


@pytest.mark.parametrize(("test", "criterion"), [("AST", "IC9.2-AST"), ("ALT", "IC9.2-ALT")])
@pytest.mark.parametrize(("value", "uln", "metastases", "expected"), [
    (100, 40, [], "met"),            # exactly 2.5 x ULN
    (101, 40, [], "not_met"),
    (99, 40, [], "met"),
    (101, 40, LIVER_MET, "met"),     # liver metastasis: limit 5 x ULN
    (200, 40, LIVER_MET, "met"),     # exactly 5 x ULN
    (201, 40, LIVER_MET, "not_met"),
    (30, None, [], "unknown"),       # no ULN -> never compared raw
])
def test_ic9_2_transaminases(test, criterion, value, uln, metastases, expected):
    rec = record(metastases=metastases)
    assert lab(test, value, "U/L", uln, criterion=criterion, rec=rec) == expected


def test_ic9_2_ast_international_units_are_enzyme_units():
    assert lab("AST", 100, "[IU]/L", 40, criterion="IC9.2-AST") == "met"


def test_ic9_2_explains_the_liver_metastasis_limit():
    rec = with_observation(record(metastases=LIVER_MET), "AST", 140, "U/L", 40)
    text = explain(rec, "IC9.2-AST")
    assert "3.5 × ULN" in text and "≤5" in text and "liver metastasis" in text


GILBERT = ["Gilbert syndrome"]


@pytest.mark.parametrize(("value", "conditions", "expected"), [
    (30, [], "met"),                 # 1.5 x ULN of 20
    (30.2, [], "not_met"),
    (29.8, [], "met"),
    (59.8, GILBERT, "met"),          # Gilbert: < 3 x ULN
    (60, GILBERT, "not_met"),        # exactly 3 x ULN fails the strict limit
    (45, GILBERT, "met"),
])
def test_ic9_2_bilirubin(value, conditions, expected):
    rec = record(conditions=conditions)
    assert lab("total bilirubin", value, "umol/L", 20, criterion="IC9.2-TBIL",
               rec=rec) == expected


def test_ic9_2_bilirubin_ratio_is_unit_free():
    assert lab("total bilirubin", 1.8, "mg/dL", 1.2, criterion="IC9.2-TBIL") == "met"


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (30, "g/L", "met"), (29, "g/L", "not_met"), (31, "g/L", "met"),
    (3.0, "g/dL", "met"), (2.9, "g/dL", "not_met"),
])
def test_ic9_2_albumin(value, unit, expected):
    assert lab("albumin", value, unit, criterion="IC9.2-ALB") == expected


# Base patient: man, 56 on as_of, Cockcroft-Gault = (140 - 56) x weight / (72 x SCr mg/dL),
# SCr mg/dL = umol/L / 88.40 (creatinine molar mass 113.1179 g/mol).
@pytest.mark.parametrize(("creatinine", "uln", "weight", "expected"), [
    (150, 100, 72, "met"),        # exactly 1.5 x ULN
    (151, 100, 72, "not_met"),    # 1.51 x ULN, CG 84 / 1.708 = 49.2 mL/min
    (200, 100, 72, "not_met"),    # 2 x ULN, CG 37.1 mL/min
    (200, 100, 120, "met"),       # clearance rescue: CG 84 x 120 / (72 x 2.262) = 61.9 mL/min
    (200, None, 72, "unknown"),   # no ULN: the ratio could still pass, never compared raw
    (200, 100, None, "unknown"),  # no weight: clearance cannot be computed
])
def test_ic9_3_creatinine(creatinine, uln, weight, expected):
    rec = with_observation(BASE, "weight", weight, "kg", date="2026-11-16")
    assert lab("creatinine", creatinine, "umol/L", uln, criterion="IC9.3-CR",
               rec=rec) == expected


@pytest.mark.parametrize(("clearance", "expected"), [(50, "met"), (49.9, "not_met")])
def test_ic9_3_measured_clearance_is_used(clearance, expected):
    rec = with_observation(BASE, "creatinine", 200, "umol/L", 100)
    rec = with_observation(rec, "creatinine clearance", clearance, "mL/min")
    assert outcomes(rec)["IC9.3-CR"] == expected


def test_ic9_3_cockcroft_gault_female_factor_and_explanation():
    # woman aged 56 on as_of, 80 kg, creatinine 1.8 mg/dL (ULN 1.0):
    # (140 - 56) * 80 / (72 * 1.8) * 0.85 = 44.07 mL/min -> not met
    rec = record(sex="female", reproductive={"childbearing_potential": False,
                                             "lactating": False})
    rec = with_observation(rec, "weight", 80, "kg", date="2026-11-16")
    rec = with_observation(rec, "creatinine", 1.8, "mg/dL", 1.0)
    assert outcomes(rec)["IC9.3-CR"] == "not_met"
    assert "44.07 mL/min by Cockcroft-Gault" in explain(rec, "IC9.3-CR")


@pytest.mark.parametrize(("test", "criterion"), [("APTT", "IC9.4-APTT"), ("PT", "IC9.4-PT")])
@pytest.mark.parametrize(("value", "expected"), [(60, "met"), (61, "not_met"), (59, "met")])
def test_ic9_4_clotting_times(test, criterion, value, expected):
    assert lab(test, value, "s", 40, criterion=criterion) == expected


@pytest.mark.parametrize(("value", "expected"), [(1.5, "met"), (1.51, "not_met"),
                                                 (1.49, "met")])
def test_ic9_4_inr(value, expected):
    assert lab("INR", value, "{INR}", criterion="IC9.4-INR") == expected


@pytest.mark.parametrize(("dipstick", "protein_24h", "expected"), [
    ("negative", None, "met"), ("trace", None, "met"), ("1+", None, "met"),
    ("2+", None, "unknown"),
    ("2+", (0.99, "g/d"), "met"), ("2+", (1.0, "g/d"), "not_met"),
    ("3+", (999, "mg/(24.h)"), "met"), ("3+", (1000, "mg/(24.h)"), "not_met"),
    ("++", (600, "mg/d"), "met"),
    (100, None, "unknown"),        # 100 mg/dL semi-quantitative = 2+
    (30, None, "met"),             # 30 mg/dL = 1+
])
def test_ic9_5_urine_protein(dipstick, protein_24h, expected):
    rec = with_observation(BASE, "urine protein dipstick", dipstick,
                           "mg/dL" if isinstance(dipstick, int) else None)
    if protein_24h:
        rec = with_observation(rec, "24-hour urine protein", protein_24h[0], protein_24h[1])
    assert outcomes(rec)["IC9.5-UPRO"] == expected


@pytest.mark.parametrize(("value", "expected"), [(50, "met"), (49, "not_met"), (51, "met")])
def test_ic9_6_lvef(value, expected):
    assert lab("LVEF", value, "%", criterion="IC9.6-LVEF", date="2026-11-05") == expected


@pytest.mark.parametrize(("date", "expected"), [
    ("2026-10-23", "met"),        # first day of the 28-day window
    ("2026-10-22", "unknown"),    # one day too old
    ("2026-11-20", "met"),        # on as_of
    ("2026-11-21", "unknown"),    # after as_of: ignored
])
def test_screening_window(date, expected):
    assert lab("LVEF", 60, "%", criterion="IC9.6-LVEF", date=date) == expected


def test_stale_result_explanation_says_what_to_collect():
    rec = with_observation(BASE, "LVEF", 60, "%", date="2026-09-01")
    text = explain(rec, "IC9.6-LVEF")
    assert "older than the 28-day screening window" in text
    assert "from 2026-10-23 to 2026-11-20" in text


def test_most_recent_result_in_window_is_used():
    rec = with_observation(BASE, "haemoglobin", 85, "g/L", date="2026-11-01")
    rec = with_observation(rec, "haemoglobin", 95, "g/L", date="2026-11-15", replace=False)
    assert outcomes(rec)["IC9.1-HB"] == "met"


def test_unconvertible_unit_is_explained():
    rec = with_observation(BASE, "haemoglobin", 9, "furlongs")
    assert "cannot be converted" in explain(rec, "IC9.1-HB")
