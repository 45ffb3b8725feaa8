"""Doses in equivalents of a reference drug (protocol/equivalents.py, pipeline/dosage.py,
derive/doses.py), through SARC028's EX15: the boundary table (exactly at each limit of the
text, one unit either side, in hydrocortisone and in prednisone, morning, evening, unscheduled;
ranges, as needed, routes, missing elements, statuses) screened end to end in one run from JSON
records, and a Hypothesis property of the FHIR R4 Dosage reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from ql1706kg.cli import main
from ql1706kg.inputs.fhir.dosage import dosage_lines
from ql1706kg.pipeline.dosage import read_dosage
from ql1706kg.protocol.equivalents import build_doses

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
BASE = "eligible-lms-adult-three-metastatic-lines.json"  # S28-01: EX15 met, lists complete
ATC = "http://www.whocc.no/atc"
HYDROCORTISONE, PREDNISONE, DEXAMETHASONE, BETAMETHASONE = (
    "H02AB09", "H02AB07", "H02AB02", "H02AB01")
ORAL, INHALED, NASAL = "26643006", "447694001", "46713006"


def _qty(value, unit="mg"):
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def line(dose=None, *, when=None, freq=1, period=1, unit="d", route=ORAL, rng=None,
         timing=True, time_of_day=None, code=None, prn=False, max_per_day=None, seq=None,
         dose_unit="mg") -> dict:
    """One R4 Dosage line."""
    out: dict = {}
    if dose is not None:
        out["doseAndRate"] = [{"doseQuantity": _qty(dose, dose_unit)}]
    if rng is not None:
        out["doseAndRate"] = [{"doseRange": {"low": _qty(rng[0]), "high": _qty(rng[1])}}]
    if timing:
        repeat: dict = {"frequency": freq, "period": period, "periodUnit": unit}
        if when:
            repeat["when"] = when
        if time_of_day:
            repeat["timeOfDay"] = time_of_day
        out["timing"] = {"code": {"coding": [{"code": code}]}} if code else {"repeat": repeat}
    if route:
        out["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": route}]}
    if prn:
        out["asNeededBoolean"] = True
    if max_per_day is not None:
        out["maxDosePerPeriod"] = {"numerator": _qty(max_per_day),
                                   "denominator": {"value": 1, "code": "d"}}
    if seq is not None:
        out["sequence"] = seq
    return out


HC, PRED = HYDROCORTISONE, PREDNISONE
# (case, drug ATC, dosage lines, status, end, EX15)
CASES = [
    ("hc-20-morning", HC, [line(20, when=["MORN"])], "active", None, "met"),
    ("hc-19-morning", HC, [line(19, when=["MORN"])], "active", None, "met"),
    ("hc-21-morning", HC, [line(21, when=["MORN"])], "active", None, "not_met"),
    ("hc-10-evening", HC, [line(10, when=["EVE"])], "active", None, "met"),
    ("hc-9-evening", HC, [line(9, when=["EVE"])], "active", None, "met"),
    ("hc-11-evening", HC, [line(11, when=["EVE"])], "active", None, "not_met"),
    ("hc-20-8am", HC, [line(20, time_of_day=["08:00:00"], freq=None)], "active", None, "met"),
    ("hc-20-8pm", HC, [line(20, time_of_day=["20:00:00"], freq=None)], "active", None,
     "not_met"),
    ("hc-20-and-10", HC, [line(20, when=["MORN"]), line(10, when=["EVE"])], "active", None,
     "met"),
    ("hc-20-and-11", HC, [line(20, when=["MORN"]), line(11, when=["EVE"])], "active", None,
     "not_met"),
    ("hc-15-twice-named", HC, [line(15, when=["MORN", "EVE"], freq=2)], "active", None,
     "not_met"),
    ("pred-5-morning", PRED, [line(5, when=["MORN"])], "active", None, "met"),
    ("pred-5.25-morning", PRED, [line(5.25, when=["MORN"])], "active", None, "not_met"),
    ("pred-2.5-evening", PRED, [line(2.5, when=["EVE"])], "active", None, "met"),
    ("pred-2.75-evening", PRED, [line(2.75, when=["EVE"])], "active", None, "not_met"),
    ("pred-10-a-day", PRED, [line(10)], "active", None, "not_met"),
    # a once-daily dose at a time not recorded: physiologic within both limits (<= 10),
    # excessive above the larger (> 20), unknown in between
    ("hc-10-a-day", HC, [line(10)], "active", None, "met"),
    ("hc-11-a-day", HC, [line(11)], "active", None, "unknown"),
    ("hc-20-a-day", HC, [line(20)], "active", None, "unknown"),
    ("hc-21-a-day", HC, [line(21)], "active", None, "not_met"),
    ("hc-bid-10", HC, [line(10, code="BID")], "active", None, "unknown"),
    ("hc-range-15-25", HC, [line(rng=(15, 25), when=["MORN"])], "active", None, "unknown"),
    ("hc-range-5-10", HC, [line(rng=(5, 10), when=["MORN"])], "active", None, "met"),
    ("hc-range-25-30", HC, [line(rng=(25, 30), when=["MORN"])], "active", None, "not_met"),
    ("hc-prn-no-max", HC, [line(5, when=["MORN"], prn=True)], "active", None, "unknown"),
    ("hc-prn-max-10", HC, [line(5, when=["MORN"], prn=True, max_per_day=10)], "active",
     None, "met"),
    ("hc-100-inhaled", HC, [line(100, route=INHALED)], "active", None, "met"),
    ("hc-100-nasal", HC, [line(100, route=NASAL)], "active", None, "met"),
    ("hc-100-no-route", HC, [line(100, route=None)], "active", None, "unknown"),
    ("hc-5-no-timing", HC, [line(5, timing=False)], "active", None, "unknown"),
    ("hc-25-no-timing", HC, [line(25, timing=False)], "active", None, "not_met"),
    ("hc-no-dose", HC, [line(None, when=["MORN"])], "active", None, "unknown"),
    ("hc-no-dosage", HC, [], "active", None, "unknown"),
    ("hc-1-tablet", HC, [line(1, when=["MORN"], dose_unit="{tbl}")], "active", None,
     "unknown"),
    ("hc-0.02-g", HC, [line(0.02, when=["MORN"], dose_unit="g")], "active", None, "met"),
    ("pred-taper-40-then-20", PRED, [line(10, when=["MORN"], seq=1),
                                     line(5, when=["MORN"], seq=2)], "active", None,
     "unknown"),
    ("dex-0.5-morning", DEXAMETHASONE, [line(0.5, when=["MORN"])], "active", None, "met"),
    ("dex-1-morning", DEXAMETHASONE, [line(1, when=["MORN"])], "active", None, "not_met"),
    ("beta-no-equivalence", BETAMETHASONE, [line(0.5, when=["MORN"])], "active", None,
     "unknown"),
    ("pred-40-completed", PRED, [line(40, when=["MORN"])], "completed", "2027-01-10", "met"),
    ("pred-40-ended-before", PRED, [line(40, when=["MORN"])], "active", "2027-03-01", "met"),
    ("pred-40-ends-after", PRED, [line(40, when=["MORN"])], "active", "2027-04-01",
     "not_met"),
    ("pred-40-on-hold", PRED, [line(40, when=["MORN"])], "on-hold", None, "unknown"),
]


def _record(base: dict, case: str, atc: str | None, dosage, status, end, *,
            kind="systemic-corticosteroid", complete=True) -> dict:
    record = json.loads(json.dumps(base)) | {"id": case}
    if not complete:
        record["facts_complete"] = [k for k in record["facts_complete"]
                                    if k not in ("systemic-corticosteroid", "immunosuppressant")]
    if atc is not None:
        fact = {"kind": kind, "code": {"system": ATC, "code": atc}, "date": "2026-01-05",
                "status": status}
        if dosage is not None:
            fact["dosage"] = dosage
        if end:
            fact["end"] = end
        record["facts"].append(fact)
    return record


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """EX15 of every case, from one screening of all the records."""
    base = json.loads((FOLDER / "records" / BASE).read_text())
    folder = tmp_path_factory.mktemp("doses")
    records = [_record(base, *case[:5]) for case in CASES]
    records += [
        _record(base, "azathioprine", "L04AX01", None, "active", None, kind="immunosuppressant"),
        _record(base, "azathioprine-stopped", "L04AX01", None, "stopped", "2027-01-01",
                kind="immunosuppressant"),
        _record(base, "nothing-recorded", None, None, None, None, complete=False),
        _record(base, "pred-5-list-missing", PRED, [line(5, when=["MORN"])], "active", None,
                complete=False),
        _record(base, "pred-10-list-missing", PRED, [line(10, when=["MORN"])], "active", None,
                complete=False),
    ]
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["screen", str(folder), "--protocol", str(FOLDER),
                                       "--as-of", "2027-03-15", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return {p["id"]: next(c for c in p["criteria"] if c["id"] == "EX15")
            for p in json.loads(result.stdout)["patients"]}


@pytest.mark.parametrize("case,want", [(c[0], c[5]) for c in CASES] + [
    ("azathioprine", "not_met"), ("azathioprine-stopped", "met"),
    ("nothing-recorded", "unknown"), ("pred-5-list-missing", "unknown"),
    ("pred-10-list-missing", "not_met")])
def test_ex15_boundaries(outcomes, case, want):
    assert outcomes[case]["outcome"] == want, outcomes[case]["explanation"]


def test_what_leaves_the_dose_open_is_named(outcomes):
    assert "no hydrocortisone equivalent is known for" in outcomes["beta-no-equivalence"][
        "explanation"]
    assert "taken as needed, with no maximum" in outcomes["hc-prn-no-max"]["explanation"]
    assert "whether it is still taken is not known" in outcomes["pred-40-on-hold"][
        "explanation"]


# -- the FHIR side: where each resource type keeps its dosage ------------------------------

def test_dosage_lines_of_each_resource_type():
    given = [line(5, when=["MORN"])]
    assert dosage_lines("MedicationStatement", {"dosage": given}) == given
    assert dosage_lines("MedicationRequest", {"dosageInstruction": given}) == given
    assert dosage_lines("MedicationRequest", {"dosage": given}) == []
    administered = dosage_lines("MedicationAdministration", {"dosage": {
        "dose": _qty(40), "route": given[0]["route"]}})
    assert administered == [{"route": given[0]["route"],
                             "doseAndRate": [{"doseQuantity": _qty(40)}]}]
    assert dosage_lines("MedicationAdministration", {"dosage": "x"}) == []


# -- the reader's property -----------------------------------------------------------------

def _kind():
    graph = Graph().parse(FOLDER / "ontology" / "sarc028-doses.ttl")
    (kind,) = build_doses(graph).kinds.values()
    return kind


KIND = _kind()
junk = st.one_of(st.none(), st.booleans(), st.integers(1, 10**6), st.text(max_size=5),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                      st.integers(), max_size=2))
quantity = st.one_of(junk, st.fixed_dictionaries({
    "value": st.one_of(st.decimals("0.01", 1000, places=2).map(float), junk),
    "code": st.sampled_from(["mg", "g", "{tbl}", "mL", "ug"])}))
repeat = st.fixed_dictionaries({}, optional={
    "frequency": st.one_of(st.integers(1, 6), junk), "frequencyMax": st.integers(1, 8),
    "period": st.one_of(st.sampled_from([1, 2, 8, 0.5]), junk),
    "periodMax": st.integers(1, 4),
    "periodUnit": st.one_of(st.sampled_from(["h", "d", "wk", "mo", "a", "min", "s"]), junk),
    "when": st.lists(st.sampled_from(["MORN", "EVE", "NOON", "HS", "AC", "x"]), max_size=3),
    "timeOfDay": st.lists(st.sampled_from(["08:00:00", "21:30:00", "13:00:00", "bad"]),
                          max_size=2)})
dosage_line = st.fixed_dictionaries({}, optional={
    "doseAndRate": st.one_of(junk, st.lists(st.one_of(
        st.fixed_dictionaries({"doseQuantity": quantity}),
        st.fixed_dictionaries({"doseRange": st.fixed_dictionaries({}, optional={
            "low": quantity, "high": quantity})}),
        st.fixed_dictionaries({"rateQuantity": quantity})), max_size=2)),
    "timing": st.one_of(junk, st.fixed_dictionaries({}, optional={
        "repeat": st.one_of(repeat, junk),
        "code": st.sampled_from([{"coding": [{"code": c}]} for c in ("BID", "QD", "AM", "Z")])
    })),
    "route": st.one_of(junk, st.sampled_from([
        {"coding": [{"system": "http://snomed.info/sct", "code": c}]}
        for c in (ORAL, INHALED, "47625008")] + [{"text": "by mouth"}])),
    "asNeededBoolean": st.booleans(),
    "maxDosePerPeriod": st.one_of(junk, st.fixed_dictionaries({
        "numerator": quantity, "denominator": st.fixed_dictionaries({
            "value": st.sampled_from([1, 12, 0]), "code": st.sampled_from(["d", "h", "x"])})})),
    "sequence": st.one_of(st.integers(1, 3), junk)})


def _excluded(raw: object) -> bool:
    route = raw.get("route") if isinstance(raw, dict) else None
    return isinstance(route, dict) and route.get("coding") == [
        {"system": "http://snomed.info/sct", "code": INHALED}]


def _missing(raw: object) -> bool:
    """Whether a line lacks an element a certain daily dose needs: the dose, the timing, a
    coded route, or is taken as needed."""
    if not isinstance(raw, dict) or raw.get("asNeededBoolean") is True:
        return True
    route = raw.get("route")
    return ("doseAndRate" not in raw or "timing" not in raw or not isinstance(route, dict)
            or not isinstance(route.get("coding"), list))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(dosage_line, max_size=3), junk))
def test_the_reader_never_raises_nor_makes_a_missing_element_certain(lines):
    reading = read_dosage(lines, "mg", KIND)
    for amount in (reading.daily, *reading.parts.values()):
        assert amount.lo is not None and amount.lo >= 0
    if not isinstance(lines, list) or not lines or any(
            _missing(raw) for raw in lines if not _excluded(raw)):
        assert not reading.daily.exact, reading
        assert reading.notes


def test_an_incomplete_line_is_never_a_point():
    """Each element missing in turn, from a line that is certain."""
    full = line(5, when=["MORN"])
    assert read_dosage([full], "mg", KIND).daily.exact
    for element in ("doseAndRate", "timing", "route"):
        partial = {k: v for k, v in full.items() if k != element}
        reading = read_dosage([partial], "mg", KIND)
        assert not reading.daily.exact, element
        assert reading.notes, element
    assert not read_dosage([full | {"asNeededBoolean": True}], "mg", KIND).daily.exact


# -- public examples we did not write (HL7 FHIR R4 examples package) -----------------------

R4_EXAMPLES = Path(__file__).resolve().parent / "data" / "fhir-packages" / "hl7.fhir.r4.examples"


@pytest.mark.parametrize("name,daily", [
    ("MedicationDispense-meddisp008", "[500,500]"),  # 500 mg twice in 21 days: 500 a dosing day
    ("MedicationRequest-medrx0317", "[3,30]"),  # escalation 3, 10, 30 mg in sequence, 3 a week
    ("MedicationAdministration-medadmin0304", "[3,*]"),  # one 3 mg dose given: how often not said
    ("MedicationRequest-medrx0309", "[0,*]"),  # a dose that is not a mass
])
def test_hl7_r4_examples(name, daily):
    resource = json.loads((R4_EXAMPLES / f"{name}.json").read_text())
    reading = read_dosage(dosage_lines(resource["resourceType"], resource), "mg", KIND)
    assert str(reading.daily) == daily


def test_a_list_member_nobody_read_never_makes_the_list_complete(tmp_path):
    """S28-18's physiologic prednisone (EX15 met) as a Medication referenced by the statement
    (``medicationReference``, which the declared kind does not read), and as a drug coded only
    in a system the kind does not list: its List entry names a member nobody read, so the List
    says nothing and EX15 is unknown, never met on a medication unseen."""
    name = "eligible-physiologic-prednisone-5-mg.json"
    for variant in ("reference", "other-code"):
        bundle = json.loads((FOLDER / "patients" / name).read_text())
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                resource["identifier"][0]["value"] = resource["id"] = variant
            if "H02AB07" in json.dumps(resource.get("medicationCodeableConcept")):
                concept = resource.pop("medicationCodeableConcept")
                if variant == "reference":
                    resource["medicationReference"] = {"reference": "#med"}
                    resource["contained"] = [{"resourceType": "Medication", "id": "med",
                                              "code": concept}]
                else:
                    resource["medicationCodeableConcept"] = {"coding": [{
                        "system": "http://example.org/local-drugs", "code": "PRED5"}],
                        "text": "prednisone 5 mg tablet"}
        (tmp_path / f"{variant}.json").write_text(json.dumps(bundle))
    result = CliRunner().invoke(main, ["screen", str(tmp_path), "--protocol", str(FOLDER),
                                       "--as-of", "2027-03-15", "--format", "json"])
    for patient in json.loads(result.stdout)["patients"]:
        ex15 = next(c for c in patient["criteria"] if c["id"] == "EX15")
        assert ex15["outcome"] == "unknown", (patient["id"], ex15["explanation"])
