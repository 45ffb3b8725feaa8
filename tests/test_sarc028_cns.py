"""SARC028's IN12.2-IN12.4 at their boundaries (criteria.md IN12, R10): S28-21 (treated, stable
brain metastasis: all three met) varied one fact at a time, as JSON records, all screened in
one run. S = 2027-03-01 (ICF), A = 2027-03-15, F = 2027-03-16 (Day 1).

- IN12.2: the latest CNS event (treatment end, CNS metastasis onset, progression) at least 28
  days before S: exactly 28 met, 27 not met, 29 met; an undated treatment, unknown; an active
  CNS metastasis counts on its onset.
- IN12.3: the most recent brain imaging after the last CNS-directed treatment (a window
  anchored on another selection): the day after met/not met by its value, the same day
  unknown (order not known), only before the treatment unknown, undated unknown.
- IN12.4: every systemic corticosteroid ended at least 7 days before F: 7 met, 6 not met, 8
  met; undated unknown; current at EX15's physiologic dose unknown (R10), above it not met;
  none and the list recorded empty met, no list unknown; without F, decided only when the
  steroid ended at least 7 days before A.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
BASE = json.loads((FOLDER / "records" / "eligible-treated-stable-brain-metastasis.json")
                  .read_text())
SCREEN = {"system": "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"}


def _fact(record: dict, kind: str) -> dict:
    return next(f for f in record["facts"] if f["kind"] == kind)


def _therapy_on(day: str | None):
    def change(record: dict) -> None:
        fact = _fact(record, "cns-directed-therapy")
        if day is None:
            del fact["date"]
        else:
            fact["date"] = day
    return change


def _metastasis_found(day: str):
    def change(record: dict) -> None:
        _fact(record, "cns-metastasis")["date"] = day
    return change


def _lung_metastasis_found(day: str):
    return lambda record: record["metastases"].append({"site": "lung", "date": day})


def _progression_on(day: str, value: bool):
    return lambda record: record["facts"].append(
        {"kind": "cns-disease-progression", "code": SCREEN | {"code": "cns-disease-progression"},
         "value": value, "date": day, "status": "final"})


def _imaging(*dated: tuple[str | None, bool]):
    def change(record: dict) -> None:
        record["facts"] = [f for f in record["facts"]
                           if f["kind"] != "new-or-enlarging-brain-metastases"]
        for day, value in dated:
            fact = {"kind": "new-or-enlarging-brain-metastases", "value": value,
                    "code": SCREEN | {"code": "new-or-enlarging-brain-metastases"},
                    "status": "final"}
            record["facts"].append(fact | ({"date": day} if day else {}))
    return change


def _steroid_ended(day: str | None):
    def change(record: dict) -> None:
        fact = _fact(record, "systemic-corticosteroid")
        if day is None:
            del fact["date"], fact["end"]
        else:
            fact["end"] = day
    return change


def _steroid_current(mg: int):
    def change(record: dict) -> None:
        fact = _fact(record, "systemic-corticosteroid")
        del fact["end"]
        fact |= {"status": "active", "code": {"system": "http://www.whocc.no/atc",
                                              "code": "H02AB07"}}
        dose = fact["dosage"][0]
        dose["timing"]["repeat"] |= {"frequency": 1, "when": ["MORN"]}
        dose["doseAndRate"][0]["doseQuantity"]["value"] = mg
        dose["text"] = f"prednisone {mg} mg every morning"
    return change


def _no_steroid(listed: bool):
    def change(record: dict) -> None:
        record["facts"] = [f for f in record["facts"] if f["kind"] != "systemic-corticosteroid"]
        if not listed:
            record["facts_complete"].remove("systemic-corticosteroid")
    return change


def _no_first_dose(ended: str):
    def change(record: dict) -> None:
        record["facts"] = [f for f in record["facts"] if f["kind"] != "first-dose"]
        _steroid_ended(ended)(record)
    return change


# variant -> (change, criterion, expected outcome)
CASES = {
    "in12.2-exactly-28-days": (_therapy_on("2027-02-01"), "IN12.2", "met"),
    "in12.2-27-days": (_therapy_on("2027-02-02"), "IN12.2", "not_met"),
    "in12.2-29-days": (_therapy_on("2027-01-31"), "IN12.2", "met"),
    "in12.2-therapy-undated": (_therapy_on(None), "IN12.2", "unknown"),
    # an active CNS metastasis counts on its onset (ql:windowOnStart), not on A
    "in12.2-metastasis-found-27-days": (_metastasis_found("2027-02-02"), "IN12.2", "not_met"),
    "in12.2-metastasis-found-28-days": (_metastasis_found("2027-02-01"), "IN12.2", "met"),
    # a metastasis whose site is given in words: it may be CNS progression, never met
    "in12.2-metastasis-in-words-27-days": (_lung_metastasis_found("2027-02-02"), "IN12.2",
                                           "unknown"),
    "in12.2-metastasis-in-words-28-days": (_lung_metastasis_found("2027-02-01"), "IN12.2",
                                           "met"),
    "in12.2-progression-27-days": (_progression_on("2027-02-02", True), "IN12.2", "not_met"),
    "in12.2-no-progression-27-days": (_progression_on("2027-02-02", False), "IN12.2", "met"),
    "in12.3-day-after-stable": (_imaging(("2026-12-11", False)), "IN12.3", "met"),
    "in12.3-day-after-new": (_imaging(("2026-12-11", True)), "IN12.3", "not_met"),
    "in12.3-same-day": (_imaging(("2026-12-10", False)), "IN12.3", "unknown"),
    "in12.3-only-before": (_imaging(("2026-12-09", False)), "IN12.3", "unknown"),
    "in12.3-new-before-stable-after": (_imaging(("2026-11-20", True), ("2027-02-20", False)),
                                       "IN12.3", "met"),
    "in12.3-undated": (_imaging((None, False)), "IN12.3", "unknown"),
    "in12.3-therapy-undated": (_therapy_on(None), "IN12.3", "unknown"),
    "in12.4-exactly-7-days": (_steroid_ended("2027-03-09"), "IN12.4", "met"),
    "in12.4-6-days": (_steroid_ended("2027-03-10"), "IN12.4", "not_met"),
    "in12.4-8-days": (_steroid_ended("2027-03-08"), "IN12.4", "met"),
    "in12.4-undated": (_steroid_ended(None), "IN12.4", "unknown"),
    "in12.4-physiologic-current": (_steroid_current(5), "IN12.4", "unknown"),
    "in12.4-above-physiologic-current": (_steroid_current(10), "IN12.4", "not_met"),
    "in12.4-never-list-empty": (_no_steroid(True), "IN12.4", "met"),
    "in12.4-never-no-list": (_no_steroid(False), "IN12.4", "unknown"),
    "in12.4-no-day1-ended-7-days-before-a": (_no_first_dose("2027-03-08"), "IN12.4", "met"),
    "in12.4-no-day1-ended-6-days-before-a": (_no_first_dose("2027-03-09"), "IN12.4", "unknown"),
}


@pytest.fixture(scope="module")
def screened(tmp_path_factory) -> dict[str, dict[str, dict]]:
    folder = tmp_path_factory.mktemp("in12")
    for name, (change, _cid, _want) in CASES.items():
        record = copy.deepcopy(BASE) | {"id": name}
        change(record)
        (folder / f"{name}.json").write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["screen", str(folder), "--protocol", str(FOLDER),
                                       "--as-of", "2027-03-15", "--format", "json"])
    return {p["id"]: {c["id"]: c for c in p["criteria"]}
            for p in json.loads(result.stdout)["patients"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_in12_boundaries(screened, name):
    _change, cid, want = CASES[name]
    assert screened[name][cid]["outcome"] == want, screened[name][cid]["explanation"]


def test_an_undecided_date_is_named(screened):
    """An unknown outcome says which fact could not be placed, and why."""
    said = screened["in12.3-same-day"]["IN12.3"]["explanation"]
    assert "the day of" in said or "cannot be decided" in said, said
    assert "no date" in screened["in12.4-undated"]["IN12.4"]["explanation"] or \
        "cannot be decided" in screened["in12.4-undated"]["IN12.4"]["explanation"]
