"""FHIR medications as real exports write them (issue 12, classes 1 and 11).

Two kinds of case: the unmodified resources of the public HL7 packages
(``tests/data/fhir-packages/``, CC0, see its NOTICE.md), and minimal hand-written resources
added to the FHIR form of the eligible base record. Each hand-written case has a JSON-record
twin, the record a coordinator would write for the same facts, and both must give the same
outcome for every criterion.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.fhir_write import to_bundle
from ql1706kg.inputs.read import read_paths

from .conftest import AS_OF, DATA_DIR, record

PACKAGES = DATA_DIR / "fhir-packages"
MCODE, IPS, R4 = (PACKAGES / p for p in ("hl7.fhir.us.mcode", "hl7.fhir.uv.ips",
                                         "hl7.fhir.r4.examples"))
SUBJECT = {"reference": "Patient/BASE-001"}
RXNORM, SNOMED = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://snomed.info/sct"
ATC, NDC = "http://www.whocc.no/atc", "http://hl7.org/fhir/sid/ndc"
MCODE_ADMIN = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
               "mcode-cancer-related-medication-administration")
ASPS = {"histology": "alveolar soft part sarcoma", "confirmed_at_this_institution": True,
        "extent": "metastatic", "resectable": False, "date": "2025-01-20"}
ANGIOSARCOMA = {**ASPS, "histology": "angiosarcoma"}
# measured sums with no 10 % rise after the regimen: IC5.2 then turns on intolerance alone
NO_PROGRESSION = {"diagnosis": ANGIOSARCOMA, "tumour_measurements": [
    {"sum_of_diameters_mm": 50, "date": "2025-09-01"},
    {"sum_of_diameters_mm": 51, "date": "2025-10-01"}]}


# -- helpers -----------------------------------------------------------------------------------

def concept(*codings: tuple[str, str | None, str | None], text: str | None = None) -> dict:
    out: dict = {"coding": [{k: v for k, v in (("system", s), ("code", c), ("display", d))
                            if v is not None} for s, c, d in codings]}
    if text:
        out["text"] = text
    return out


def statement(med: dict, status: str = "completed", start: str = "2025-03-01",
              end: str | None = "2025-08-01", rid: str = "ms1", **extra) -> dict:
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "MedicationStatement", "id": rid, "status": status,
            "subject": SUBJECT, "medicationCodeableConcept": med, "effectivePeriod": period,
            **extra}


def outcomes_of(tmp_path: Path, changes: dict, resources: list[dict]) -> dict[str, str]:
    """Outcomes of the base record (with ``changes``, without its prior therapies) as FHIR,
    with ``resources`` added."""
    bundle = to_bundle(record(**changes, prior_therapies=None), "relative")
    bundle["entry"] += [{"resource": r} for r in resources]
    path = tmp_path / "fhir.json"
    path.write_text(json.dumps(bundle))
    result = screen([path], as_of=AS_OF)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (patient,) = result.patients
    return {c.id: c.outcome for c in patient.criteria}


def json_outcomes(changes: dict) -> dict[str, str]:
    result = screen([record(**changes)], as_of=AS_OF)
    assert not result.errors, result.errors
    (patient,) = result.patients
    return {c.id: c.outcome for c in patient.criteria}


def read_records(*paths: Path) -> tuple[dict[str, dict], dict[str, tuple[bool, str]]]:
    report: list = []
    records = {}
    for item in read_paths(list(paths), fhir_report=report):
        data = getattr(item, "record", None)
        data = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
        if isinstance(data, dict):
            records[data["id"]] = data
    return records, {line.resource: (line.used, line.reason) for line in report}


def therapies(rec: dict) -> list[tuple[list, bool | None]]:
    return [(t["drugs"], t.get("intolerance")) for t in rec.get("prior_therapies") or []]


# -- hand-written resources and their JSON-record twins ------------------------------------------

TWINS = [
    # pembrolizumab coded as a branded clinical drug (the code is a placeholder the terminology
    # does not know: the display says what it is), for an ASPS patient
    ("pembrolizumab SBD", {"diagnosis": ASPS},
     [statement(concept((RXNORM, "TEST-SBD-1", "pembrolizumab 25 MG/ML Injectable Solution "
                                               "[Keytruda]")))],
     [{"drugs": ["Keytruda"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "not_met"),
    ("free text with strength and route", {"diagnosis": ASPS},
     [statement(concept(text="NIVOLUMAB 240 MG IV"))],
     [{"drugs": ["nivolumab"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "not_met"),
    ("a regimen written as one item", {},
     [statement(concept(text="AI (doxorubicin + ifosfamide)"))],
     [{"drugs": ["doxorubicin", "ifosfamide"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC5.1", "met"),
    ("tall-man lettering", {},
     [statement(concept((RXNORM, "3639", "DOXOrubicin")))],
     [{"drugs": ["doxorubicin"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC5.1", "met"),
    ("an unknown antibody may be a PD-1 inhibitor", {"diagnosis": ASPS},
     [statement(concept(text="novelimab 200 mg IV"))],
     [{"drugs": ["novelimab"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "unknown"),
    ("an unknown TKI is not", {"diagnosis": ASPS},
     [statement(concept(text="zorbatinib 100 mg PO"))],
     [{"drugs": ["zorbatinib"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "met"),
    ("paracetamol is ignored", {"diagnosis": ASPS},
     [statement(concept((ATC, "N02BE01", None), text="paracetamol 500 mg")),
      statement(concept(text="doxorubicin"), rid="ms2")],
     [{"drugs": ["doxorubicin"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "met"),
    ("an unknown drug of an mCODE cancer-related administration is kept",
     {"diagnosis": ASPS},
     [{"resourceType": "MedicationAdministration", "id": "ma1", "status": "completed",
       "meta": {"profile": [MCODE_ADMIN]}, "subject": SUBJECT,
       "medicationCodeableConcept": concept(text="XYZ-123 investigational"),
       "effectiveDateTime": "2025-03-01"}],
     [{"drugs": ["XYZ-123 investigational"], "start": "2025-03-01", "intolerance": False}],
     "IC4", "unknown"),
    ("a Medication with ingredients only", {},
     [{"resourceType": "MedicationStatement", "id": "ms1", "status": "completed",
       "subject": SUBJECT, "effectivePeriod": {"start": "2025-03-01", "end": "2025-08-01"},
       "contained": [{"resourceType": "Medication", "id": "m", "ingredient": [
           {"itemCodeableConcept": concept((SNOMED, "68444001", "Doxorubicin"))},
           {"itemCodeableConcept": concept(text="ifosfamide")}]}],
       "medicationReference": {"reference": "#m"}}],
     [{"drugs": ["doxorubicin", "ifosfamide"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC5.1", "met"),
    # an active order counts as exposure; its start from the dosage bounds
    ("an active request", {"diagnosis": ASPS},
     [{"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
       "subject": SUBJECT, "authoredOn": "2025-02-20",
       "medicationCodeableConcept": concept((ATC, "L01FF02", None)),
       "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"start": "2025-03-01"}}}}]}],
     [{"drugs": ["pembrolizumab"], "start": "2025-03-01"}], "IC4", "not_met"),
    # a request dated after the assessment date is set aside by the pipeline's as-of cut
    ("a request dated after the assessment date", {},
     [{"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
       "subject": SUBJECT, "authoredOn": "2026-12-01",
       "medicationCodeableConcept": concept(text="doxorubicin 75 mg/m2")}],
     [{"drugs": ["doxorubicin"], "start": "2026-12-01"}], "IC5.1", "unknown"),
    ("a proposal is no exposure", {"diagnosis": ASPS},
     [{"resourceType": "MedicationRequest", "id": "mr1", "status": "active",
       "intent": "proposal", "subject": SUBJECT, "authoredOn": "2025-03-01",
       "medicationCodeableConcept": concept((ATC, "L01FF02", None))},
      statement(concept(text="doxorubicin"), rid="ms2")],
     [{"drugs": ["doxorubicin"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC4", "met"),
    ("a dispense", {},
     [{"resourceType": "MedicationDispense", "id": "md1", "status": "completed",
       "subject": SUBJECT, "whenHandedOver": "2025-03-01",
       "medicationCodeableConcept": concept((RXNORM, "1790099", None))}],
     [{"drugs": [{"system": "RxNorm", "code": "1790099"}], "start": "2025-03-01"}],
     "IC5.1", "met"),
    ("a support product by its stem", {},
     [{"resourceType": "MedicationAdministration", "id": "ma1", "status": "completed",
       "subject": SUBJECT, "medicationCodeableConcept": concept(text="xyzgrastim 6 mg SC"),
       "effectiveDateTime": "2026-11-01"},
      statement(concept(text="doxorubicin"), rid="ms2")],
     [{"drugs": ["doxorubicin"], "start": "2025-03-01", "end": "2025-08-01",
       "intolerance": False}], "IC9.0", "not_met"),
]


@pytest.mark.parametrize(("name", "changes", "resources", "therapies_", "cid", "outcome"),
                         TWINS, ids=[t[0] for t in TWINS])
def test_fhir_and_its_json_twin_agree(tmp_path, name, changes, resources, therapies_, cid,
                                      outcome):
    from_fhir = outcomes_of(tmp_path, changes, resources)
    twin = {**changes, "prior_therapies": therapies_}
    if name == "a support product by its stem":
        twin["supportive_care"] = [{"product": "xyzgrastim", "date": "2026-11-01"}]
    assert from_fhir[cid] == outcome
    assert from_fhir == json_outcomes(twin)


# -- intolerance (class 11) --------------------------------------------------------------------

PACLITAXEL = concept((RXNORM, "56946", "paclitaxel"))


@pytest.mark.parametrize(("extra", "status", "intolerance", "outcome"), [
    ({}, "completed", False, "not_met"),  # a completed course was not stopped for intolerance
    ({"statusReason": [concept((SNOMED, "407563006", "Treatment not tolerated"))]}, "stopped",
     True, "met"),
    ({"statusReason": [concept((SNOMED, "266721009", "No response to treatment"))]},
     "stopped", False, "not_met"),  # stopped for a coded reason that is not intolerance
    ({"statusReason": [concept(text="stopped")]}, "stopped", None, "unknown"),  # uncoded
    ({}, "stopped", None, "unknown"),
    ({"statusReason": [concept(("https://w3id.org/ql1706kg/fhir/CodeSystem/screening",
                                "stopped-for-intolerance", None))]}, "stopped", True, "met"),
    ({"statusReason": [concept(("http://terminology.hl7.org/CodeSystem/"
                                "medicationrequest-status-reason", "salg", None))]},
     "stopped", None, "unknown"),  # an allergy: neither
])
def test_ic5_2_intolerance(tmp_path, extra, status, intolerance, outcome):
    resources = [statement(PACLITAXEL, status=status, **extra)]
    from_fhir = outcomes_of(tmp_path, NO_PROGRESSION, resources)
    therapy = {"drugs": ["paclitaxel"], "start": "2025-03-01", "end": "2025-08-01"}
    if intolerance is not None:
        therapy["intolerance"] = intolerance
    assert from_fhir["IC5.2"] == outcome
    assert from_fhir == json_outcomes({**NO_PROGRESSION, "prior_therapies": [therapy]})


# -- the public HL7 packages, resources unmodified ---------------------------------------------

def test_jenny_m_doxorubicin_makes_ic5_1_met_when_her_cancer_is_a_leiomyosarcoma(tmp_path):
    """Her doxorubicin is an RxNorm clinical drug (1790099), given once 2018-04-22; with a
    hand-written leiomyosarcoma Condition beside her unmodified resources IC5.1 is met."""
    for name in ("Patient-cancer-patient-jenny-m.json",
                 "MedicationAdministration-cancer-related-medication-admin-doxorubicin-jenny-m"
                 ".json", "MedicationAdministration-cancer-related-medication-admin-paclitaxel"
                 "-jenny-m.json", "MedicationAdministration-a96613ef-89ea-4d90-a41b-30f707492f3e"
                 ".json"):
        shutil.copy(MCODE / name, tmp_path / name)
    (tmp_path / "Condition-lms.json").write_text(json.dumps({
        "resourceType": "Condition", "id": "lms",
        "subject": {"reference": "Patient/cancer-patient-jenny-m"},
        "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/icd-o-3",
                             "code": "8890/3"}]}, "onsetDateTime": "2018-03-16"}))
    result = screen([tmp_path], as_of=AS_OF)
    (patient,) = result.patients
    assert patient.outcome("IC5.1") == "met"
    criterion = next(c for c in patient.criteria if c.id == "IC5.1")
    assert "doxorubicin" in criterion.explanation.casefold()


def test_mcode_requests_cisplatin_and_gefitinib(tmp_path):
    for name in ("Patient-cancer-patient-john-anyperson.json",
                 "MedicationRequest-cancer-related-medication-request-cisplatin.json",
                 "MedicationRequest-cancer-related-medication-request-cisplatin-stopped.json",
                 "MedicationRequest-cancer-related-medication-request-gefitinib.json"):
        shutil.copy(MCODE / name, tmp_path / name)
    records, report = read_records(tmp_path)
    rec = records["cancer-patient-john-anyperson"]
    assert sorted(therapies(rec), key=str) == sorted([
        ([{"system": "RxNorm", "code": "309311",
           "display": "cisplatin 1 MG/ML Injectable Solution"}], False),  # completed
        ([{"system": "RxNorm", "code": "309311",
           "display": "cisplatin 1 MG/ML Injectable Solution"}], True),  # 407563006
        ([{"system": "RxNorm", "code": "349472", "display": "gefitinib 250 MG Oral Tablet"}],
         None),  # active
    ], key=str)
    assert all(used for used, _ in report.values())
    names = [t["name"] for t in rec["prior_therapies"]]
    assert "gefitinib 250 MG Oral Tablet (requested, active)" in names


def test_r4_examples_ndc_snomed_dispense_and_branded_drugs():
    records, report = read_records(R4)
    drugs = [d for t in records["pat1"]["prior_therapies"] for d in t["drugs"]]
    from ql1706kg.protocol.drugs import drug_index
    from ql1706kg.protocol.terminology import terminology

    term = terminology()
    index = drug_index(term)

    def names(value) -> tuple[str, ...]:
        reading = index.read(value if isinstance(value, str) else
                             (value["system"], value["code"], value.get("display")))
        return tuple(term.label(k) for k in reading.known)

    read = {names(d) for d in drugs}
    assert {("brentuximab vedotin",), ("busulfan",), ("capecitabine",),
            ("alemtuzumab",)} <= read
    for resource in ("MedicationAdministration/medadmin0305",  # NDC Adcetris
                     "MedicationAdministration/medadmin0310",  # NDC Myleran
                     "MedicationDispense/meddisp008",  # RxNorm 213293 Xeloda, dispensed
                     "MedicationRequest/medrx0309",  # SNOMED 108761006, active
                     "MedicationAdministration/medadmin0304"):  # RxNorm SBD Lemtrada
        assert report[resource][0], (resource, report[resource])


def test_ips_anastrozole_is_known_and_simvastatin_is_named_as_ignored():
    records, report = read_records(IPS / "Bundle-IPS-examples-Bundle-01.json")
    (therapy,) = [t for r in records.values() for t in r.get("prior_therapies") or []]
    assert "anastrozole" in therapy["name"].casefold()
    from ql1706kg.protocol.drugs import drug_index
    from ql1706kg.protocol.terminology import terminology

    (drug,) = therapy["drugs"]
    value = drug if isinstance(drug, str) else (drug["system"], drug["code"],
                                                drug.get("display"))
    assert drug_index(terminology()).read(value).identified  # not "class unknown"
    _, report = read_records(IPS / "Patient-eumfh-39-07.json",
                             IPS / "MedicationStatement-eumfh-39-07-1.json",
                             IPS / "Medication-eumfh-39-07-1.json")
    used, reason = report["MedicationStatement/eumfh-39-07-1"]
    assert not used and "Simvastatin" in reason


def test_lift_report_names_who_an_unreadable_drug_could_have_changed(tmp_path):
    """An ignored resource that could have changed an outcome is said so in lift --report,
    with its patient and the criteria; a drug identified as irrelevant is not."""
    from click.testing import CliRunner

    from ql1706kg.cli import main

    person = {"resourceType": "Patient", "id": "P9", "gender": "female",
              "birthDate": "1970-01-01"}

    def statement(sid: str, text: str) -> dict:
        return {"resourceType": "MedicationStatement", "id": sid, "status": "completed",
                "subject": {"reference": "Patient/P9"},
                "effectiveDateTime": "2025-01-02",
                "medicationCodeableConcept": {"text": text}}

    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": person}, {"resource": statement("a", "Little Pink Pill")},
        {"resource": statement("b", "simvastatin 20 mg")}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    report = tmp_path / "r.tsv"
    run = CliRunner().invoke(main, ["lift", str(path), "-o", str(tmp_path / "g.ttl"),
                                    "--report", str(report)])
    assert run.exit_code == 0, run.stderr
    rows = {line.split("\t")[1]: line.split("\t") for line in report.read_text().splitlines()}
    assert rows["MedicationStatement/a"][4:] == ["P9", "IC4 IC5.1 IC5.2 IC9.0"]
    assert rows["MedicationStatement/b"][4:] == ["P9", ""]
    assert "patient P9: an ignored resource could have changed IC4" in run.stderr
