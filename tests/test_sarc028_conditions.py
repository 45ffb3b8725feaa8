"""SARC028's composed criteria at their boundaries, one screening of generated JSON records
(examples/protocols/sarc028/ontology/sarc028-conditions.ttl): IN1's age limit chosen by the
bone-sarcoma group (exactly 12 and 18, one day either side, a histology not otherwise
specified, a birth year only), and IN10.1's childbearing potential by the final menstrual
period (a ql:windowOnValue selection of 730 days before the assessment date); and IN12.1 and
EX13 from a FHIR List whose one member was not done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
OSTEO = "eligible-osteosarcoma-14-year-old.json"  # ICF 2027-03-01, osteosarcoma
LMS = "ineligible-leiomyosarcoma-13-year-old.json"  # ICF 2027-03-01, leiomyosarcoma 8890/3
WOMAN = "eligible-dedifferentiated-chondrosarcoma-adult.json"  # female, 66 (fertility: replaced)
TREATED = "eligible-treated-stable-brain-metastasis.json"  # S28-21, FHIR

# id -> (base record, changes, criterion, expected outcome)
CASES = {
    "bone-12": (OSTEO, {"birth_date": "2015-03-01"}, "IN1", "met"),
    "bone-12-less-a-day": (OSTEO, {"birth_date": "2015-03-02"}, "IN1", "not_met"),
    "lms-18": (LMS, {"birth_date": "2009-03-01"}, "IN1", "met"),
    "lms-18-less-a-day": (LMS, {"birth_date": "2009-03-02"}, "IN1", "not_met"),
    "lms-born-2009": (LMS, {"birth_date": "2009"}, "IN1", "unknown"),  # 17 or 18
    "bone-born-2013": (OSTEO, {"birth_date": "2013"}, "IN1", "met"),  # 13 or 14: both >= 12
    "sarcoma-nos-14": (LMS, {"birth_date": "2012-06-01", "diagnosis": {
        "histology": {"system": "ICD-O-3", "code": "8800/3"}, "date": "2026-01-05"}},
        "IN1", "unknown"),
    "fmp-730-days": (WOMAN, {"fmp": "2025-03-15"}, "IN10.1", "not_met"),
    "fmp-731-days": (WOMAN, {"fmp": "2025-03-14"}, "IN10.1", "not_applicable"),
    "fmp-none": (WOMAN, {"fmp": None}, "IN10.1", "unknown"),
    "premenopausal": (WOMAN, {"status": "premenopausal"}, "IN10.1", "not_met"),
}


def _record(base: str, changes: dict, pid: str) -> dict:
    record = json.loads((FOLDER / "records" / base).read_text()) | {"id": pid}
    fmp, status = changes.pop("fmp", False), changes.pop("status", "postmenopausal")
    record.update(changes)
    if record["sex"] == "female":  # IN10.1 applies: not_met (she does not agree)
        record["reproductive"] = {"contraception_agreed": False}
        record["facts"] = [f for f in record["facts"] if f["kind"] not in (
            "menopausal-status", "final-menstrual-period")]  # the case's own, below
        record["facts"] += [{"kind": "menopausal-status", "value": status,
                             "date": "2027-03-10"}]
        if fmp:
            record["facts"] += [{"kind": "final-menstrual-period", "value": fmp,
                                 "date": "2027-03-10"}]
    return record


def _not_done_bundle() -> dict:
    """S28-21's FHIR bundle with its brain radiosurgery (the one member of its
    cns-directed-therapy List) not done."""
    bundle = json.loads((FOLDER / "patients" / TREATED).read_text())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = resource["id"] = "fhir-not-done"
        if resource["resourceType"] == "Procedure":
            resource["status"] = "not-done"
    return bundle


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict[str, str]]:
    folder = tmp_path_factory.mktemp("sarc028-cases")
    for pid, (base, changes, _cid, _want) in CASES.items():
        (folder / f"{pid}.json").write_text(json.dumps(_record(base, dict(changes), pid)))
    (folder / "fhir-not-done.json").write_text(json.dumps(_not_done_bundle()))
    result = CliRunner().invoke(main, ["screen", str(folder), "--protocol", str(FOLDER),
                                       "--as-of", "2027-03-15", "--format", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    return {p["id"]: {c["id"]: c["outcome"] for c in p["criteria"]}
            for p in json.loads(result.stdout)["patients"]}


@pytest.mark.parametrize("pid", sorted(CASES))
def test_boundaries(outcomes, pid):
    _base, _changes, cid, want = CASES[pid]
    assert outcomes[pid][cid] == want


def test_a_list_member_not_done_is_no_treatment(outcomes):
    """The List says these are all the CNS-directed therapies, and its one member was not
    done: untreated (S28-21 as recorded is met on both)."""
    assert outcomes["fhir-not-done"]["IN12.1"] == "not_met"
    assert outcomes["fhir-not-done"]["EX13"] == "not_met"
