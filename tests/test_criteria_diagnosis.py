"""IC3.1-IC3.3: where the histology was confirmed, disease extent, the eight histologies."""

from __future__ import annotations

import pytest

from .conftest import BASE, outcomes, record


def diagnosis(**changes) -> dict:
    dx = dict(BASE["diagnosis"])
    dx.update(changes)
    return {k: v for k, v in dx.items() if v is not None}


@pytest.mark.parametrize(("confirmed", "expected"), [
    (True, "met"), (False, "not_met"), (None, "unknown"),
])
def test_ic3_1(confirmed, expected):
    rec = record(diagnosis=diagnosis(confirmed_at_this_institution=confirmed))
    assert outcomes(rec)["IC3.1"] == expected


@pytest.mark.parametrize(("extent", "resectable", "metastases", "expected"), [
    ("metastatic", None, [], "met"),
    ("metastatic", True, [], "met"),                 # metastatic suffices
    ("locally_advanced", False, [], "met"),
    ("locally_advanced", True, [], "not_met"),
    ("locally_advanced", None, [], "unknown"),
    ("localised", False, [], "not_met"),
    (None, None, [], "unknown"),
    (None, None, [{"site": "lung"}], "met"),         # a metastasis on record is metastatic
])
def test_ic3_2(extent, resectable, metastases, expected):
    rec = record(diagnosis=diagnosis(extent=extent, resectable=resectable),
                 metastases=metastases)
    assert outcomes(rec)["IC3.2"] == expected


@pytest.mark.parametrize(("histology", "expected"), [
    ("leiomyosarcoma", "met"),
    ("undifferentiated sarcoma", "met"),
    ("undifferentiated spindle cell sarcoma", "met"),       # a sub-type counts
    ("myxofibrosarcoma", "met"),
    ("alveolar soft part sarcoma", "met"),
    ("UPS", "met"),
    ("malignant fibrous histiocytoma", "met"),
    ("chordoma", "met"),
    ("dedifferentiated chordoma", "met"),
    ("angiosarcoma", "met"),
    ("dedifferentiated liposarcoma", "met"),
    ({"system": "ICD-O-3", "code": "8890/3"}, "met"),
    ({"system": "ICD-O-3", "code": "8830/3"}, "met"),
    ({"system": "ICD-O-3", "code": "8802/3"}, "met"),       # UPS under both codes
    ({"system": "NCIt", "code": "C3750"}, "met"),
    ({"system": "OncoTree", "code": "DDLS"}, "met"),
    ({"system": "SNOMED-CT", "code": "403977003"}, "met"),
    ("synovial sarcoma", "not_met"),
    ("well-differentiated liposarcoma", "not_met"),
    ({"system": "ICD-O-3", "code": "9180/3"}, "not_met"),   # osteosarcoma: another histology
    ("spindly thing", "unknown"),                           # free text we cannot read
    (None, "unknown"),
])
def test_ic3_3(histology, expected):
    rec = record(diagnosis=diagnosis(histology=histology))
    assert outcomes(rec)["IC3.3"] == expected


def test_no_diagnosis_makes_histology_criteria_unknown_not_not_applicable():
    result = outcomes(record(diagnosis=None, metastases=[]))
    assert [result[c] for c in ("IC3.1", "IC3.2", "IC3.3", "IC4", "IC5.2")] == ["unknown"] * 5


def test_anthracycline_on_record_meets_ic5_1_whatever_the_missing_histology():
    """IC5.1 is met or not applicable once an anthracycline is on record: nothing to collect."""
    assert outcomes(record(diagnosis=None))["IC5.1"] == "met"


def test_metastases_on_record_show_advanced_disease_without_a_diagnosis_entry():
    """IC3.2: metastatic suffices, and a recorded metastasis shows it."""
    assert outcomes(record(diagnosis=None))["IC3.2"] == "met"
