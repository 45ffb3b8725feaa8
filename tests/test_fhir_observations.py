"""FHIR Observations as public exports write them (issue 12, classes 7 and 8): US interface
units, results listed by a DiagnosticReport without a subject of their own, ECOG as a SNOMED CT
observable, Karnofsky read through the published KPS-to-ECOG conversions, quantitative hCG,
pregnancy status, and the CDC race code that spells like a LOINC pregnancy test.

Where a FHIR fixture has a project-record twin, both must give the same outcome for every
criterion (FHIR is only another way of reading the same record).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rdflib import Graph, URIRef

from ql1706kg.api import screen
from ql1706kg.inputs.read import read_paths
from ql1706kg.protocol.namespaces import QL, RDF
from ql1706kg.protocol.resources import ontology_files

PACKAGES = Path(__file__).parent / "data" / "fhir-packages"
R4, MCODE, IPS = (PACKAGES / "hl7.fhir.r4.examples", PACKAGES / "hl7.fhir.us.mcode",
                  PACKAGES / "hl7.fhir.uv.ips")
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
PROJECT = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"
AS_OF, DAY = "2026-11-20", "2026-11-17"
SUBJECT = {"reference": "Patient/P1"}


def patient(gender: str = "male") -> dict:
    return {"resourceType": "Patient", "id": "P1", "gender": gender, "birthDate": "1970-05-01"}


def twin(gender: str = "male", *observations: dict) -> dict:
    """The project record of the same patient."""
    return {"id": "P1", "sex": gender, "birth_date": "1970-05-01",
            "observations": list(observations)}


def obs(oid: str, system: str, code: str, **value) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": SUBJECT,
            "code": {"coding": [{"system": system, "code": code}]}, "effectiveDateTime": DAY,
            **value}


def quantity(value: float, unit: str, ucum: bool = True) -> dict:
    return {"value": value, "unit": unit, **({"system": UCUM, "code": unit} if ucum else {})}


NOT_LACTATING = obs("lact", PROJECT, "lactating", valueBoolean=False)


def screened(tmp_path: Path, *resources: dict, gender: str = "male", as_of: str = AS_OF):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": r} for r in (patient(gender), *resources)]}))
    result = screen([path], as_of=as_of)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (person,) = result.patients
    return person


def explained(person, cid: str) -> str:
    """A criterion's explanation, each result's instant shown as its day (the reader keeps
    effectiveDateTime as written)."""
    text = next(c for c in person.criteria if c.id == cid).explanation
    return re.sub(r"(\d{4}-\d{2}-\d{2})T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?", r"\1", text)


def outcomes(person) -> dict[str, str]:
    return {c.id: c.outcome for c in person.criteria}


def same_as_twin(tmp_path: Path, record: dict, *resources: dict, gender: str = "male"):
    """Screen the FHIR resources and their record twin; every outcome must agree."""
    person = screened(tmp_path, *resources, gender=gender)
    result = screen([record], as_of=AS_OF)
    assert not result.errors
    assert outcomes(person) == outcomes(result.patients[0])
    return person


def report_of(*paths: Path) -> dict[str, tuple[bool, str]]:
    lines: list = []
    list(read_paths(list(paths), fhir_report=lines))
    return {line.resource: (line.used, line.reason) for line in lines}


# -- units (class 7) --------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["K/uL", "K/ul", "thou/uL", "x10^3/uL", "10^3/uL"])
@pytest.mark.parametrize(("value", "outcome"), [(84, "not_met"), (90, "met")])
def test_platelets_in_thousands_per_microlitre(tmp_path, unit, value, outcome):
    platelets = obs("plt", LOINC, "26515-7", valueQuantity=quantity(value, unit, ucum=False))
    record = twin("male", {"test": "platelets", "value": value, "unit": unit, "date": DAY})
    person = same_as_twin(tmp_path, record, platelets)
    assert person.outcome("IC9.1-PLT") == outcome


@pytest.mark.parametrize("unit", ["{ratio}", "{INR}", "1", None])
@pytest.mark.parametrize(("value", "outcome"), [(1.5, "met"), (1.6, "not_met")])
def test_inr_with_an_annotation_or_no_unit(tmp_path, unit, value, outcome):
    value_element = ({"valueQuantity": quantity(value, unit)} if unit
                     else {"valueQuantity": {"value": value}})
    inr = obs("inr", LOINC, "6301-6", **value_element)
    record = twin("male", {"test": "INR", "value": value, "date": DAY,
                           **({"unit": unit} if unit else {})})
    person = same_as_twin(tmp_path, record, inr)
    assert person.outcome("IC9.4-INR") == outcome


def test_haemoglobin_in_mmol_per_litre_stays_unknown(tmp_path):
    """No sourced factor (clinical-rules.md: the monomer and tetramer conventions differ 4-fold)."""
    hb = obs("hb", LOINC, "59260-0", valueQuantity=quantity(7.5, "mmol/L"))
    person = screened(tmp_path, hb)
    assert person.outcome("IC9.1-HB") == "unknown"
    assert "mmol/L" in explained(person, "IC9.1-HB")


# -- results listed by a report ----------------------------------------------------------------

def report(rid: str, subject: str, *results: str) -> dict:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "code": {"text": "CBC"}, "subject": {"reference": subject},
            "effectiveDateTime": DAY, "result": [{"reference": r} for r in results]}


def test_a_result_without_subject_belongs_to_the_patient_of_its_report(tmp_path):
    platelets = obs("plt", LOINC, "26515-7", valueQuantity=quantity(84, "10*3/uL"))
    del platelets["subject"], platelets["effectiveDateTime"]
    person = screened(tmp_path, report("r", "Patient/P1", "Observation/plt"), platelets)
    assert person.outcome("IC9.1-PLT") == "not_met"


def test_a_result_listed_by_reports_of_two_patients_is_not_given_to_either(tmp_path):
    other = {**patient(), "id": "P2"}
    platelets = obs("plt", LOINC, "26515-7", valueQuantity=quantity(84, "10*3/uL"))
    del platelets["subject"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": r} for r in (patient(), other, report("r1", "Patient/P1", "Observation/plt"),
                                  report("r2", "Patient/P2", "Observation/plt"), platelets)]}))
    result = screen([path], as_of=AS_OF)
    assert {p.id: p.outcome("IC9.1-PLT") for p in result.patients} == {"P1": "unknown",
                                                                        "P2": "unknown"}
    # it names no patient: it may be either's, so it is set aside for both
    used, reason = report_of(path)["Observation/plt"]
    assert not used and "names no patient" in reason and reason.startswith("set aside")


def test_a_report_lists_the_results_of_its_own_bundle(tmp_path):
    """Two bundles of one folder reuse the fullUrl .../Observation/o3 (as the R4 examples do):
    each report's result is the one in its own bundle, dated by that report."""
    base = "https://example.com/base"
    for name, person, value in (("a.json", "Patient/P1", 84), ("b.json", "Patient/P2", 250)):
        platelets = obs("o3", LOINC, "26515-7", valueQuantity=quantity(value, "10*3/uL"))
        del platelets["subject"], platelets["effectiveDateTime"]
        rep = report("report", person, "Observation/o3")
        (tmp_path / name).write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                 "entry": [
            {"fullUrl": f"{base}/DiagnosticReport/report", "resource": rep},
            {"fullUrl": f"{base}/Observation/o3", "resource": platelets}]}))
    (tmp_path / "p1.json").write_text(json.dumps(patient()))
    (tmp_path / "p2.json").write_text(json.dumps({**patient(), "id": "P2"}))
    result = screen([tmp_path], as_of=AS_OF)
    assert {p.id: p.outcome("IC9.1-PLT") for p in result.patients} == {"P1": "not_met",
                                                                        "P2": "met"}


def test_the_r4_report_bundle_gives_its_platelets_to_genetics_example1():
    """r4 Bundle-report.json: platelets 84 K/ul in an Observation with no subject, listed by
    the DiagnosticReport of Patient/genetics-example1 (2015-01-02)."""
    files = [R4 / "Bundle-report.json", R4 / "Patient-genetics-example1.json"]
    result = screen(files, as_of="2015-01-20")
    assert not result.errors and not result.notes
    (person,) = result.patients
    assert person.outcome("IC9.1-PLT") == "not_met"
    assert "platelet count 84 K/ul on 2015-01-02 (= 84 ×10⁹/L)" in explained(person, "IC9.1-PLT")
    used, reason = report_of(*files)["Observation/o3"]
    assert used and "DiagnosticReport/report" in reason
    assert report_of(*files)["Observation/o1"] == (False, "not a test the protocol uses")


# -- ECOG and Karnofsky (class 8) --------------------------------------------------------------

@pytest.mark.parametrize(("value", "grade", "outcome"), [
    ({"valueInteger": 1}, 1, "met"),
    ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "422894000"}]}},
     "ECOG 2", "not_met")])
def test_ecog_coded_as_the_snomed_observable(tmp_path, value, grade, outcome):
    ecog = obs("ecog", SNOMED, "423740007", **value)
    person = same_as_twin(tmp_path, twin("male", {"test": "ECOG", "value": grade, "date": DAY}),
                          ecog)
    assert person.outcome("IC8.1") == outcome


@pytest.mark.parametrize(("score", "outcome"), [
    (100, "met"), (90, "met"), (80, "met"),   # every published conversion: ECOG 0-1
    (70, "unknown"),                          # ECOG 1 (ECOG-ACRIN) or 2 (Buccheri, Ma, Prasad)
    (60, "not_met"), (0, "not_met"),          # ECOG 2-3; dead
    (75, "unknown"),                          # not a step of the scale
])
def test_karnofsky_is_read_through_the_published_conversions(tmp_path, score, outcome):
    kps = obs("kps", LOINC, "89243-0", valueInteger=score)
    person = screened(tmp_path, kps)
    assert person.outcome("IC8.1") == outcome
    if score == 70:
        assert "both sides of the limit" in explained(person, "IC8.1")


@pytest.mark.parametrize("engine", ["compiled", "pyshacl"])
def test_the_karnofsky_range_shape_reads_alike_in_both_shacl_engines(tmp_path, monkeypatch,
                                                                     engine):
    monkeypatch.setenv("QL1706KG_SHACL_ENGINE", engine)
    got = {score: screened(tmp_path, obs("kps", LOINC, "89243-0", valueInteger=score))
           .outcome("IC8.1") for score in (90, 70, 60)}
    assert got == {90: "met", 70: "unknown", 60: "not_met"}


@pytest.mark.parametrize(("score", "value"), [(90, "Karnofsky 90"), (70, "KPS 70"),
                                              (60, "Karnofsky 60 (ECOG 2-3)")])
def test_karnofsky_and_its_record_twin(tmp_path, score, value):
    kps = obs("kps", LOINC, "89243-0", valueInteger=score)
    same_as_twin(tmp_path, twin("male", {"test": "ECOG", "value": value, "date": DAY}), kps)


def test_karnofsky_as_the_snomed_observable_with_a_coded_percentage(tmp_path):
    """The German MII oncology module: SNOMED CT 761869008, value coded '90%'."""
    kps = obs("kps", SNOMED, "761869008", valueCodeableConcept={"coding": [{
        "system": "https://www.medizininformatik-initiative.de/fhir/ext/modul-onko/CodeSystem/"
                  "mii-cs-onko-allgemeiner-leistungszustand-karnofsky", "code": "90%"}]})
    assert screened(tmp_path, kps).outcome("IC8.1") == "met"


def test_john_anypersons_karnofsky_90_is_ecog_0_to_1():
    files = [MCODE / "Patient-cancer-patient-john-anyperson.json",
             MCODE / "Observation-karnofsky-performance-status-normal-activity.json"]
    (person,) = screen(files, as_of="2019-04-10").patients
    assert person.outcome("IC8.1") == "met"
    assert "Karnofsky 90 (ECOG 0-1)" in explained(person, "IC8.1")
    assert report_of(*files)["Observation/karnofsky-performance-status-normal-activity"] == (
        True, "Karnofsky 90, read as ECOG 0-1")


def test_the_karnofsky_rows_are_one_consistent_table():
    """Each row: its rank is the best grade of its range, and it may be every grade of it."""
    graph = Graph()
    for path in ontology_files():
        graph.parse(path)
    rows = list(graph.subjects(RDF.type, QL.KarnofskyEquivalent))
    assert sorted(int(graph.value(r, QL.karnofskyScore)) for r in rows) == list(range(0, 101, 10))
    for row in rows:
        low, high = int(graph.value(row, QL.ecogMinimum)), int(graph.value(row, QL.ecogMaximum))
        may_be = {int(str(c)[-1]) for c in graph.objects(row, RDF.type)
                  if str(c).startswith(str(QL.MayBeECOG))}
        assert may_be == set(range(low, high + 1)), row
        assert int(graph.value(row, QL.ordinalRank)) == low
    sources = set(graph.objects(QL.KarnofskyEquivalent,
                                URIRef("http://purl.org/dc/terms/source")))
    assert len(sources) == 4


# -- pregnancy tests and status (class 8) -----------------------------------------------------

def hcg(value: float, high: float | None = None, interpretation: str | None = None,
        code: str = "21198-7") -> dict:
    resource = obs("hcg", LOINC, code, valueQuantity=quantity(value, "m[IU]/mL"))
    if high is not None:
        resource["referenceRange"] = [{"high": quantity(high, "m[IU]/mL")}]
    if interpretation:
        resource["interpretation"] = [{"coding": [{"system": V3, "code": interpretation}]}]
    return resource


@pytest.mark.parametrize(("resource", "outcome"), [
    (hcg(2, interpretation="NEG"), "met"), (hcg(2, interpretation="N"), "met"),
    (hcg(300, interpretation="POS"), "not_met"), (hcg(300, interpretation="H"), "not_met"),
    (hcg(2, high=5), "met"), (hcg(12, high=5), "not_met"),            # the range alone
    (hcg(3, high=5, code="19080-1"), "met"),
    (hcg(12), "unknown"),                                           # neither
    (hcg(12, interpretation="IND"), "unknown"), (hcg(12, interpretation="A"), "unknown"),
    (hcg(2, high=5, interpretation="POS"), "unknown"),              # they contradict
])
def test_quantitative_hcg(tmp_path, resource, outcome):
    person = screened(tmp_path, resource, NOT_LACTATING, gender="female")
    assert person.outcome("IC10") == outcome


@pytest.mark.parametrize(("resource", "result"), [
    (hcg(2, interpretation="NEG"), {"value": "negative"}),
    (hcg(12, high=5), {"value": 12, "unit": "m[IU]/mL", "uln": 5}),
    (hcg(12, interpretation="IND"), {"value": "12 m[IU]/mL, indeterminate"}),
])
def test_quantitative_hcg_and_its_record_twin(tmp_path, resource, result):
    record = {**twin("female", {"test": "pregnancy test", "date": DAY, **result}),
              "reproductive": {"lactating": False}}
    same_as_twin(tmp_path, record, resource, NOT_LACTATING, gender="female")


def status(code: str) -> dict:
    return {**obs("status", LOINC, "82810-3",
                  valueCodeableConcept={"coding": [{"system": LOINC, "code": code}]}),
            "effectiveDateTime": "2026-11-18"}


@pytest.mark.parametrize(("code", "outcome"), [
    ("LA15173-0", "unknown"),    # pregnant, after the negative test: never met on it
    ("LA26683-5", "met"),        # not pregnant: a status, ignored; the negative test decides
    ("LA4489-6", "met"),         # unknown: ignored
])
def test_a_pregnancy_status_is_not_a_test_result(tmp_path, code, outcome):
    person = screened(tmp_path, hcg(2, high=5), status(code), NOT_LACTATING, gender="female")
    assert person.outcome("IC10") == outcome


def test_the_ips_pregnancy_statuses():
    pregnant = [IPS / "Patient-patient-example-female.json",
                IPS / "Observation-pregnancy-status-example.json"]
    (person,) = screen(pregnant, as_of="2020-01-20").patients
    assert person.outcome("IC10") == "unknown"  # a pregnancy on record on 2020-01-10
    lines = report_of(IPS / "Bundle-bundle-ips-all-sections.json")
    used, reason = lines["Observation/f241ac65-5eab-49a0-8b92-7fb263274110"]
    assert not used and reason.startswith("a pregnancy status ('not pregnant')")


def test_the_cdc_race_code_2106_3_is_not_the_loinc_urine_hcg(tmp_path):
    """mCODE Patients carry CDC race 2106-3 (White); an Observation coded with it is no test."""
    race = obs("race", "urn:oid:2.16.840.1.113883.6.238", "2106-3", valueBoolean=True)
    person = screened(tmp_path, race, hcg(2, high=5), NOT_LACTATING, gender="female")
    assert person.outcome("IC10") == "met"
    path = tmp_path / "bundle.json"
    assert report_of(path)["Observation/race"] == (False, "not a test the protocol uses")
