"""The cancer in the HL7 example packages (tests/data/fhir-packages, issue 12 classes 4-6): each
patient's own resources, unmodified, screened on their own (so defects of other classes in the
same folder cannot hide these)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.read import read_paths

PACKAGES = Path(__file__).parent / "data" / "fhir-packages"
MCODE, IPS, R4 = (PACKAGES / name for name in ("hl7.fhir.us.mcode", "hl7.fhir.uv.ips",
                                               "hl7.fhir.r4.examples"))
AS_OF = "2026-11-20"

JENNY = [MCODE / f for f in (
    "Patient-cancer-patient-jenny-m.json", "Condition-primary-cancer-condition-jenny-m.json",
    "Observation-tnm-clinical-distant-metastases-category-jenny-m.json",
    "Observation-tnm-pathologic-distant-metastases-category-jenny-m.json",
    "Observation-tnm-clinical-stage-group-jenny-m.json")]
JOHN = [MCODE / f for f in (
    "Patient-cancer-patient-john-anyperson.json", "Condition-primary-cancer-condition-nsclc.json",
    "Condition-secondary-cancer-condition-brain-mets.json",
    "Observation-histologic-behavior-and-type-non-small-cell.json",
    "Observation-no-history-of-metastatic-cancer.json",
    "Observation-tnm-clinical-distant-metastases-category-cM0.json",
    "Observation-tnm-clinical-stage-group-3c.json")]
ADAM = [MCODE / f for f in (
    "Patient-cancer-patient-adam-everyman.json", "Condition-primary-cancer-condition-cll.json",
    "Condition-primary-cancer-condition-nonspecific.json",
    "Observation-history-of-cancer-metastatic-to-liver.json")]
EVE = [MCODE / f for f in ("Patient-cancer-patient-eve-anyperson.json",
                           "Condition-primary-cancer-condition-breast.json")]
BRIAN = [MCODE / f for f in ("Patient-cancer-patient-brian-l.json",
                             "Condition-primary-cancer-condition-brian-l.json")]
AML = [IPS / f for f in ("Patient-eumfh-39-07.json", "Condition-eumfh-39-07-1.json")]
IPS_BREAST = [IPS / "Bundle-IPS-examples-Bundle-01.json"]
F001 = [R4 / f for f in ("Patient-f001.json", "Condition-f002.json")]
F201 = [R4 / f for f in ("Patient-f201.json", "Condition-f202.json")]


def screened(tmp_path: Path, files: list[Path], *extra: dict):
    for path in files:
        shutil.copy(path, tmp_path / path.name)
    for index, resource in enumerate(extra):
        (tmp_path / f"extra-{index}.json").write_text(json.dumps(resource))
    result = screen([tmp_path], as_of=AS_OF)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (patient,) = result.patients
    return patient


def criterion(patient, cid: str):
    return next(c for c in patient.criteria if c.id == cid)


@pytest.mark.parametrize(("files", "outcome", "named"), [
    (JENNY, "not_met", "infiltrating duct carcinoma"),  # mCODE extension, SNOMED CT 82711006
    (EVE, "not_met", "lobular carcinoma in situ"),  # extension 77284006 on code 363346000
    (JOHN, "not_met", "adenocarcinoma"),  # extension 1187332001 on NSCLC 254637007
    (ADAM, "not_met", "chronic lymphocytic leukaemia"),  # SNOMED CT 92814006
    (BRIAN, "not_met", "B-cell acute lymphoblastic leukaemia"),  # SNOMED CT 277571004
    (AML, "not_met", "acute myeloid leukaemia"),  # IPS Condition, SNOMED CT 91861009
    (IPS_BREAST, "not_met", "infiltrating duct carcinoma"),  # 254837009 + ICD-O-3 8500/3
    (F001, "not_met", "non-small cell carcinoma"),  # r4 example, SNOMED CT 254637007
    (F201, "unknown", "malignant neoplasm"),  # resolved 363346000: the only cancer, too vague
], ids=["jenny-m", "eve-anyperson", "john-anyperson", "adam-everyman", "brian-l", "ips-aml",
        "ips-breast-8500-3", "r4-f001", "r4-f201"])
def test_package_patients_histology(tmp_path, files, outcome, named):
    result = criterion(screened(tmp_path, files), "IC3.3")
    assert result.outcome == outcome
    assert f"histology {named}" in result.explanation


def test_jenny_m_read_twice_is_one_condition(tmp_path):
    """The Condition as its own file and again in the package's Bundle (only the Bundle's
    Patient and Condition entries are kept, unmodified): read once, no second cancer."""
    data = json.loads((MCODE / "Bundle-mcode-patient-bundle-jenny-m.json").read_text())
    data["entry"] = [e for e in data["entry"]
                     if e["resource"]["resourceType"] in ("Patient", "Condition")]
    (tmp_path / "bundle.json").write_text(json.dumps(data))
    patient = screened(tmp_path, JENNY[:2])
    assert criterion(patient, "IC3.3").outcome == "not_met"
    assert "another current primary cancer" not in criterion(patient, "IC3.3").explanation
    report: list = []
    list(read_paths([tmp_path], fhir_report=report))
    jenny = "Condition/primary-cancer-condition-jenny-m"
    reasons = [r.reason for r in report if r.resource == jenny]
    assert len(reasons) == 2 and sum("read once" in r for r in reasons) == 1


def test_john_brain_metastasis_site_from_its_code(tmp_path):
    patient = screened(tmp_path, JOHN)
    assert "metastasis: brain (found 2019-05-01)" in criterion(patient, "IC3.2").explanation


def test_john_m0_stage_iiic_and_no_history_leave_the_extent_to_the_metastasis(tmp_path):
    report: list = []
    for path in JOHN:
        shutil.copy(path, tmp_path / path.name)
    list(read_paths([tmp_path], fhir_report=report))
    reasons = {r.resource: r.reason for r in report}
    assert "M0 on 2019-04-01" in reasons[
        "Observation/tnm-clinical-distant-metastases-category-cM0"]
    assert "other than IV" in reasons["Observation/tnm-clinical-stage-group-3c"]
    assert "no history of metastatic cancer as of 2018-11-16" in reasons[
        "Observation/no-history-of-metastatic-cancer"]
    assert "of Condition/primary-cancer-condition-nsclc" in reasons[
        "Observation/histologic-behavior-and-type-non-small-cell"]


def test_adam_liver_metastasis_history_gives_the_5x_uln_limit(tmp_path):
    """mCODE's history of cancer metastatic to liver (no value: present) is a liver metastasis:
    an AST of 3.5 x ULN (added, the package has none) meets IC9.2 under the 5 x ULN limit."""
    ast = {"resourceType": "Observation", "id": "ast", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "1920-8"}]},
           "subject": {"reference": "Patient/cancer-patient-adam-everyman"},
           "effectiveDateTime": "2026-11-12",
           "valueQuantity": {"value": 140, "unit": "U/L", "system": "http://unitsofmeasure.org",
                             "code": "U/L"},
           "referenceRange": [{"high": {"value": 40, "unit": "U/L",
                                        "system": "http://unitsofmeasure.org", "code": "U/L"}}]}
    result = criterion(screened(tmp_path, ADAM, ast), "IC9.2-AST")
    assert result.outcome == "met"
    assert "metastasis: liver (found 2018-11-16)" in result.explanation
    assert "AST ≤5 ×ULN because liver metastasis on record" in result.explanation
    other = tmp_path / "without-history"
    other.mkdir()
    assert criterion(screened(other, ADAM[:3], ast), "IC9.2-AST").outcome == "not_met"


def test_adam_metastatic_by_the_nonspecific_condition_and_the_history(tmp_path):
    patient = screened(tmp_path, ADAM)
    assert criterion(patient, "IC3.2").outcome == "met"
    text = criterion(patient, "IC3.2").explanation
    assert "metastasis: liver" in text and "metastasis: unspecified site" in text
