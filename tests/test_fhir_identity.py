"""FHIR identity: one person is one patient, two people are never merged, nothing is lost.

Resources join only where FHIR says they do: inside one bundle, among the files of one folder
outside bundles (a bulk export), through a fullUrl, or when two Patients share an identifier
(system and value). A reference to another server's ``Patient/X`` is not the local one, and
resources whose patient is not in the input are an error, never a silent success.
"""

from __future__ import annotations

import json
from pathlib import Path

from ql1706kg import screen
from ql1706kg.inputs.read import read_paths

SYSTEM = "https://hospital.example.org/mrn"
PROJECT = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"


def patient(pid: str, gender: str = "male", birth: str = "1970-01-01",
            mrn: str | None = None) -> dict:
    out = {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}
    if mrn:
        out["identifier"] = [{"system": SYSTEM, "value": mrn}]
    return out


def weight(oid: str, subject: str, kg: float) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": subject}, "effectiveDateTime": "2026-11-16",
            "valueQuantity": {"value": kg, "unit": "kg", "system": "http://unitsofmeasure.org",
                              "code": "kg"}}


def project_obs(oid: str, subject: str, code: str, value: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": PROJECT, "code": code}]},
            "subject": {"reference": subject}, "effectiveDateTime": "2026-11-16",
            "valueCodeableConcept": {"coding": [{"system": PROJECT, "code": value}]}}


def bundle(*resources: dict, base: str | None = None) -> dict:
    entries = []
    for resource in resources:
        entry = {"resource": resource}
        if base:
            entry["fullUrl"] = f"{base}/{resource['resourceType']}/{resource['id']}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def weights_of(result) -> dict[str, str]:
    """Each patient's IC9.3 explanation part naming the body weight, by patient id."""
    out = {}
    for person in result.patients:
        text = next(c for c in person.criteria if c.id == "IC9.3-CR").explanation
        out[person.id] = next((w for w in ("70 kg", "90 kg") if w in text), "")
    return out


def test_two_bundles_that_both_say_patient_1_hold_two_people(tmp_path):
    write(tmp_path / "a.json", bundle(patient("1"), weight("w", "Patient/1", 70)))
    write(tmp_path / "b.json", bundle(patient("1", "female", "1980-05-05"),
                                      weight("w", "Patient/1", 90)))
    result = screen([tmp_path], as_of="2026-11-20")
    assert result.errors == []
    assert sorted(p.id for p in result.patients) == ["1@a.json", "1@b.json"]


def test_each_bundle_reads_its_own_patients_resources(tmp_path):
    write(tmp_path / "a.json", bundle(patient("1"), weight("w", "Patient/1", 70)))
    write(tmp_path / "b.json", bundle(patient("1", "female", "1980-05-05"),
                                      weight("w", "Patient/1", 90)))
    items = [i for i in read_paths([tmp_path]) if not isinstance(i, Exception)]
    weights = {i.id: [o.value for o in i.record.observations] for i in items}
    assert weights == {"1@a.json": ["70"], "1@b.json": ["90"]}


def test_the_same_identifier_joins_patients_of_two_sources(tmp_path):
    write(tmp_path / "a.json", bundle(patient("1", mrn="M-7"), weight("w", "Patient/1", 70)))
    write(tmp_path / "b.json", bundle(patient("x9", mrn="M-7"),
                                      project_obs("e", "Patient/x9", "disease-extent",
                                                  "metastatic")))
    (item,) = read_paths([tmp_path])
    assert item.id == "1" and item.record.diagnosis.extent == "metastatic"
    assert [o.value for o in item.record.observations] == ["70"]


def test_the_same_person_with_two_sexes_is_an_error_naming_both_sources(tmp_path):
    write(tmp_path / "a.json", bundle(patient("1", mrn="M-7")))
    write(tmp_path / "b.json", bundle(patient("x9", "female", mrn="M-7")))
    (error,) = read_paths([tmp_path])
    assert isinstance(error, Exception)
    assert "a.json" in error.detail and "b.json" in error.detail and "sex" in error.detail


def test_contradictory_single_valued_observations_are_an_error(tmp_path):
    write(tmp_path / "a.json", bundle(
        patient("1"), project_obs("e1", "Patient/1", "disease-extent", "metastatic"),
        project_obs("e2", "Patient/1", "disease-extent", "localised")))
    (error,) = read_paths([tmp_path])
    assert isinstance(error, Exception) and error.record == "1"
    assert "Observation/e1" in error.detail and "Observation/e2" in error.detail


def test_another_servers_patient_is_not_the_local_one(tmp_path):
    obs = weight("w", "http://other.example.org/fhir/Patient/1", 90)
    write(tmp_path / "a.json", bundle(patient("1"), obs, base="http://here.example.org/fhir"))
    result = screen([tmp_path], as_of="2026-11-20")
    assert weights_of(result) == {"1": ""} and result.errors == []
    (note,) = result.notes  # read, named, not screened: beside a screened patient, a note
    assert "not in the input" in note.message and "Observation/w" in note.message


def test_a_relative_reference_resolves_against_the_entrys_fullurl(tmp_path):
    write(tmp_path / "a.json", bundle(patient("1"), weight("w", "Patient/1", 70),
                                      base="http://here.example.org/fhir"))
    (item,) = read_paths([tmp_path])
    assert [o.value for o in item.record.observations] == ["70"]


def test_a_bulk_export_folder_joins_its_files(tmp_path):
    (tmp_path / "Patient.ndjson").write_text(json.dumps(patient("p1")) + "\n")
    (tmp_path / "Observation.ndjson").write_text(json.dumps(weight("w", "Patient/p1", 70)) + "\n")
    (item,) = read_paths([tmp_path])
    assert item.id == "p1" and [o.value for o in item.record.observations] == ["70"]


def test_exports_in_two_folders_do_not_join(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "Patient.ndjson").write_text(json.dumps(patient("p1")) + "\n")
    (tmp_path / "two" / "Observation.ndjson").write_text(
        json.dumps(weight("w", "Patient/p1", 70)) + "\n")
    notes: list = []
    items = list(read_paths([tmp_path], on_note=notes.append))
    (person,) = items
    assert person.record.observations == [] and len(notes) == 1


def test_a_fhir_file_with_no_patient_is_an_error_not_a_silent_success(tmp_path):
    write(tmp_path / "labs.json", bundle(weight("w1", "Patient/p1", 70),
                                         weight("w2", "Patient/p1", 71)))
    result = screen([tmp_path], as_of="2026-11-20")
    assert result.patients == []
    (error,) = result.errors
    assert error.source.endswith("labs.json") and "2 resource(s)" in error.message


def test_transaction_response_entries_without_a_resource_are_valid(tmp_path):
    data = bundle(patient("1"))
    data["type"] = "transaction-response"
    data["entry"].append({"response": {"status": "201 Created",
                                       "location": "Patient/2/_history/1"}})
    write(tmp_path / "r.json", data)
    result = screen([tmp_path], as_of="2026-11-20")
    assert result.errors == [] and [p.id for p in result.patients] == ["1"]
