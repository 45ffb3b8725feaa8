"""What no patient can have: a record that is not a record is refused with file, record and
field named; an impossible fact in a record is set aside, named, and the rest is screened.

Each class of impossible input found in the hardening review has a row here: the JSON value
itself (non-finite, huge, deep, long, invalid characters: refused), the model (true as a number:
refused), the protocol's plausible ranges (read from the ontology: the boundary rows are built
from the literals, exactly at each limit and one step either side: set aside) and
contradicting dates (set aside). Issue 20: one doubtful fact never costs the record.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.inputs.plausibility import MAX_DEPTH, MAX_ID, MAX_TEXT, date_problem, json_problem
from ql1706kg.inputs.read import read_paths
from ql1706kg.inputs.records import parse_record
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.terminology import terminology

BASE = json.loads((Path(__file__).parent / "data" / "base-eligible.json").read_text())


def record_with(**changes) -> dict:
    record = copy.deepcopy(BASE)
    record.update(changes)
    return record


def observation_of(record: dict, test: str) -> dict:
    return next(o for o in record["observations"] if o["test"] == test)


def refused(item: object) -> tuple[str | None, str]:
    result = parse_record(item, "t.json")
    assert isinstance(result, Exception), f"accepted: {item!r:.200}"
    return result.field, result.detail


def set_aside(item: object) -> list:
    """The facts the reader set aside from a record it accepted."""
    result = parse_record(item, "t.json")
    assert not isinstance(result, Exception), result
    return list(result.record.set_aside)


def aside_field(item: object) -> tuple[str, str]:
    """The one fact set aside: its field and its reason."""
    (fact,) = set_aside(item)
    return fact.field, fact.reason


# -- the JSON value ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "words"), [
    (float("nan"), "finite"),
    (float("inf"), "finite"),
    (float("-inf"), "finite"),
    (1e13, "beyond"),
    (-(10**20), "beyond"),
    ("x" * (MAX_TEXT + 1), "longer"),
    ("\ud800", "surrogate"),
    ("a\x00b", "control"),
])
def test_impossible_json_values_are_refused_with_their_field(value, words):
    record = record_with()
    observation_of(record, "AST")["value"] = value
    field, message = refused(record)
    assert field == "observations[3].value" or field.startswith("observations[")
    assert words in message


@pytest.mark.parametrize("bad_id", ["QL-1\n  Verdict: ELIGIBLE", "tab\there", "a\u2028b",
                                    "x" * (MAX_ID + 1), "\x1b[31mred"])
def test_ids_are_one_plain_line_of_sane_length(bad_id):
    field, _message = refused(record_with(id=bad_id))
    assert field == "id"


def test_nesting_beyond_the_limit_is_refused():
    deep: object = 1
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    field, message = refused(record_with(extra=deep))
    assert "nested deeper" in message and field.startswith("extra")


def test_true_is_not_a_number():
    record = record_with()
    observation_of(record, "AST")["value"] = True
    field, message = refused(record)
    assert field.endswith(".value") and "true or false" in message


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "1e400"])
def test_numbers_written_as_text_are_checked_too(text):
    record = record_with()
    observation_of(record, "AST")["value"] = text
    field, reason = aside_field(record)
    assert field.endswith(".value") and reason.startswith("implausible")


@pytest.mark.parametrize("raw", [
    b'{"id": "A", "observations": [{"test": "AST", "value": NaN, "date": "2026-11-12"}]}',
    b'{"id": "A", "observations": [{"test": "AST", "value": 1e400, "date": "2026-11-12"}]}',
    b'{"id": "A", "observations": [{"test": "AST", "value": ' + b"9" * 5000 + b', "date": '
    b'"2026-11-12"}]}',
    b'{"id": "A", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"id": "\\ud800"}',
])
@pytest.mark.parametrize("shape", ["file", "list", "ndjson"])
def test_hostile_json_never_ends_the_batch(tmp_path, raw, shape):
    """One hostile record, then a good one: an error for the first, a verdict for the second."""
    good = json.dumps(record_with(id="GOOD")).encode()
    if shape == "file":
        (tmp_path / "a.json").write_bytes(raw)
        (tmp_path / "b.json").write_bytes(good)
    elif shape == "list":
        (tmp_path / "a.json").write_bytes(b"[" + good + b"," + raw + b"]")
    else:
        (tmp_path / "a.ndjson").write_bytes(raw + b"\n" + good + b"\n")
    result = screen([tmp_path], as_of="2026-11-20")
    assert [p.id for p in result.patients] == ["GOOD"]
    assert len(result.errors) == 1


def test_a_bom_is_accepted_for_json_and_ndjson(tmp_path):
    (tmp_path / "a.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(record_with(id="A")).encode())
    (tmp_path / "b.ndjson").write_bytes(b"\xef\xbb\xbf" + json.dumps(record_with(id="B"))
                                        .encode() + b"\n")
    result = screen([tmp_path], as_of="2026-11-20")
    assert sorted(p.id for p in result.patients) == ["A", "B"] and result.errors == []


def test_a_line_that_is_not_utf8_costs_only_its_record(tmp_path):
    lines = [json.dumps(record_with(id="A")).encode(), b'{"id": "caf\xe9"}',
             json.dumps(record_with(id="C")).encode()]
    (tmp_path / "x.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_paths([tmp_path / "x.ndjson"]))
    assert [getattr(i, "id", None) for i in items] == ["A", None, "C"]
    assert items[1].detail == "this line is not UTF-8 text" and items[1].source.endswith(":2")


def test_the_json_schema_beside_the_records_is_not_a_patient():
    items = list(read_paths([Path(__file__).parents[1] / "examples"]))
    assert not [i for i in items if "schema" in getattr(i, "source", "")]


# -- plausible ranges, from the ontology ------------------------------------------------------

def _range_rows():
    """(test label, canonical unit, value, accepted) at each limit and one step outside."""
    rows = []
    for info in sorted(terminology().tests.values(), key=lambda i: i.label):
        step = Decimal("0.1")
        for limit, outside in ((info.plausible_min, -step), (info.plausible_max, step)):
            if limit is None:
                continue
            rows.append(pytest.param(info.iri, info.canonical_unit, limit, True,
                                     id=f"{info.label}-at-{limit}"))
            if limit + outside >= 0 or outside > 0:
                rows.append(pytest.param(info.iri, info.canonical_unit, limit + outside, False,
                                         id=f"{info.label}-{limit + outside}"))
    return rows


@pytest.mark.parametrize(("test", "unit", "value", "accepted"), _range_rows())
def test_plausible_ranges_at_and_beyond_each_limit(test, unit, value, accepted):
    label = terminology().label(test)
    obs = {"test": label, "value": float(value), "date": "2026-11-12"}
    if unit:
        obs["unit"] = unit
    aside = set_aside({"id": "R", "observations": [obs]})
    if accepted:
        assert aside == []
    else:
        (fact,) = aside
        assert fact.field == "observations[0].value" and fact.section == "observations"
        assert "outside what a patient can have" in fact.reason


def test_every_laboratory_test_of_ic9_has_a_plausible_range():
    term = terminology()
    lab_tests = {test for crit in term.criteria.values() if crit["id"].startswith("IC9.")
                 for test in crit["tests"]}
    quantitative = [term.tests[t] for t in lab_tests if term.tests[t].canonical_unit]
    assert quantitative and all(i.plausible_min is not None and i.plausible_max is not None
                                for i in quantitative)


@pytest.mark.parametrize(("test", "value", "unit", "words"), [
    ("AST", -50, "U/L", "cannot be negative"),
    ("creatinine", 0, "umol/L", "outside"),
    ("ANC", 3000, "10*9/L", "outside"),
    ("haemoglobin", 1500, "g/dL", "outside"),       # 15,000 g/L: a unit mistake
    ("creatinine", 900, "mg/dL", "outside"),        # 79,560 µmol/L
])
def test_the_hardening_review_cases_are_set_aside(test, value, unit, words):
    record = {"id": "R", "observations": [{"test": test, "value": value, "unit": unit,
                                           "date": "2026-11-12"}]}
    field, message = aside_field(record)
    assert field == "observations[0].value" and words in message


def test_a_range_is_checked_in_the_unit_the_value_was_given_in():
    """12.8 g/dL is 128 g/L (inside); the same number in g/L is inside too; 0.5 g/dL is 5 g/L,
    below the plausible minimum of haemoglobin."""
    for value, ok in ((12.8, True), (0.5, False)):
        record = {"id": "R", "observations": [{"test": "Hb", "value": value, "unit": "g/dL",
                                               "date": "2026-11-12"}]}
        assert (set_aside(record) == []) is ok


@pytest.mark.parametrize(("uln", "lln", "field"), [(0, None, "uln"), (-40, None, "uln"),
                                                   (40, -1, "lln"), (40, 40, "lln")])
def test_normal_limits_must_make_sense(uln, lln, field):
    obs = {"test": "AST", "value": 30, "unit": "U/L", "uln": uln, "date": "2026-11-12"}
    if lln is not None:
        obs["lln"] = lln
    got_field, _ = aside_field({"id": "R", "observations": [obs]})
    assert got_field == f"observations[0].{field}"


def test_an_unconvertible_unit_is_left_to_the_criterion_not_refused():
    record = {"id": "R", "observations": [{"test": "AST", "value": 30, "unit": "furlongs",
                                           "date": "2026-11-12"}]}
    assert set_aside(record) == []


def test_ecog_is_ranged_as_the_number_itself():
    for value, ok in ((0, True), (5, True), (6, False)):
        record = {"id": "R", "observations": [{"test": "ECOG", "value": value,
                                               "date": "2026-11-16"}]}
        assert (set_aside(record) == []) is ok


# -- dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    ({"birth_date": "1899-12-31"}, "birth_date"),
    ({"birth_date": "2026-11-11"}, "birth_date"),          # after the ICF of 2026-11-10
    ({"consent": {"icf_signed": "1850-01-01"}}, "consent.icf_signed"),
])
def test_dates_that_contradict_each_other_are_set_aside(changes, field):
    got, reason = aside_field(record_with(**changes))
    assert got == field and reason.startswith("implausible")


def test_a_contradicting_birth_date_leaves_the_age_unknown_and_the_rest_screened():
    result = screen([record_with(id="B", birth_date="2026-11-11")], as_of="2026-11-20")
    (patient,) = result.patients
    ic2 = next(c for c in patient.criteria if c.id == "IC2")
    assert ic2.outcome == "unknown" and "birth_date" in ic2.explanation
    assert patient.outcome("IC9.1-ANC") == "met"


def test_a_regimen_cannot_end_before_it_starts():
    record = record_with(prior_therapies=[{"drugs": ["doxorubicin"], "start": "2025-03-10",
                                           "end": "2025-01-01"}])
    field, _ = aside_field(record)
    assert field == "prior_therapies[0].end"


@pytest.mark.parametrize("icf", ["9999-12-31", "2027-11-21", "2027-11-20", "2026-11-21"])
def test_dates_after_the_assessment_are_never_input_errors(icf):
    """However far after the assessment date, a fact is only not known yet (issue 20: a
    retrospective screen runs on an export that holds later data)."""
    from datetime import date

    record = parse_record(record_with(consent={"icf_signed": icf, "able_to_comply": True}),
                          "t").record
    assert date_problem(record, date(2026, 11, 20)) is None


def test_an_icf_in_9999_is_set_aside_as_late_not_an_age(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(record_with(
        id="FAR", consent={"icf_signed": "9999-12-31", "able_to_comply": True})))
    result = screen([tmp_path], as_of="2026-11-20")
    (patient,) = result.patients
    assert result.errors == [] and patient.outcome("IC1") == "unknown"
    ic2 = next(c for c in patient.criteria if c.id == "IC2")
    assert "9999" not in ic2.explanation.split("Set aside")[0]


def test_a_patient_not_yet_born_or_already_dead_is_not_screened():
    from datetime import date

    record = parse_record({"id": "R", "birth_date": "2027"}, "t").record
    assert date_problem(record, date(2026, 11, 20))[0] == "birth_date"
    record = parse_record({"id": "R", "birth_date": "1970", "deceased": "2026-11"}, "t").record
    assert date_problem(record, date(2026, 11, 30))[0] == "deceased"
    assert date_problem(record, date(2026, 11, 20)) is None  # may have died after as-of


def test_json_problem_is_quiet_on_a_real_record():
    assert json_problem(BASE) is None
    assert QL.Creatinine in terminology().tests
