"""One minimal FHIR case per class of issue 20, each screened beside its JSON twin.

tests/data/fhir/classes/index.json lists the classes: each adds a few resources (the file of
the same name, shaped on the public example named in ``source``) to an example patient
(``base``, examples/fhir/) and says how the same patient reads as the project's JSON record
(``twin``: examples/patients/ with those changes) and which outcomes the class decides
(``expect``). The FHIR reading and the JSON twin must give the same outcome on every one of the
28 criteria: FHIR is another way of reading the same patient.

Layouts: ``collection`` adds the resources to the example's Bundle (a resource with the id of
one of the example's replaces it); ``history`` makes the example a history Bundle and adds
versions; ``beside`` puts the class's Bundle in a file of its own next to the example's.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ql1706kg.api import screen

ROOT = Path(__file__).resolve().parents[1]
CLASSES = Path(__file__).parent / "data" / "fhir" / "classes"
CASES = json.loads((CLASSES / "index.json").read_text(encoding="utf-8"))
AS_OF = "2026-11-20"


def _patient_reference(base: dict) -> str:
    first = base["entry"][0]
    url = first.get("fullUrl", "")
    return url if url.startswith("urn:") else f"Patient/{first['resource']['id']}"


def _fill(value: object, patient: str, base: dict) -> object:
    """Placeholders: '{patient}' is the example's patient reference; '{base:id|k=v...}' is a
    copy of the example's resource of that id, with meta.versionId or top-level elements set."""
    if isinstance(value, dict):
        return {k: _fill(v, patient, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, patient, base) for v in value]
    if value == "{patient}":
        return patient
    if isinstance(value, str) and value.startswith("{base:"):
        rid, *changes = value[6:-1].split("|")
        resource = copy.deepcopy(next(e["resource"] for e in base["entry"]
                                      if e["resource"]["id"] == rid))
        for change in changes:
            key, _, text = change.partition("=")
            if key == "versionId":
                resource["meta"] = {**resource.get("meta", {}), "versionId": text}
            else:
                resource[key] = text
        return resource
    return value


def fhir_case(case: dict, folder: Path) -> Path:
    base = json.loads((ROOT / "examples" / "fhir" / f"{case['base']}.json").read_text())
    overlay = _fill(json.loads((CLASSES / f"{case['class']}.json").read_text()),
                    _patient_reference(base), base)
    folder.mkdir(parents=True, exist_ok=True)
    if case["layout"] == "beside":
        (folder / "patient.json").write_text(json.dumps(base))
        (folder / "class.json").write_text(json.dumps(overlay))
        return folder
    added = {(e["resource"]["resourceType"], e["resource"]["id"])
             for e in overlay["entry"] if isinstance(e.get("resource"), dict)}
    kept = [e for e in base["entry"] if (e["resource"]["resourceType"], e["resource"]["id"])
            not in added]
    entries = []
    for item in overlay["entry"]:
        resource = item.get("resource")
        if isinstance(resource, dict) and "fullUrl" not in item:
            prefix = base["entry"][0]["fullUrl"].rsplit("/", 2)[0]
            item = {"fullUrl": (f"urn:uuid:00000000-0000-4000-8000-{abs(hash(resource['id'])):012d}"
                                [:45] if prefix.startswith("urn:") else
                                f"{prefix}/{resource['resourceType']}/{resource['id']}"), **item}
        entries.append(item)
    bundle = {**base, "type": case["layout"], "entry": kept + entries}
    (folder / "patient.json").write_text(json.dumps(bundle))
    return folder


def json_twin(case: dict) -> dict:
    rec = json.loads((ROOT / "examples" / "patients" / f"{case['base']}.json").read_text())
    for key, value in case["twin"].items():
        if key == "observations_add":
            rec["observations"] += value
        elif key == "observations_drop":
            rec["observations"] = [o for o in rec["observations"] if o["test"] not in value]
        elif key == "diagnosis_add":
            rec["diagnosis"] = {**rec["diagnosis"], **value}
        elif key == "set_aside":
            rec["set_aside"] = [{"source": "twin.json", **item} for item in value]
        elif value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


def outcomes(result) -> dict[str, str]:
    assert not result.errors, [str(e) for e in result.errors]
    (patient,) = result.patients
    assert len(patient.criteria) == 28
    return {c.id: c.outcome for c in patient.criteria}


@pytest.mark.parametrize("case", CASES, ids=[c["class"] for c in CASES])
def test_the_fhir_case_screens_as_its_json_twin(case, tmp_path):
    from_fhir = outcomes(screen([fhir_case(case, tmp_path / "fhir")], as_of=AS_OF))
    from_json = outcomes(screen([json_twin(case)], as_of=AS_OF))
    assert from_fhir == from_json
    for criterion, outcome in case["expect"].items():
        assert from_fhir[criterion] == outcome, criterion
    assert "eligible" not in from_fhir.values()


# -- versions and files ------------------------------------------------------------------------

R5 = Path(__file__).parent / "data" / "fhir-issue20" / "hl7.fhir.r5.examples"


def test_an_r5_bundle_is_one_error_and_its_patient_is_not_screened(tmp_path):
    """R5 examples (Patient example, MedicationStatement example001 whose subject is
    Patient/pat1, made Patient/example here by the Bundle) as one collection Bundle: one error
    for the file (not one per element), the patient an error entry, nothing screened as R4."""
    patient = json.loads((R5 / "Patient-example.json").read_text())
    statement = json.loads((R5 / "MedicationStatement-example001.json").read_text())
    statement["subject"] = {"reference": "Patient/example"}
    (tmp_path / "r5.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                  "entry": [{"resource": patient},
                                                            {"resource": statement}]}))
    result = screen([tmp_path], as_of=AS_OF)
    assert result.patients == []
    messages = [str(e) for e in result.errors]
    assert len(messages) == 2, messages
    assert "FHIR R5" in messages[0] and "MedicationStatement.medication" in messages[0]
    assert "not screened" in messages[1]


def test_r5_resources_beside_an_r4_patient_are_set_aside_for_them(tmp_path):
    """A bulk export whose MedicationStatements are R5 (adherence, medication.concept): the
    file is one error, and the patient the statement names cannot be met on what it hides."""
    base = json.loads((ROOT / "examples" / "fhir" / "eligible-leiomyosarcoma.json").read_text())
    lines: dict[str, list[str]] = {}
    for item in base["entry"]:
        lines.setdefault(item["resource"]["resourceType"], []).append(
            json.dumps(item["resource"]))
    statement = json.loads((R5 / "MedicationStatement-example001.json").read_text())
    statement["subject"] = {"reference": "Patient/QL-LMS-001"}
    statement["medication"] = {"concept": {"text": "filgrastim"}}
    statement["effectiveDateTime"] = "2026-11-10"
    lines["MedicationStatement"] = [json.dumps(statement)]
    for kind, text in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(text) + "\n")
    result = screen([tmp_path], as_of=AS_OF)
    assert [e.field for e in result.errors] == ["FHIR version"]
    (patient,) = result.patients
    assert patient.verdict != "eligible"
    from ql1706kg.inputs.read import read_paths

    (record,) = [i for i in read_paths([tmp_path], validate=False) if hasattr(i, "raw")]
    assert [s["section"] for s in record.raw["set_aside"]] == ["supportive_care"]


def test_package_manifests_and_documents_that_are_no_records_are_skipped_with_a_note(tmp_path):
    base = ROOT / "examples" / "fhir" / "eligible-leiomyosarcoma.json"
    (tmp_path / "patient.json").write_bytes(base.read_bytes())
    (tmp_path / "package.json").write_text(json.dumps(
        {"name": "my.fhir.export", "version": "1.0.0", "fhirVersions": ["4.0.1"]}))
    (tmp_path / ".index.json").write_text(json.dumps({"index-version": 2, "files": []}))
    (tmp_path / "run-log.json").write_text(json.dumps({"level": "info", "msg": "exported"}))
    result = screen([tmp_path], as_of=AS_OF)
    assert not result.errors
    assert [p.id for p in result.patients] == ["QL-LMS-001"]
    skipped = sorted(Path(n.source).name for n in result.notes if "skipped" in str(n))
    assert skipped == [".index.json", "package.json", "run-log.json"]


# -- references ----------------------------------------------------------------------------------

def _records(folder: Path) -> dict[str, dict]:
    from ql1706kg.inputs.read import read_paths

    return {i.raw["id"]: i.raw for i in read_paths([folder], validate=False) if hasattr(i, "raw")}


def test_a_logical_reference_ties_a_resource_to_the_patient_with_that_identifier(tmp_path):
    """subject.identifier (no literal reference): the Patient of the input whose identifier
    has that system and value; an identifier of use 'old' is never matched."""
    system = "urn:oid:1.2.36.146.595.217.0.1"
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male",
               "identifier": [{"system": system, "value": "12345"},
                              {"use": "old", "system": system, "value": "999"}]}
    ldl = {"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "1920-8"}]},
           "effectiveDateTime": "2026-11-13", "valueQuantity": {"value": 20, "unit": "U/L"}}
    by_identifier = {**ldl, "id": "a", "subject": {"identifier": {"system": system,
                                                                 "value": "12345"}}}
    by_old = {**ldl, "id": "b", "subject": {"identifier": {"system": system, "value": "999"}}}
    lines = [json.dumps(r) for r in (by_identifier, by_old)]
    (tmp_path / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    (tmp_path / "Observation.ndjson").write_text("\n".join(lines) + "\n")
    record = _records(tmp_path)["P1"]
    assert [o["value"] for o in record["observations"]] == ["20"]
    assert "set_aside" not in record  # the old identifier names someone else: an orphan


def test_a_versioned_reference_names_the_resource(tmp_path):
    base = json.loads((ROOT / "examples" / "fhir" / "eligible-leiomyosarcoma.json").read_text())
    ast = next(e for e in base["entry"] if e["resource"]["id"] == "ql-lms-001-observation-22")
    ast["resource"]["subject"] = {"reference": "Patient/QL-LMS-001/_history/3"}
    (tmp_path / "b.json").write_text(json.dumps(base))
    record = _records(tmp_path)["QL-LMS-001"]
    assert any(o["test"]["code"] == "1920-8" for o in record["observations"])


# -- the record side's fixtures, read back from FHIR ----------------------------------------------

ISSUE20 = sorted((Path(__file__).parent / "data" / "issue20").glob("*.json"))


@pytest.mark.parametrize("path", ISSUE20, ids=[p.stem for p in ISSUE20])
def test_each_issue20_record_and_its_fhir_twin_give_the_same_28_outcomes(path, tmp_path):
    """tests/data/issue20 (one record per class, the record side's) written as FHIR by
    inputs/fhir_write.py (bounds as Quantity.comparator, courses as Periods and statuses,
    resolutions as clinicalStatus and abatement, pregnancies as Conditions, facts set aside as
    resources with a modifier extension) and read back."""
    from ql1706kg.inputs.fhir_write import to_bundle

    record = json.loads(path.read_text(encoding="utf-8"))
    (tmp_path / "b.json").write_text(json.dumps(to_bundle(record, "relative")))
    assert outcomes(screen([tmp_path], as_of=AS_OF)) == outcomes(screen([record], as_of=AS_OF))
