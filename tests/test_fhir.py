"""FHIR R4 input: the example bundles, a bulk export, public exports, and bad input of each kind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.read import read_paths

ROOT = Path(__file__).resolve().parents[1]
FHIR_EXAMPLES = ROOT / "examples" / "fhir"
JSON_EXAMPLES = ROOT / "examples" / "patients"
BULK = ROOT / "examples" / "fhir-bulk"
DATA = Path(__file__).parent / "data"
PUBLIC = DATA / "fhir-public"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
AS_OF = "2026-11-20"


def outcomes(path: Path, as_of: str = AS_OF) -> dict[str, dict[str, str]]:
    result = screen([path], as_of=as_of)
    assert not result.errors, [e.as_dict() for e in result.errors]
    return {p.id: {c.id: c.outcome for c in p.criteria} for p in result.patients}


@pytest.mark.parametrize("name", sorted(p.name for p in FHIR_EXAMPLES.glob("*.json")))
def test_fhir_example_gives_the_outcomes_of_the_same_patient_as_a_json_record(name):
    """Every criterion, not only the verdict: FHIR is another way of reading the same record."""
    assert outcomes(FHIR_EXAMPLES / name) == outcomes(JSON_EXAMPLES / name)


def test_bulk_export_joins_resources_across_ndjson_files():
    result = screen([BULK], as_of=AS_OF)
    assert not result.errors
    verdicts = {p.id: p.verdict for p in result.patients}
    assert verdicts == {"QL-LMS-016": "ineligible", "QL-LMS-013": "incomplete",
                        "QL-UPS-002": "eligible"}


def test_bulk_export_ignores_entered_in_error_and_reads_panel_components():
    patients = {p.id: p for p in screen([BULK], as_of=AS_OF).patients}
    # An AST of 900 U/L entered in error must not count; the real one is normal.
    assert patients["QL-LMS-016"].outcome("IC9.2-AST") == "met"
    # UPS-002's coagulation tests come only as components of one panel Observation.
    for criterion in ("IC9.4-APTT", "IC9.4-INR", "IC9.4-PT"):
        assert patients["QL-UPS-002"].outcome(criterion) == "met"


def test_lift_report_names_every_resource_and_why_it_was_ignored():
    report: list = []
    list(read_paths([BULK], fhir_report=report))
    ignored = {line.resource: line.reason for line in report if not line.used}
    assert ignored == {
        "Encounter/lms-016-screening-visit": "resource type not used by the protocol",
        "Observation/lms-016-ast-typo": "status entered-in-error"}
    resources = sum(1 for path in BULK.glob("*.ndjson") for line in path.open() if line.strip())
    assert len(report) == resources  # nothing silently dropped


@pytest.mark.parametrize(("folder", "as_of", "patients"), [
    ("r4-cbc", "2011-03-10", 1), ("r4-f001", "2013-04-10", 1), ("ips-creatinine", "2018-02-20", 1),
    ("Bundle-bundle-ips-all-sections.json", AS_OF, 1),
    ("Bundle-IPS-examples-Bundle-01.json", AS_OF, 1),
    # five Patient resources, two of them without an id: five people (they were merged into
    # three under the key 'Patient/?' before identity was settled per scope and identifier)
    ("Bundle-bundle-transaction.json", AS_OF, 5), ("Bundle-father.json", AS_OF, 1),
    ("Bundle-bundle-response-medsallergies.json", AS_OF, 1),
])
def test_public_exports_screen_one_verdict_per_patient(folder, as_of, patients):
    result = screen([PUBLIC / folder], as_of=as_of)
    assert len(result.patients) == patients
    assert all(len(p.criteria) == 28 for p in result.patients)


@pytest.mark.parametrize(("folder", "as_of", "criterion", "outcome", "shown"), [
    ("r4-cbc", "2011-03-10", "IC9.1-HB", "met", "haemoglobin 176 g/L on 2011-03-04"),
    ("r4-cbc", "2011-03-10", "IC9.1-ANC", "not_met", "absolute neutrophil count 0.9 ×10⁹/L"),
    ("r4-cbc", "2011-03-10", "IC9.1-PLT", "met", "platelet count 444 ×10⁹/L"),
    ("r4-f001", "2013-04-10", "IC9.1-HB", "not_met",
     "haemoglobin 7.2 g/dL on 2013-04-05 (= 72 g/L"),
])
def test_public_lab_values_come_out_with_value_and_unit(folder, as_of, criterion, outcome, shown):
    (patient,) = screen([PUBLIC / folder], as_of=as_of).patients
    result = next(c for c in patient.criteria if c.id == criterion)
    assert result.outcome == outcome
    assert shown in days(result.explanation)


def days(text: str) -> str:
    """An explanation with each result's instant shown as its day (the reader keeps the
    effectiveDateTime as written, time and zone included)."""
    return re.sub(r"(\d{4}-\d{2}-\d{2})T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?", r"\1", text)


def test_public_creatinine_uses_the_reference_range_of_the_patients_sex():
    """IPS example: 2.46 mg/dL with ranges for men (ULN 1.27) and women (ULN 1)."""
    (patient,) = screen([PUBLIC / "ips-creatinine"], as_of="2018-02-20").patients
    explanation = next(c for c in patient.criteria if c.id == "IC9.3-CR").explanation
    sex = json.loads((PUBLIC / "ips-creatinine" / "Patient-eumfh-39-07.json").read_text())[
        "gender"]
    uln = {"male": "1.27", "female": "1"}[sex]
    assert f"creatinine 2.46 mg/dL on 2018-02-16 (= 217.47 µmol/L, ULN {uln} mg/dL" in days(
        explanation)


def bundle(*resources: dict, patient: dict | None = None) -> dict:
    patient = patient or {"resourceType": "Patient", "id": "P1", "gender": "male",
                          "birthDate": "1970-05-01"}
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in (patient, *resources)]}


def lab(code: str, value: float, unit: str, high: float | None = None,
        high_unit: str | None = None, **extra) -> dict:
    obs = {"resourceType": "Observation", "id": f"o-{code}", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": code}]},
           "subject": {"reference": "Patient/P1"}, "effectiveDateTime": "2026-11-12T08:00:00Z",
           "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    if high is not None:
        obs["referenceRange"] = [{"high": {"value": high, "system": UCUM,
                                           "code": high_unit or unit}}]
    obs.update(extra)
    return obs


def screened(tmp_path: Path, data: dict, name: str = "b.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return screen([path], as_of=AS_OF)


def criterion(result, cid: str):
    (patient,) = result.patients
    return next(c for c in patient.criteria if c.id == cid)


@pytest.mark.parametrize(("value", "unit", "high", "high_unit", "outcome"), [
    (100, "U/L", 40, "U/L", "met"),          # exactly 2.5 × ULN
    (101, "U/L", 40, "U/L", "not_met"),
    (100, "[IU]/L", 40, "[IU]/L", "met"),
    (100, "U/L", 0.6667, "ukat/L", "met"),   # ULN in another unit, converted to U/L
    (100, "U/L", None, None, "unknown"),     # no ULN
    (100, "mg", 40, "mg", "unknown"),        # a unit that cannot be an enzyme activity
])
def test_uln_from_reference_range_and_units(tmp_path, value, unit, high, high_unit, outcome):
    result = screened(tmp_path, bundle(lab("1920-8", value, unit, high, high_unit)))
    assert criterion(result, "IC9.2-AST").outcome == outcome


def test_unconvertible_unit_is_unknown_and_says_so(tmp_path):
    result = screened(tmp_path, bundle(lab("718-7", 12, "furlong")))
    hb = criterion(result, "IC9.1-HB")
    assert hb.outcome == "unknown"
    assert "furlong" in hb.explanation


def test_coded_dipstick_and_pregnancy_results(tmp_path):
    dipstick = lab("5804-0", 0, "mg/dL")
    del dipstick["valueQuantity"]
    dipstick["valueCodeableConcept"] = {"coding": [{"system": "http://snomed.info/sct",
                                                    "code": "167276005"}]}  # ++
    hcg = lab("2106-3", 0, "1")
    del hcg["valueQuantity"]
    hcg["valueCodeableConcept"] = {"text": "Negative"}
    female = {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1980-01-01"}
    result = screened(tmp_path, bundle(dipstick, hcg, patient=female))
    upro = criterion(result, "IC9.5-UPRO")
    assert upro.outcome == "unknown" and "2+" in upro.explanation
    assert "pregnancy test Negative" in criterion(result, "IC10").explanation


@pytest.mark.parametrize(("coding", "outcome"), [
    ({"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "8890/3"}, "met"),
    ({"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "9040/3"}, "not_met"),
    ({"system": "http://snomed.info/sct", "code": "404056007"}, "met"),
])
def test_histology_codes(tmp_path, coding, outcome):
    condition = {"resourceType": "Condition", "id": "dx", "code": {"coding": [coding]},
                 "subject": {"reference": "Patient/P1"}}
    assert criterion(screened(tmp_path, bundle(condition)), "IC3.3").outcome == outcome


def test_unknown_antineoplastic_atc_code_is_kept_and_never_assumed_harmless(tmp_path):
    condition = {"resourceType": "Condition", "id": "dx", "subject": {"reference": "Patient/P1"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "404056007"}]}}
    statement = {"resourceType": "MedicationStatement", "id": "m1", "status": "completed",
                 "subject": {"reference": "Patient/P1"},
                 "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc",
                                                           "code": "L01XX99"}]}}
    paracetamol = {**statement, "id": "m2", "medicationCodeableConcept": {
        "coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}],
        "text": "paracetamol"}}
    ic4 = criterion(screened(tmp_path, bundle(condition, statement, paracetamol)), "IC4")
    assert ic4.outcome == "unknown"
    assert "L01XX99" in ic4.explanation and "paracetamol" not in ic4.explanation


@pytest.mark.parametrize(("name", "message", "record", "field"), [
    ("invalid-json.json", "invalid JSON at line 2", None, None),
    ("malformed-observation.json", "required element is missing", "Observation/no-status",
     "Observation.status"),
    ("wrong-resource-type.json", "not a FHIR R4 resource type", "Observaton/typo", "resourceType"),
])
def test_bad_input_is_reported_with_file_resource_and_element(name, message, record, field):
    result = screen([DATA / "fhir" / name], as_of=AS_OF)
    error = result.errors[0]
    assert error.source.endswith(name) and message in error.message
    assert (error.record, error.field) == (record, field)


def test_a_malformed_resource_does_not_stop_the_rest_of_the_file():
    result = screen([DATA / "fhir" / "malformed-observation.json"], as_of=AS_OF)
    assert len(result.errors) == 2
    (patient,) = result.patients
    assert patient.outcome("IC9.1-ANC") == "met"


@pytest.mark.parametrize(("born", "outcome"), [("1957", "met"), ("1950", "unknown"),
                                               ("1950-12", "met"), ("1950-11", "unknown")])
def test_a_partial_birth_date_gives_the_ages_it_allows(tmp_path, born, outcome):
    """Aged 68 or 69 on the assessment date (2026-11-20): met whichever; 75 or 76: either."""
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male", "birthDate": born}
    assert criterion(screened(tmp_path, bundle(patient=patient)), "IC2").outcome == outcome


def test_cli_lift_report_as_subprocess(tmp_path):
    report = tmp_path / "report.tsv"
    proc = subprocess.run([sys.executable, "-m", "ql1706kg.cli", "lift", str(BULK), "--as-of",
                           AS_OF, "-o", str(tmp_path / "g.ttl"), "--report", str(report)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = report.read_text().splitlines()
    assert lines[0] == "source\tresource\tstatus\treason\tpatient\tcould change"
    assert any("\tignored\tstatus entered-in-error\t" in line for line in lines)


def test_every_project_code_in_the_examples_and_the_reader_is_in_the_shipped_code_system():
    from ql1706kg.inputs.fhir import PROJECT_ELEMENTS, PROJECT_SYSTEM, project_codes

    used = set()
    for path in [*FHIR_EXAMPLES.glob("*.json"), *BULK.glob("*.ndjson")]:
        text = path.read_text()
        for chunk in text.split(PROJECT_SYSTEM)[1:]:
            used.add(chunk.split('"code":', 1)[1].split('"')[1])
    assert used and used <= project_codes()
    assert set(PROJECT_ELEMENTS) <= project_codes()


def test_code_system_is_a_valid_fhir_r4_resource():
    from fhir.resources.R4B import get_fhir_model_class

    path = ROOT / "ql1706kg" / "CodeSystem-ql1706kg-screening.json"
    system = get_fhir_model_class("CodeSystem").model_validate_json(path.read_text())
    assert system.url == "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"


SUBJECT = {"reference": "Patient/P1"}
ASPS = {"resourceType": "Condition", "id": "dx", "subject": SUBJECT,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "404056007"}]}}
LMS = {**ASPS, "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/icd-o-3",
                                    "code": "8890/3"}]}}
ATC = "http://www.whocc.no/atc"
PROJECT = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"


def drug(resource: str, code: str, status: str = "completed", **extra) -> dict:
    return {"resourceType": resource, "id": f"{resource}-{code}", "status": status,
            "subject": SUBJECT, "medicationCodeableConcept": {"coding": [
                {"system": ATC, "code": code}]}, **extra}


@pytest.mark.parametrize(("resources", "criterion", "outcome"), [
    # histology through the mCODE morphology extension, the Condition.code being generic
    ([{**ASPS, "code": {"text": "cancer"}, "extension": [{
        "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
               "mcode-histology-morphology-behavior",
        "valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                       "icd-o-3", "code": "9581/3"}]}}]}],
     "IC3.3", "met"),
    # a primary-cancer profile with an unknown code is the diagnosis: IC3.3 unknown, not absent
    ([{**ASPS, "code": {"text": "sarcoma of the thigh, type pending"},
       "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/"
                            "mcode-primary-cancer-condition"]}}], "IC3.3", "unknown"),
    # a metastasis by the project code, in the liver: AST limit becomes 5 x ULN
    ([LMS, {"resourceType": "Condition", "id": "m", "subject": SUBJECT,
            "code": {"coding": [{"system": PROJECT, "code": "metastasis"}]},
            "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": "10200004",
                                      "display": "Liver structure"}]}]},
      lab("1920-8", 180, "U/L", 40)], "IC9.2-AST", "met"),
    # prior PD-1 inhibitor given as a MedicationAdministration (ATC L01FF13 toripalimab)
    ([ASPS, drug("MedicationAdministration", "L01FF13", effectiveDateTime="2025-01-02")],
     "IC4", "not_met"),
    # a MedicationRequest still active counts as exposure (issue 12: oral anticancer drugs
    # often appear only as orders); a completed one too
    ([ASPS, drug("MedicationRequest", "L01FF02", status="active", intent="order")],
     "IC4", "not_met"),
    ([ASPS, drug("MedicationRequest", "L01FF02", intent="order", authoredOn="2025-01-02")],
     "IC4", "not_met"),
    # anthracycline by ATC in a MedicationStatement with an effectivePeriod
    ([LMS, drug("MedicationStatement", "L01DB01", effectivePeriod={"start": "2025-01-02"})],
     "IC5.1", "met"),
    # ECOG as a LOINC answer code
    ([{**lab("89247-1", 0, "1"), "valueQuantity": None,
       "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9623-5"}]}}],
     "IC8.1", "met"),
    # a result dated by effectivePeriod.start only
    ([{**lab("718-7", 95, "g/L"), "effectiveDateTime": None,
       "effectivePeriod": {"start": "2026-11-12"}}], "IC9.1-HB", "met"),
    # a Consent that was rejected is no ICF signature
    ([{"resourceType": "Consent", "id": "c", "status": "rejected", "patient": SUBJECT,
       "scope": {"text": "research"}, "category": [{"text": "ICF"}],
       "dateTime": "2026-11-10"}], "IC1", "unknown"),
])
def test_each_mapping_of_docs_fhir_md(tmp_path, resources, criterion, outcome):
    cleaned = [{k: v for k, v in r.items() if v is not None} for r in resources]
    assert criterion_outcome(tmp_path, cleaned, criterion) == outcome


def criterion_outcome(tmp_path: Path, resources: list[dict], cid: str) -> str:
    result = screened(tmp_path, bundle(*resources))
    assert not result.errors, [e.as_dict() for e in result.errors]
    return criterion(result, cid).outcome


@pytest.mark.parametrize(("value", "outcome"), [
    ({"valueBoolean": False}, "met"), ({"valueBoolean": True}, "not_met"),
    ({"valueString": "negative"}, "met"), ({"valueCodeableConcept": {"text": "Positive"}},
                                           "not_met"),
])
def test_pregnancy_test_values(tmp_path, value, outcome):
    female = {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1980-01-01"}
    hcg = {"resourceType": "Observation", "id": "hcg", "status": "final", "subject": SUBJECT,
           "code": {"coding": [{"system": LOINC, "code": "2106-3"}]},
           "effectiveDateTime": "2026-11-17", **value}
    lactation = {"resourceType": "Observation", "id": "lact", "status": "final",
                 "subject": SUBJECT, "code": {"coding": [{"system": PROJECT,
                                                          "code": "lactating"}]},
                 "valueBoolean": False}
    result = screened(tmp_path, bundle(hcg, lactation, patient=female))
    assert criterion(result, "IC10").outcome == outcome


@pytest.mark.parametrize("name", sorted(p.name for p in FHIR_EXAMPLES.glob("*.json")))
def test_the_fhir_writer_makes_the_shipped_twins(name):
    from ql1706kg.inputs.fhir_write import to_bundle

    shipped = json.loads((FHIR_EXAMPLES / name).read_text())
    style = "uuid" if "urn:uuid" in json.dumps(shipped) else "relative"
    assert to_bundle(json.loads((JSON_EXAMPLES / name).read_text()), style) == shipped


def test_generated_patients_read_back_from_fhir_give_the_same_outcomes(tmp_path):
    from ql1706kg.inputs.fhir_write import to_bundle
    from ql1706kg.inputs.synthetic import patients

    records = list(patients(60, seed=7))
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [e for i, r in enumerate(records)
                        for e in to_bundle(r, "uuid" if i % 2 else "relative")["entry"]]}
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(bundle))
    from_fhir = {p.id: [c.outcome for c in p.criteria] for p in screen([path], as_of=AS_OF)
                 .patients}
    from_json = {p.id: [c.outcome for c in p.criteria] for p in screen(records, as_of=AS_OF)
                 .patients}
    assert from_fhir == from_json


def test_resources_checked_in_worker_processes_read_exactly_as_in_one(tmp_path, monkeypatch):
    """Checking against the FHIR models in 2 processes (small batches, so every worker gets
    several) gives the same records, errors (in order) and resource report as one process."""
    from ql1706kg.inputs.fhir import conformance as fhir
    from ql1706kg.inputs.fhir_write import to_bundle
    from ql1706kg.inputs.records import SourcedRecord
    from ql1706kg.inputs.synthetic import patients

    entries = [e for r in patients(12, seed=11) for e in to_bundle(r, "relative")["entry"]]
    malformed = json.loads((DATA / "fhir" / "malformed-observation.json").read_text())
    entries[5:5] = malformed["entry"]  # two malformed resources among good ones
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(bundle))

    def read(jobs: int) -> tuple[list[str], list[dict]]:
        report: list = []
        items = [item.record.model_dump_json() if isinstance(item, SourcedRecord) else str(item)
                 for item in read_paths([path], fhir_report=report, jobs=jobs)]
        return items, [line.as_dict() for line in report]

    one = read(1)
    monkeypatch.setattr(fhir, "PARALLEL_FROM", 0)
    monkeypatch.setattr(fhir, "CHECK_BATCH", 7)
    two = read(2)
    assert two == one
    errors = [item for item in one[0] if not item.startswith("{")]
    assert len(errors) == 2 and any("required element is missing" in e for e in errors)
    assert len(one[0]) == 12 + 1 + 2  # the generated patients, the malformed file's, errors
