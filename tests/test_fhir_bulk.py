"""FHIR bulk exports in bounded memory: the on-disk index, persons assembled where screened.

Resources are indexed in a private temporary folder as they are read, and the folder goes at
the end of the run whatever happens (done, an error, Ctrl-C). The parent of a parallel
screening sends person numbers, never resources, and every way of reading gives the same
records. Only the resources a criterion can use are checked against the FHIR models; the
others are still read and reported.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.inputs.fhir import FhirPerson, Workspace
from ql1706kg.inputs.fhir_write import to_bundle
from ql1706kg.inputs.read import read_paths
from ql1706kg.inputs.records import SourcedRecord
from ql1706kg.inputs.synthetic import patients

from .conftest import terminal_signals

AS_OF = "2026-11-20"
LOINC = "http://loinc.org"


def bulk_export(folder: Path, n: int, seed: int = 5) -> Path:
    """``n`` generated patients as an NDJSON bulk export, one file per resource type."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {}
    for record in patients(n, seed=seed):
        for entry in to_bundle(record, "relative")["entry"]:
            resource = entry["resource"]
            lines.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, text in lines.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(text) + "\n")
    return folder


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """The folder temporary folders are made in, for this test only."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def outcomes(result) -> list:
    return [(p.id, p.source, p.verdict, [(c.id, c.outcome, c.explanation) for c in p.criteria])
            for p in result.patients]


# -- the index's folder goes at the end, whatever happens ----------------------------------------

def test_the_index_folder_is_removed_after_screening_and_lifting(tmp_path, scratch):
    export = bulk_export(tmp_path / "export", 8)
    assert len(screen([export], as_of=AS_OF, jobs=2).patients) == 8
    assert leftovers(scratch) == []
    report: list = []
    assert len(list(read_paths([export], fhir_report=report))) == 8
    assert report and leftovers(scratch) == []


def test_the_index_folder_is_removed_when_the_reader_is_left_half_way(tmp_path, scratch):
    export = bulk_export(tmp_path / "export", 4)
    items = read_paths([export])
    next(items)
    assert [p.name.startswith("ql1706kg-fhir-") for p in scratch.iterdir()] == [True]
    items.close()
    assert leftovers(scratch) == []


def test_the_index_folder_is_removed_on_an_error_while_screening(tmp_path, scratch):
    from ql1706kg.api import assessment_for, iter_screen

    export = bulk_export(tmp_path / "export", 120)
    results = iter_screen([export], assessment_for(AS_OF), jobs=2)
    next(results)
    with pytest.raises(RuntimeError):
        results.throw(RuntimeError("the consumer failed"))
    assert leftovers(scratch) == []


def test_ctrl_c_removes_the_index_folder(tmp_path):
    """The CLI interrupted while screening a bulk export in worker processes: exit 130, and
    nothing is left in the temporary folder."""
    export = bulk_export(tmp_path / "export", 2000)  # ~5 s of screening: Ctrl-C lands mid-run
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "ql1706kg.cli", "screen", str(export),
                             "--as-of", AS_OF, "--jobs", "2", "--quiet", "--format", "ndjson",
                             "-o", str(tmp_path / "out.ndjson")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=terminal_signals)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in tmp_path.glob(".out.ndjson.*.tmp")):
        assert proc.poll() is None, proc.stderr.read().decode()  # still screening
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert any(scratch.iterdir())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert leftovers(scratch) == []


# -- the parent sends person numbers; every way of reading gives the same records ----------------

def test_the_parent_yields_person_numbers_not_resources(tmp_path):
    export = bulk_export(tmp_path / "export", 6)
    with Workspace() as workspace:
        items = list(read_paths([export], validate=False, fhir_workspace=workspace))
        assert all(isinstance(item, FhirPerson) for item in items) and len(items) == 6
        assert max(len(pickle.dumps(item)) for item in items) < 400
        assembled = [item.assemble()[-1].parse().record for item in items]
    assert assembled == [item.record for item in read_paths([export])
                         if isinstance(item, SourcedRecord)]


def test_a_bulk_export_screens_the_same_in_worker_processes_and_in_one(tmp_path):
    export = bulk_export(tmp_path / "export", 130, seed=9)
    one = screen([export], as_of=AS_OF, jobs=1, keep_graphs=False)
    two = screen([export], as_of=AS_OF, jobs=2, keep_graphs=False)
    assert len(one.patients) + len(one.errors) == 130
    assert outcomes(one) == outcomes(two)
    assert [e.as_dict() for e in one.errors] == [e.as_dict() for e in two.errors]
    records = screen(list(patients(130, seed=9)), as_of=AS_OF, keep_graphs=False)
    assert [(p.id, p.verdict) for p in one.patients] == [(p.id, p.verdict)
                                                        for p in records.patients]


def test_a_folder_of_many_bundles_is_indexed_the_same_way(tmp_path):
    folder = tmp_path / "bundles"
    folder.mkdir()
    for number, record in enumerate(patients(60, seed=3)):
        style = "uuid" if number % 2 else "relative"
        (folder / f"p{number:03d}.json").write_text(json.dumps(to_bundle(record, style)))
    one = screen([folder], as_of=AS_OF, jobs=1, keep_graphs=False)
    two = screen([folder], as_of=AS_OF, jobs=2, keep_graphs=False)
    assert outcomes(one) == outcomes(two) and len(one.patients) + len(one.errors) == 60


# -- which resources are checked against the FHIR models ----------------------------------------

def observation(oid: str, code: str, **extra) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": "Patient/P1"}, "effectiveDateTime": "2026-11-12",
            **extra}


def test_only_resources_a_criterion_can_use_are_checked_against_their_models(tmp_path):
    """A heart rate (no criterion reads it) with an element its model refuses is read and
    ignored as a test the protocol does not use; a haemoglobin with the same fault is an error
    naming the element, as before."""
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male",
               "birthDate": "1960-01-01"}
    bad = {"valueQuantity": {"value": "lots", "unit": "g/L"}}
    heart = observation("hr", "8867-4", **bad)
    haemoglobin = observation("hb", "718-7", **bad)
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    (export / "Observation.ndjson").write_text(json.dumps(heart) + "\n"
                                               + json.dumps(haemoglobin) + "\n")
    report: list = []
    items = list(read_paths([export], fhir_report=report))
    errors = [item for item in items if isinstance(item, Exception)]
    assert [(e.record, e.field) for e in errors] == [("Observation/hb",
                                                      "Observation.valueQuantity.value")]
    lines = {line.resource: line for line in report}
    assert lines["Observation/hr"].reason == "not a test the protocol uses"
    # malformed, and what it would have given is set aside (never read as if absent)
    assert lines["Observation/hb"].reason.startswith("set aside: malformed: ")
    assert "haemoglobin" in lines["Observation/hb"].reason
    assert len(report) == 3


def test_a_resource_no_criterion_reads_that_trips_the_reader_is_checked_after_all(tmp_path):
    """A component that is not an object: the reader cannot go on, so the resource is checked
    against its model, and reported as malformed (not as an internal error)."""
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male",
               "birthDate": "1960-01-01"}
    odd = observation("hr", "8867-4", component=[7])
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient}, {"resource": odd}]}
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    result = screen([tmp_path], as_of=AS_OF)
    assert [p.id for p in result.patients] == ["P1"]
    (error,) = result.errors
    assert error.record == "Observation/hr" and "internal" not in error.message


def test_a_reference_names_the_first_well_formed_of_two_resources_with_one_id(tmp_path):
    """Two Medication/m1 in one export, the first malformed: the request reads the second,
    as the in-memory pool did (a malformed resource was never in it)."""
    patient = {"resourceType": "Patient", "id": "P1", "gender": "female",
               "birthDate": "1970-01-01"}
    broken = {"resourceType": "Medication", "id": "m1", "code": {"coding": "doxorubicin"}}
    medication = {"resourceType": "Medication", "id": "m1",
                  "code": {"text": "doxorubicin"}}
    request = {"resourceType": "MedicationStatement", "id": "s1", "status": "completed",
               "subject": {"reference": "Patient/P1"},
               "medicationReference": {"reference": "Medication/m1"},
               "effectivePeriod": {"start": "2025-01-01", "end": "2025-06-01"}}
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    (export / "Medication.ndjson").write_text(json.dumps(broken) + "\n"
                                              + json.dumps(medication) + "\n")
    (export / "MedicationStatement.ndjson").write_text(json.dumps(request) + "\n")
    items = list(read_paths([export]))
    (record,) = [item.record for item in items if isinstance(item, SourcedRecord)]
    assert [t.name for t in record.prior_therapies] == ["doxorubicin"]
    assert [e.record for e in items if isinstance(e, Exception)] == ["Medication/m1"]


def test_text_that_sqlite_refuses_is_kept_as_written(tmp_path):
    """A lone surrogate (valid as a JSON escape) in the id and the fullUrl of a resource no
    criterion reads (so it is not checked against its model)."""
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male",
               "birthDate": "1960-01-01"}
    heart = observation("hr\ud800", "8867-4", valueQuantity={"value": 70, "unit": "/min"})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://x/fhir/Patient/P1", "resource": patient},
        {"fullUrl": "http://x/fhir/Observation/hr\ud800", "resource": heart}]}
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    report: list = []
    items = list(read_paths([tmp_path], fhir_report=report))
    assert [item.record.id for item in items] == ["P1"]
    line = {line.resource: line for line in report}["Observation/hr\ud800"]
    assert (line.patient, line.reason) == ("P1", "not a test the protocol uses")
