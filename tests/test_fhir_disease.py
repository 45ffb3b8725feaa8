"""The cancer in FHIR (issue 12, classes 4-6), on minimal bundles made from the eligible
leiomyosarcoma example: which Condition is the diagnosis, metastases named by their code, TNM
M category and stage group, and histology from SNOMED CT morphology, the mCODE extension and
histology Observations. Each bundle has a JSON-record twin that must give the same outcome on
every criterion (the differential check): FHIR is one more way of reading the same record.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.read import read_paths

ROOT = Path(__file__).resolve().parents[1]
FHIR_LMS = json.loads((ROOT / "examples" / "fhir" / "eligible-leiomyosarcoma.json").read_text())
JSON_LMS = json.loads((ROOT / "examples" / "patients" / "eligible-leiomyosarcoma.json")
                      .read_text())
AS_OF = "2026-11-20"
SCT, LOINC = "http://snomed.info/sct", "http://loinc.org"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UICC = "https://www.uicc.org/resources/tnm"
PATIENT = {"reference": "Patient/QL-LMS-001"}
DX, LUNG, EXTENT, AST = ("ql-lms-001-condition-4", "ql-lms-001-condition-7",
                         "ql-lms-001-observation-6", "ql-lms-001-observation-22")
MORPHOLOGY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"


# -- building the bundles and their twins ------------------------------------------------------

def condition(cid: str, *codings: dict, status: str | None = "active",
              onset: str | None = "2025-02-20", **extra) -> dict:
    out = {"resourceType": "Condition", "id": cid, "code": {"coding": list(codings)},
           "subject": PATIENT}
    if status:
        out["clinicalStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]}
    if onset:
        out["onsetDateTime"] = onset
    out.update(extra)
    return out


def observation(oid: str, code: dict, value: dict, date: str = "2026-10-01", **extra) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [code]}, "subject": PATIENT, "effectiveDateTime": date,
            "valueCodeableConcept": {"coding": [value]}, **extra}


def bundle(*add: dict, drop: tuple[str, ...] = (), change: dict | None = None,
           first: tuple[dict, ...] = ()) -> dict:
    """The eligible LMS bundle without the resources ``drop``, with ``change`` (id -> changed
    elements) applied, the resources ``first`` right after the Patient (before the sarcoma's
    Condition) and the resources ``add`` at the end."""
    data = copy.deepcopy(FHIR_LMS)
    data["entry"] = [e for e in data["entry"] if e["resource"].get("id") not in drop]
    for entry in data["entry"]:
        entry["resource"].update((change or {}).get(entry["resource"].get("id"), {}))
    data["entry"][1:1] = [{"resource": r} for r in first]
    data["entry"] += [{"resource": r} for r in add]
    return data


def twin(diagnosis: dict | None = None, metastases: list | None = None, drop_extent=False,
         ast: float | None = None) -> dict:
    rec = copy.deepcopy(JSON_LMS)
    rec["diagnosis"].update(diagnosis or {})
    if drop_extent:
        rec["diagnosis"].pop("extent")
        rec.pop("metastases")
    if metastases is not None:
        rec["metastases"] = rec.get("metastases", []) + metastases
    if ast is not None:
        next(o for o in rec["observations"] if o["test"] == "AST")["value"] = ast
    return rec


def fhir_result(tmp_path: Path, data: dict):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(data))
    result = screen([path], as_of=AS_OF)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (patient,) = result.patients
    return patient


def json_result(rec: dict):
    result = screen([rec], as_of=AS_OF)
    assert not result.errors, result.errors
    (patient,) = result.patients
    return patient


def outcomes(patient) -> dict[str, str]:
    return {c.id: c.outcome for c in patient.criteria}


def explanation(patient, cid: str) -> str:
    return next(c.explanation for c in patient.criteria if c.id == cid)


NO_SPREAD = {"drop": (EXTENT, LUNG)}  # neither the disease extent nor a metastasis on record
CARCINOMA_2010 = condition("breast-2010", {"system": SCT, "code": "254837009"},
                           {"system": ICDO3, "code": "8500/3"}, status="resolved",
                           onset="2010-03-01")
IDC_ACTIVE = condition("breast-2024", {"system": SCT, "code": "408643008",
                                       "display": "Infiltrating duct carcinoma of breast"},
                       onset="2024-06-01")
M_CATEGORY = {"system": SCT, "code": "399387003", "display": "cM category"}
STAGE_GROUP = {"system": SCT, "code": "399537006", "display": "Clinical TNM stage grouping"}
GENERIC = {"system": SCT, "code": "363346000", "display": "Malignant neoplastic disease"}

# (name, the bundle, its JSON twin, criterion, expected outcome)
CASES = [
    # class 4: a resolved carcinoma listed first does not hide the active leiomyosarcoma
    ("resolved carcinoma before the active LMS", lambda: bundle(first=(CARCINOMA_2010,)),
     lambda: twin(), "IC3.3", "met"),
    ("resolved carcinoma after the active LMS", lambda: bundle(CARCINOMA_2010),
     lambda: twin(), "IC3.3", "met"),
    # class 4: two current primaries of different histologies: unknown, both named
    ("two active primaries", lambda: bundle(IDC_ACTIVE),
     lambda: twin({"other_active_histologies": [{"system": "SNOMED-CT", "code": "408643008"}]}),
     "IC3.3", "unknown"),
    ("an active LMS and an LMS in remission are one cancer",
     lambda: bundle(condition("lms-old", {"system": ICDO3, "code": "8890/3"}, status="remission",
                              onset="2019-01-01")),
     lambda: twin(), "IC3.3", "met"),
    # class 5: a liver metastasis coded in Condition.code, no bodySite: AST <= 5 x ULN
    ("ICD-10-CM C78.7 without bodySite",
     lambda: bundle(condition("met-liver", {"system": ICD10CM, "code": "C78.7"}, status=None,
                              onset="2026-04-02"), change={AST: {"valueQuantity": {
                                  "value": 140, "unit": "U/L", "system": "http://unitsofmeasure"
                                  ".org", "code": "U/L"}}}),
     lambda: twin(metastases=[{"site": "liver", "date": "2026-04-02"}], ast=140),
     "IC9.2-AST", "met"),
    ("SNOMED CT 94381002 without bodySite",
     lambda: bundle(condition("met-liver", {"system": SCT, "code": "94381002"}, status=None,
                              onset="2026-04-02"), change={AST: {"valueQuantity": {
                                  "value": 140, "unit": "U/L", "system": "http://unitsofmeasure"
                                  ".org", "code": "U/L"}}}),
     lambda: twin(metastases=[{"site": "liver", "date": "2026-04-02"}], ast=140),
     "IC9.2-AST", "met"),
    ("SNOMED CT 94222008 is bone, not liver",
     lambda: bundle(condition("met-bone", {"system": SCT, "code": "94222008"}, status=None,
                              onset="2026-04-02"), change={AST: {"valueQuantity": {
                                  "value": 140, "unit": "U/L", "system": "http://unitsofmeasure"
                                  ".org", "code": "U/L"}}}),
     lambda: twin(metastases=[{"site": "bone", "date": "2026-04-02"}], ast=140),
     "IC9.2-AST", "not_met"),
    # class 5: TNM M category and stage group
    ("nothing on the spread", lambda: bundle(**NO_SPREAD), lambda: twin(drop_extent=True),
     "IC3.2", "unknown"),
    ("cM1 (AJCC display)",
     lambda: bundle(observation("m", M_CATEGORY, {"system": SCT, "code": "1229903009",
                                                  "display": "American Joint Committee on "
                                                             "Cancer cM1 (qualifier value)"},
                                focus=[{"reference": f"Condition/{DX}"}]), **NO_SPREAD),
     lambda: twin(drop_extent=True, metastases=[
         {"site": "unspecified site (TNM M1)", "date": "2026-10-01"}]), "IC3.2", "met"),
    ("M1b (UICC code), naming no Condition",
     lambda: bundle(observation("m", M_CATEGORY, {"system": UICC, "code": "M1b"}), **NO_SPREAD),
     lambda: twin(drop_extent=True, metastases=[
         {"site": "unspecified site (TNM M1)", "date": "2026-10-01"}]), "IC3.2", "met"),
    ("cM0 is not proof of absence",
     lambda: bundle(observation("m", M_CATEGORY, {"system": SCT, "code": "1229901006",
                                                  "display": "American Joint Committee on "
                                                             "Cancer cM0 (qualifier value)"}),
                    **NO_SPREAD),
     lambda: twin(drop_extent=True), "IC3.2", "unknown"),
    ("stage group IV",
     lambda: bundle(observation("s", STAGE_GROUP, {"system": SCT, "display": "American Joint "
                                                   "Committee on Cancer stage IV", "code": "x"},
                                focus=[{"reference": f"Condition/{DX}"}]), **NO_SPREAD),
     lambda: twin(drop_extent=True, metastases=[
         {"site": "unspecified site (stage IV)", "date": "2026-10-01"}]), "IC3.2", "met"),
    ("stage group IIIC",
     lambda: bundle(observation("s", STAGE_GROUP, {"system": SCT, "code": "1222806003",
                                                   "display": "American Joint Committee on "
                                                              "Cancer stage IIIC"}), **NO_SPREAD),
     lambda: twin(drop_extent=True), "IC3.2", "unknown"),
    ("Condition.stage.summary IVB",
     lambda: bundle(drop=(EXTENT, LUNG), change={DX: {"stage": [{"summary": {"coding": [{
         "system": SCT, "display": "American Joint Committee on Cancer stage IVB"}]}}]}}),
     lambda: twin(drop_extent=True, metastases=[
         {"site": "unspecified site (stage IV)", "date": "2025-02-20"}]), "IC3.2", "met"),
    ("stage IV of another, resolved cancer is not the sarcoma's",
     lambda: bundle(CARCINOMA_2010, observation(
         "s", STAGE_GROUP, {"system": SCT, "code": "x", "display": "AJCC stage IV"},
         focus=[{"reference": "Condition/breast-2010"}]), **NO_SPREAD),
     lambda: twin(drop_extent=True), "IC3.2", "unknown"),
    # class 6: histology by ICD-O-3 sub-type codes, SNOMED CT morphology, histology Observation
    ("ICD-O-3 9371/3 chondroid chordoma",
     lambda: bundle(change={DX: {"code": {"coding": [{"system": ICDO3, "code": "9371/3"}]}}}),
     lambda: twin({"histology": {"system": "ICD-O-3", "code": "9371/3"}}), "IC3.3", "met"),
    ("ICD-O-3 8890/6 (metastatic site) is a leiomyosarcoma",
     lambda: bundle(change={DX: {"code": {"coding": [{"system": ICDO3, "code": "8890/6"}]}}}),
     lambda: twin({"histology": {"system": "ICD-O-3", "code": "8890/6"}}), "IC3.3", "met"),
    ("mCODE morphology extension in SNOMED CT",
     lambda: bundle(change={DX: {"code": {"coding": [GENERIC]}, "extension": [{
         "url": MORPHOLOGY, "valueCodeableConcept": {"coding": [
             {"system": SCT, "code": "1163022006", "display": "Leiomyosarcoma"}]}}]}}),
     lambda: twin({"histology": {"system": "SNOMED-CT", "code": "1163022006"}}), "IC3.3", "met"),
    ("histology Observation LOINC 59847-4, 8801/3",
     lambda: bundle(observation("h", {"system": LOINC, "code": "59847-4"},
                                {"system": ICDO3, "code": "8801/3"},
                                focus=[{"reference": f"Condition/{DX}"}]),
                    change={DX: {"code": {"coding": [GENERIC]}}}),
     lambda: twin({"histology": {"system": "ICD-O-3", "code": "8801/3"}}), "IC3.3", "met"),
    ("histology Observation LOINC 31206-6 naming no Condition, 8803/3",
     lambda: bundle(observation("h", {"system": LOINC, "code": "31206-6"},
                                {"system": ICDO3, "code": "8803/3"}),
                    change={DX: {"code": {"coding": [GENERIC]}}}),
     lambda: twin({"histology": {"system": "ICD-O-3", "code": "8803/3"}}), "IC3.3", "met"),
    ("a coded carcinoma", lambda: bundle(change={DX: {"code": {"coding": [
        {"system": SCT, "code": "254637007"}]}}}),
     lambda: twin({"histology": {"system": "SNOMED-CT", "code": "254637007"}}),
     "IC3.3", "not_met"),
    ("a leukaemia", lambda: bundle(change={DX: {"code": {"coding": [
        {"system": SCT, "code": "92814006"}]}}}),
     lambda: twin({"histology": {"system": "SNOMED-CT", "code": "92814006"}}),
     "IC3.3", "not_met"),
    ("a breast cancer of unstated histology", lambda: bundle(change={DX: {"code": {"coding": [
        {"system": SCT, "code": "254837009"}]}}}),
     lambda: twin({"histology": {"system": "SNOMED-CT", "code": "254837009"}}),
     "IC3.3", "unknown"),
    ("malignant neoplastic disease", lambda: bundle(change={DX: {"code": {"coding": [GENERIC]}}}),
     lambda: twin({"histology": {"system": "SNOMED-CT", "code": "363346000"}}),
     "IC3.3", "unknown"),
]


@pytest.mark.parametrize(("name", "make_bundle", "make_twin", "cid", "outcome"), CASES,
                         ids=[c[0] for c in CASES])
def test_minimal_bundle_and_its_json_twin(tmp_path, name, make_bundle, make_twin, cid, outcome):
    """The criterion comes out as expected, and the JSON twin agrees on all 28 criteria."""
    fhir, record = fhir_result(tmp_path, make_bundle()), json_result(make_twin())
    assert outcomes(fhir)[cid] == outcome, explanation(fhir, cid)
    assert outcomes(fhir) == outcomes(record)


def test_two_active_primaries_are_both_named_whatever_their_order(tmp_path):
    for data in (bundle(IDC_ACTIVE), bundle(first=(IDC_ACTIVE,))):
        text = explanation(fhir_result(tmp_path, data), "IC3.3")
        assert "histology leiomyosarcoma" in text
        assert "another current primary cancer: infiltrating duct carcinoma" in text
        assert "which one is under study must be confirmed" in text


def test_the_json_record_names_other_current_primaries_by_name_too():
    text = explanation(json_result(twin({"other_active_histologies": ["acute myeloid leukemia"]})),
                       "IC3.3")
    assert "another current primary cancer: acute myeloid leukaemia" in text


def test_liver_metastasis_from_the_code_raises_the_ast_limit_and_says_why(tmp_path):
    ast = {AST: {"valueQuantity": {"value": 140, "unit": "U/L",
                                   "system": "http://unitsofmeasure.org", "code": "U/L"}}}
    without = fhir_result(tmp_path, bundle(change=ast))
    assert outcomes(without)["IC9.2-AST"] == "not_met"
    liver = fhir_result(tmp_path, bundle(condition("met-liver", {"system": ICD10CM,
                                                                 "code": "C78.7"}), change=ast))
    text = explanation(liver, "IC9.2-AST")
    assert "metastasis: liver" in text and "≤5 ×ULN because liver metastasis on record" in text


@pytest.mark.parametrize(("code", "site"), [
    ("C78.01", "lung"), ("C79.31", "brain"), ("C77.4", "lymph node"), ("C79.89", "unspecified"),
])
def test_icd10_metastasis_codes_give_their_site_or_category(tmp_path, code, site):
    patient = fhir_result(tmp_path, bundle(condition("met", {"system": ICD10CM, "code": code},
                                                     onset="2026-04-02")))
    assert f"metastasis: {site}" in explanation(patient, "IC3.2")


def test_an_unconfirmed_diagnosis_decides_nothing(tmp_path):
    data = bundle(change={DX: {"verificationStatus": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        "code": "provisional"}]}}})
    patient = fhir_result(tmp_path, data)
    assert outcomes(patient)["IC3.3"] == "unknown"
    assert "not confirmed: verification status provisional" in explanation(patient, "IC3.3")


def test_codes_that_contradict_each_other_decide_nothing(tmp_path):
    data = bundle(change={DX: {"code": {"coding": [{"system": ICDO3, "code": "8890/3"},
                                                   {"system": SCT, "code": "254637007"}]}}})
    patient = fhir_result(tmp_path, data)
    assert outcomes(patient)["IC3.3"] == "unknown"
    assert "conflicting histology codes" in explanation(patient, "IC3.3")


def test_the_same_condition_in_a_file_and_in_a_bundle_is_read_once(tmp_path):
    """A Patient file, a Condition file and a bundle holding both again (matched by the
    Patient's identifier): one person, one diagnosis, the copy reported as read once."""
    resources = {e["resource"]["id"]: e["resource"] for e in FHIR_LMS["entry"]}
    (tmp_path / "patient.json").write_text(json.dumps(resources["QL-LMS-001"]))
    (tmp_path / "dx.json").write_text(json.dumps(resources[DX]))
    (tmp_path / "bundle.json").write_text(json.dumps(FHIR_LMS))
    result = screen([tmp_path], as_of=AS_OF)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (patient,) = result.patients
    assert outcomes(patient) == outcomes(json_result(twin()))
    report: list = []
    list(read_paths([tmp_path], fhir_report=report))
    reasons = [line.reason for line in report if line.resource == f"Condition/{DX}"]
    assert len(reasons) == 2 and sum("read once" in r for r in reasons) == 1


def test_m0_and_no_history_are_reported_as_dated_absences(tmp_path):
    history = {"resourceType": "Observation", "id": "no-history", "status": "final",
               "code": {"coding": [{"system": SCT, "code": "1287652008"}]}, "subject": PATIENT,
               "effectiveDateTime": "2026-10-01", "valueBoolean": False}
    m0 = observation("m0", M_CATEGORY, {"system": UICC, "code": "M0"})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(history, m0, **NO_SPREAD)))
    report: list = []
    list(read_paths([path], fhir_report=report))
    reasons = {line.resource: (line.used, line.reason) for line in report}
    assert reasons["Observation/no-history"][0] is False
    assert "not proof of absence later" in reasons["Observation/no-history"][1]
    assert "not proof of absence later" in reasons["Observation/m0"][1]
    assert outcomes(fhir_result(tmp_path, bundle(history, m0, **NO_SPREAD)))["IC3.2"] == "unknown"


def test_an_m1_naming_no_condition_stops_applying_when_a_second_cancer_comes(tmp_path):
    """With two cancers an M1 that names none is not the sarcoma's: whatever the order of the
    resources, no metastasis is read from it (and none is 'recorded: none' either)."""
    m1 = observation("m", M_CATEGORY, {"system": UICC, "code": "M1"})
    for data in (bundle(m1, CARCINOMA_2010, **NO_SPREAD),
                 bundle(CARCINOMA_2010, first=(m1,), drop=(EXTENT, LUNG))):
        path = tmp_path / "bundle.json"
        path.write_text(json.dumps(data))
        (record,) = [r for r in read_paths([path]) if not hasattr(r, "message")]
        assert record.record.metastases is None
        assert outcomes(fhir_result(tmp_path, data))["IC3.2"] == "unknown"
