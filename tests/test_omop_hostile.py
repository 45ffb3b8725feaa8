"""Hostile OMOP data never makes a patient eligible (issue 26, the project's first rule).

The bundled example patients are written into one DuckDB CDM, each mutated copy of a person a
person of its own: every mutation below only removes or degrades what a row says, as the OMOP
CDM v5.4 DDL allows (a nullable column set to NULL, a concept 0 with a junk source value, a
value given as a bound by its ``operator_concept_id``, a unit nobody can convert, a deprecated
or non-standard concept, an end before the start, a date after the assessment, a duplicated row
with a conflicting value, a value that is text and no number, no observation period, a death).
Each is applied to one row of one copy; the copies are screened together with the untouched
originals, and no criterion of a copy may go from not_met or unknown to met, no copy from
ineligible or incomplete to eligible; nothing raises; the originals keep their outcomes.
(not_applicable -> met is allowed: a diagnosis dated after the assessment is set aside, which
leaves IC5.2's applicability open and the verdict incomplete, exactly as in a JSON record.)

Left as it is (docs/omop.md): a row of concept 0 whose source value is no code or name of the
terminology cannot be known to be of a declared kind, so a kind the supplement marks complete
reads it as absent, as a deleted row; a declared fact dated after the assessment is not yet
known, as in a JSON record.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.omop import OmopInput

from .omop_support import duckdb_cdm, example_records

AS_OF = "2026-11-20"
LATER = "2027-01-15"  # after the assessment date
JUNK_UNIT = 2_100_000_001  # a unit concept of a vocabulary no reader converts
DEPRECATED = 2_100_000_100  # + n: deprecated ('D') / upgraded ('U') copies of concepts
OPERATORS = {"<": 4171756, "<=": 4171754, ">": 4172704, ">=": 4171755}


@dataclass(frozen=True)
class Mutation:
    """One way of degrading a row: ``sql`` run with {t} the table, {key} its id column, {id}
    the row's id and {pid} the person's (several statements split by ';')."""

    name: str
    tables: tuple[str, ...]
    sql: str

    def apply(self, connection, table: str, row_id: int, person_id: int, uid: int) -> None:
        key = f"{table}_id"
        for statement in self.sql.split(";"):
            if statement.strip():
                connection.execute(statement.format(t=table, key=key, id=row_id,
                                                    pid=person_id, uid=uid))


_ALL = ("measurement", "observation", "condition_occurrence", "drug_exposure",
        "procedure_occurrence", "episode")
_VALUES = ("measurement", "observation")
_CONCEPT = {"measurement": "measurement_concept_id", "observation": "observation_concept_id",
            "condition_occurrence": "condition_concept_id", "drug_exposure": "drug_concept_id",
            "procedure_occurrence": "procedure_concept_id",
            "episode": "episode_object_concept_id"}
_SOURCE = {"measurement": "measurement_source_value", "observation": "observation_source_value",
           "condition_occurrence": "condition_source_value",
           "drug_exposure": "drug_source_value",
           "procedure_occurrence": "procedure_source_value", "episode": "episode_source_value"}
_START = {"measurement": "measurement_date", "observation": "observation_date",
          "condition_occurrence": "condition_start_date",
          "drug_exposure": "drug_exposure_start_date", "procedure_occurrence": "procedure_date",
          "episode": "episode_start_date"}
_END = {"condition_occurrence": "condition_end_date", "drug_exposure": "drug_exposure_end_date",
        "procedure_occurrence": "procedure_end_date", "episode": "episode_end_date"}


def _per_table(name: str, tables, build) -> list[Mutation]:
    return [Mutation(name, (t,), build(t)) for t in tables]


MUTATIONS: list[Mutation] = [
    Mutation("value_as_number NULL", _VALUES, "UPDATE {t} SET value_as_number = NULL "
             "WHERE {key} = {id}"),
    Mutation("unit_concept_id NULL", _VALUES, "UPDATE {t} SET unit_concept_id = NULL "
             "WHERE {key} = {id}"),
    Mutation("unit not convertible", _VALUES, f"UPDATE {{t}} SET unit_concept_id = "
             f"{JUNK_UNIT}, unit_source_value = 'furlong/fortnight' WHERE {{key}} = {{id}}"),
    Mutation("unit 0, junk source unit", _VALUES, "UPDATE {t} SET unit_concept_id = 0, "
             "unit_source_value = 'mg/dL??' WHERE {key} = {id}"),
    Mutation("range_low NULL", ("measurement",), "UPDATE {t} SET range_low = NULL "
             "WHERE {key} = {id}"),
    Mutation("range_high NULL", ("measurement",), "UPDATE {t} SET range_high = NULL "
             "WHERE {key} = {id}"),
    Mutation("range_low > range_high", ("measurement",), "UPDATE {t} SET range_low = "
             "range_high + 1 WHERE {key} = {id} AND range_high IS NOT NULL"),
    Mutation("range_low > range_high (only a low)", ("measurement",),
             "UPDATE {t} SET range_high = value_as_number / 2, range_low = value_as_number * 2"
             " WHERE {key} = {id} AND value_as_number > 0"),
    *(Mutation(f"operator {op}", ("measurement",), f"UPDATE {{t}} SET operator_concept_id = "
               f"{cid} WHERE {{key}} = {{id}}") for op, cid in OPERATORS.items()),
    Mutation("qualifier '<' on an observation", ("observation",), "UPDATE {t} SET "
             "qualifier_concept_id = 4171756 WHERE {key} = {id}"),
    Mutation("value concept disagreeing with the number", _VALUES, "UPDATE {t} SET "
             "value_as_concept_id = 4171756 WHERE {key} = {id}"),
    Mutation("text that is no number", _VALUES, "UPDATE {t} SET value_as_number = NULL, "
             "value_source_value = 'see report' WHERE {key} = {id}"),
    Mutation("a number as text with a comma", ("measurement",), "UPDATE {t} SET "
             "value_source_value = CAST(value_as_number AS VARCHAR) || ',5', "
             "value_as_number = NULL WHERE {key} = {id}"),
    *_per_table("concept 0, misspelt source", _ALL, lambda t: (
        f"UPDATE {{t}} SET {_CONCEPT[t]} = 0, {_SOURCE[t]} = 'xq' || {_SOURCE[t]} "
        "WHERE {key} = {id}")),
    *_per_table("concept absent from the vocabulary", _ALL, lambda t: (
        f"UPDATE {{t}} SET {_CONCEPT[t]} = 2000999999 WHERE {{key}} = {{id}} AND "
        f"{_CONCEPT[t]} <> 0")),
    *_per_table("deprecated concept", _ALL, lambda t: (
        f"INSERT INTO concept SELECT {DEPRECATED} + {{uid}} * 10 + 1, concept_name, domain_id, "
        "vocabulary_id, concept_class_id, NULL, concept_code || '-old', valid_start_date, "
        "DATE '2020-01-01', 'D' FROM concept WHERE concept_id = (SELECT "
        f"{_CONCEPT[t]} FROM {{t}} WHERE {{key}} = {{id}}) AND concept_id <> 0;"
        f"UPDATE {{t}} SET {_CONCEPT[t]} = {DEPRECATED} + {{uid}} * 10 + 1 WHERE {{key}} = "
        f"{{id}} AND EXISTS (SELECT 1 FROM concept WHERE concept_id = {DEPRECATED} + {{uid}} "
        "* 10 + 1)")),
    *_per_table("non-standard concept", _ALL, lambda t: (
        f"INSERT INTO concept SELECT {DEPRECATED} + {{uid}} * 10 + 2, concept_name, domain_id, "
        "vocabulary_id, concept_class_id, NULL, concept_code, valid_start_date, "
        "valid_end_date, 'U' FROM concept WHERE concept_id = (SELECT "
        f"{_CONCEPT[t]} FROM {{t}} WHERE {{key}} = {{id}}) AND concept_id <> 0 AND NOT EXISTS"
        f" (SELECT 1 FROM concept WHERE concept_id = {DEPRECATED} + {{uid}} * 10 + 2);"
        f"UPDATE {{t}} SET {_CONCEPT[t]} = {DEPRECATED} + {{uid}} * 10 + 2 WHERE {{key}} = "
        f"{{id}} AND EXISTS (SELECT 1 FROM concept WHERE concept_id = {DEPRECATED} + {{uid}} "
        "* 10 + 2)")),
    *_per_table("end before start", tuple(_END), lambda t: (
        f"UPDATE {{t}} SET {_END[t]} = {_START[t]} - INTERVAL 400 DAY WHERE {{key}} = {{id}}")),
    *_per_table("end NULL", tuple(t for t in _END if t != "drug_exposure"), lambda t: (
        f"UPDATE {{t}} SET {_END[t]} = NULL WHERE {{key}} = {{id}}")),
    *_per_table("end after the assessment", tuple(_END), lambda t: (
        f"UPDATE {{t}} SET {_END[t]} = DATE '{LATER}' WHERE {{key}} = {{id}}")),
    *_per_table("start after the assessment", _ALL, lambda t: (
        f"UPDATE {{t}} SET {_START[t]} = DATE '{LATER}' WHERE {{key}} = {{id}}")),
    *_per_table("duplicate with a conflicting value", _VALUES, lambda t: (
        "INSERT INTO {t} SELECT * REPLACE ({key} + 1000000 AS {key}, "
        "value_as_number * 0.25 AS value_as_number) FROM {t} WHERE {key} = {id}")),
    *_per_table("duplicate with a conflicting value (higher)", _VALUES, lambda t: (
        "INSERT INTO {t} SELECT * REPLACE ({key} + 2000000 AS {key}, "
        "value_as_number * 4 AS value_as_number) FROM {t} WHERE {key} = {id}")),
]
PERSON_MUTATIONS = [
    Mutation("no observation period", ("person",),
             "DELETE FROM observation_period WHERE person_id = {pid}"),
    Mutation("gender 0, junk source", ("person",), "UPDATE person SET gender_concept_id = 0, "
             "gender_source_value = 'xx' WHERE person_id = {pid}"),
    Mutation("birth_datetime and day NULL", ("person",), "UPDATE person SET birth_datetime = "
             "NULL, day_of_birth = NULL WHERE person_id = {pid}"),
    Mutation("birth month and day NULL", ("person",), "UPDATE person SET birth_datetime = "
             "NULL, day_of_birth = NULL, month_of_birth = NULL WHERE person_id = {pid}"),
    Mutation("death before the assessment", ("person",), "INSERT INTO death (person_id, "
             "death_date, death_type_concept_id) VALUES ({pid}, DATE '2026-11-01', 32817)"),
    Mutation("death after the assessment", ("person",), "INSERT INTO death (person_id, "
             f"death_date, death_type_concept_id) VALUES ({{pid}}, DATE '{LATER}', 32817)"),
    Mutation("two deaths", ("person",), "INSERT INTO death (person_id, death_date, "
             "death_type_concept_id) VALUES ({pid}, DATE '2026-11-01', 32817), ({pid}, "
             f"DATE '{LATER}', 32817)"),
]


def _cases(records: list[dict], rows: dict[str, dict[str, int]]) -> list[tuple]:
    """(mutation, record id, table, row index): every mutation on every row of its tables of
    every person, and each person mutation on every person."""
    out = []
    for mutation in MUTATIONS:
        for record in records:
            for table in mutation.tables:
                out += [(mutation, record["id"], table, n)
                        for n in range(rows[record["id"]].get(table, 0))]
    out += [(m, r["id"], "person", 0) for m in PERSON_MUTATIONS for r in records]
    return out


def _sample(per_group: int):
    """The cases of :func:`_cases`, at most ``per_group`` of each mutation and table, spread
    over the persons whose outcomes a degraded row could wrongly raise (not eligible)."""

    def cases_of(records, rows, baseline):
        at_risk = [r for r in records if baseline[r["id"]][0] != "eligible"]
        groups: dict[tuple, list] = {}
        for case in _cases(at_risk, rows):
            groups.setdefault((case[0].name, case[2]), []).append(case)
        out = []
        for found in groups.values():
            step = max(1, len(found) // per_group)
            out += found[::step][:per_group]
        return out
    return cases_of


def _every_case(records, rows, baseline):
    """Every case on every person a degraded row could wrongly raise (not eligible)."""
    return _cases([r for r in records if baseline[r["id"]][0] != "eligible"], rows)


def _row_counts(url: str, persons: dict[int, str]) -> dict[str, dict[str, int]]:
    import duckdb

    connection = duckdb.connect(url.removeprefix("duckdb://"), read_only=True)
    out: dict[str, dict[str, int]] = {rid: {} for rid in persons.values()}
    for table in _ALL:
        for pid, count in connection.execute(
                f"SELECT person_id, count(*) FROM {table} GROUP BY person_id").fetchall():
            out[persons[pid]][table] = count
    connection.close()
    return out


def _outcomes(result, names: dict[str, str]) -> dict[str, tuple]:
    return {names[p.id]: (p.verdict, {c.id: c.outcome for c in p.criteria})
            for p in result.patients}


def mutated_screening(folder: Path, cases_of):
    """(baseline outcomes of the originals, outcomes of the copies and originals screened
    together, the cases by copy id, the errors)."""
    records = example_records()
    url, written = duckdb_cdm(records, folder / "base")
    base = screen([OmopInput(url, supplement=written.files["supplement"])], as_of=AS_OF)
    assert not base.errors
    baseline = _outcomes(base, {str(k): v for k, v in written.persons.items()})
    cases = cases_of(records, _row_counts(url, written.persons), baseline)
    by_id = {r["id"]: r for r in records}
    parity = {rid: pid % 2 for pid, rid in written.persons.items()}
    copies: list[dict] = []
    for n, (_m, rid, _t, _i) in enumerate(cases):
        # the writer varies some rows by the person id's parity: a copy keeps its original's
        if (len(records) + len(copies) + 1) % 2 != parity[rid]:
            copies.append(copy.deepcopy(by_id[rid]) | {"id": f"{rid}~pad{n}"})
        copies.append(copy.deepcopy(by_id[rid]) | {"id": f"{rid}~{n}"})
    url, written = duckdb_cdm(records + copies, folder / "mutated")
    pid_of = {rid: pid for pid, rid in written.persons.items()}
    import duckdb

    connection = duckdb.connect(url.removeprefix("duckdb://"))
    by_copy = {}
    for n, (mutation, rid, table, index) in enumerate(cases):
        pid = pid_of[f"{rid}~{n}"]
        row_id = pid
        if table != "person":
            row_id = connection.execute(
                f"SELECT {table}_id FROM {table} WHERE person_id = {pid} ORDER BY {table}_id "
                f"LIMIT 1 OFFSET {index}").fetchone()[0]
        mutation.apply(connection, table, row_id, pid, n)
        by_copy[f"{rid}~{n}"] = (mutation.name, rid, table, index)
    connection.close()
    result = screen([OmopInput(url, supplement=written.files["supplement"])], as_of=AS_OF)
    got = _outcomes(result, {str(k): v for k, v in written.persons.items()})
    return baseline, got, by_copy, result.errors, written


def newly_met(baseline: dict, got: dict, by_copy: dict) -> list[str]:
    """What a degraded copy gained: a criterion met that was not, a verdict 'eligible'."""
    out = []
    for name, (verdict, criteria) in got.items():
        original = name.partition("~")[0]
        before_verdict, before = baseline[original]
        what = by_copy.get(name, ("untouched",))
        if verdict == "eligible" and before_verdict != "eligible":
            out.append(f"{name} {what}: {before_verdict} -> eligible")
        # (not_applicable -> met is no gain: a histology set aside as dated after the
        # assessment leaves IC5.2's applicability open, and the verdict incomplete, as in JSON)
        out += [f"{name} {what}: {cid} {before[cid]} -> met" for cid, outcome in criteria.items()
                if outcome == "met" and before[cid] in ("not_met", "unknown")]
    return out


@pytest.fixture(scope="module")
def fast_sample(tmp_path_factory):
    return mutated_screening(tmp_path_factory.mktemp("hostile"), _sample(2))


def test_no_degraded_row_makes_a_criterion_met(fast_sample):
    _assert_no_gain(*fast_sample)


def _assert_no_gain(baseline, got, by_copy, errors, written) -> None:
    assert newly_met(baseline, got, by_copy) == []
    # the originals, screened beside their degraded copies, keep their outcomes
    assert {k: v for k, v in got.items() if "~" not in k} == baseline
    # only a death makes a person an error (no candidate, or two deaths: one input error
    # naming the field), never a traceback, and never the other persons
    failed = {by_copy[written.persons[int(e.record)]][0] for e in errors}
    assert failed <= {"death before the assessment", "two deaths"}, errors
    assert all(type(e).__name__ == "ScreeningError" for e in errors)


@pytest.mark.slow
def test_no_degraded_row_makes_a_criterion_met_every_row(tmp_path):
    _assert_no_gain(*mutated_screening(tmp_path, _every_case))


# -- a drug concept concept_ancestor cannot roll up (DuckDB and PostgreSQL) ----------------------

DRUG_CASES = {
    # deprecated: its own code, invalid_reason 'D', no longer standard
    "deprecated": ("INSERT INTO {s}.concept SELECT 2100000001, concept_name, domain_id, "
                   "vocabulary_id, concept_class_id, NULL, concept_code || '-old', "
                   "valid_start_date, DATE '2020-01-01', 'D' FROM {s}.concept WHERE "
                   "concept_id = {drug}; UPDATE {s}.drug_exposure SET drug_concept_id = "
                   "2100000001 WHERE drug_exposure_id = {row}"),
    # upgraded ('U'), non-standard
    "upgraded": ("INSERT INTO {s}.concept SELECT 2100000002, concept_name, domain_id, "
                 "vocabulary_id, concept_class_id, NULL, concept_code || '-u', "
                 "valid_start_date, DATE '2020-01-01', 'U' FROM {s}.concept WHERE "
                 "concept_id = {drug}; UPDATE {s}.drug_exposure SET drug_concept_id = "
                 "2100000002 WHERE drug_exposure_id = {row}"),
    # a concept the vocabulary does not hold: the source value speaks
    "absent": ("UPDATE {s}.drug_exposure SET drug_concept_id = 2100000003, "
               "drug_source_value = 'toripalimab 240 mg' WHERE drug_exposure_id = {row}"),
}
PD1_PERSON = "QL-ASPS-010"  # prior toripalimab: IC4 not met


def _drug_cdm(make, folder: Path, execute, fetch, schema: str):
    """A CDM of the PD-1 patient and one copy per case of DRUG_CASES, each copy's toripalimab
    exposure given that concept."""
    record = next(r for r in example_records() if r["id"] == PD1_PERSON)
    records = [record, *(copy.deepcopy(record) | {"id": f"{PD1_PERSON}~{case}"}
                         for case in DRUG_CASES)]
    url, written = make(records, folder)
    execute_, fetch_ = execute(url), fetch(url)
    for pid, rid in written.persons.items():
        case = rid.partition("~")[2]
        if not case:
            continue
        row, drug = fetch_(
            f"SELECT de.drug_exposure_id, de.drug_concept_id FROM {schema}.drug_exposure de "
            f"JOIN {schema}.concept c ON c.concept_id = de.drug_concept_id WHERE "
            f"de.person_id = {pid} AND lower(c.concept_name) LIKE 'toripalimab%'")[0]
        for statement in DRUG_CASES[case].split(";"):
            execute_(statement.format(s=schema, drug=drug, row=row))
    return url, written


def _duck_io(url):
    import duckdb

    def run(query):
        with duckdb.connect(url.removeprefix("duckdb://")) as connection:
            return connection.execute(query).fetchall() if query.lstrip().startswith(
                "SELECT") else connection.execute(query)
    return run


def _pg_io(url):
    import psycopg

    def run(query):
        with psycopg.connect(url.rpartition("&schema=")[0], autocommit=True) as connection:
            cursor = connection.execute(query)
            return cursor.fetchall() if query.lstrip().startswith("SELECT") else None
    return run


@pytest.fixture(scope="module")
def drug_duckdb(tmp_path_factory):
    return _drug_cdm(duckdb_cdm, tmp_path_factory.mktemp("drug-duck"), _duck_io, _duck_io,
                     "main")


@pytest.fixture(scope="module")
def drug_postgres(tmp_path_factory):
    from .omop_support import postgres_cdm

    return _drug_cdm(lambda r, f: postgres_cdm(r, f, "hostile_drugs"),
                     tmp_path_factory.mktemp("drug-pg"), _pg_io, _pg_io, "cdm")


def _drug_records(url, written) -> dict[str, dict]:
    from .omop_support import read_cdm

    spec = OmopInput(url, supplement=written.files["supplement"])
    return {written.persons[int(item.raw["id"])]: item.raw for item in read_cdm(spec)
            if hasattr(item, "raw")}


def test_a_drug_concept_outside_the_hierarchy_is_read_by_its_name(drug_duckdb):
    """OMOP's concept_ancestor holds valid standard concepts only: an exposure whose
    drug_concept_id is deprecated, upgraded or unknown to the vocabulary was never read, and
    a prior PD-1 antibody vanished (IC4 not_met -> met, the patient eligible)."""
    url, written = drug_duckdb
    records = _drug_records(url, written)
    for case in DRUG_CASES:
        drugs = [d if isinstance(d, str) else d["display"] for therapy in
                 records[f"{PD1_PERSON}~{case}"]["prior_therapies"] for d in therapy["drugs"]]
        assert any(str(d).lower().startswith("toripalimab") for d in drugs), (case, drugs)
    result = screen([OmopInput(url, supplement=written.files["supplement"])], as_of=AS_OF)
    got = _outcomes(result, {str(k): v for k, v in written.persons.items()})
    assert {rid: (verdict, row["IC4"]) for rid, (verdict, row) in got.items()} == {
        rid: ("ineligible", "not_met") for rid in written.persons.values()}


def test_duckdb_and_postgresql_read_a_drug_outside_the_hierarchy_alike(drug_duckdb,
                                                                      drug_postgres):
    duck, pg = _drug_records(*drug_duckdb), _drug_records(*drug_postgres)
    assert len(duck) == 1 + len(DRUG_CASES)
    assert {k: v["prior_therapies"] for k, v in duck.items()} == \
        {k: v["prior_therapies"] for k, v in pg.items()}


# -- operator concepts where the reader reads a number (no database) ----------------------------

def _fact(kind="observation", number=70.0, operator=None):
    from ql1706kg.inputs.omop.assemble import Fact

    return Fact(kind, 1, 11, 1, None, "x", "2026-11-16", None, number, None, None, None, None,
                None, None, operator, None, None, operator)


def test_an_observation_qualifier_that_is_an_operator_bounds_its_value(drug_duckdb, tmp_path):
    """v5.4's observation has no operator_concept_id: a qualifier_concept_id that is one of
    OMOP's operator concepts makes its value a bound ('<2' ECOG, never exactly 2); another
    qualifier (a severity) is no bound."""
    import shutil

    url, written = drug_duckdb
    path = tmp_path / "cdm.duckdb"
    shutil.copy(url.removeprefix("duckdb://"), path)
    run = _duck_io(f"duckdb://{path}")
    rows = run("SELECT observation_id FROM observation WHERE value_as_number IS NOT NULL "
               "ORDER BY observation_id")
    assert len(rows) >= 2
    run(f"UPDATE observation SET qualifier_concept_id = 4171756 WHERE observation_id = "
        f"{rows[0][0]}")
    run(f"UPDATE observation SET qualifier_concept_id = 4_000_000 WHERE observation_id = "
        f"{rows[1][0]}")
    records = _drug_records(f"duckdb://{path}", written)
    said = [(o.get("comparator"), o["value"]) for r in records.values()
            for o in r["observations"] if "ECOG" in o.get("test", "")]
    assert said.count(("<", 0.0)) == 1 and said.count((None, 0.0)) == len(said) - 1 == 3, said


@pytest.mark.parametrize(("operator", "step"), [(None, True), (4172703, True),
                                                (4171756, False), (4171755, False)])
def test_a_bounded_karnofsky_score_is_no_step_of_the_scale(operator, step):
    """'Karnofsky >= 70' is no score: read as one it would be an ECOG grade it may not be."""
    from ql1706kg.inputs.omop.assemble import PersonBuilder, _context

    builder = PersonBuilder(_context("duckdb:///hostile", False), 1)
    builder.read_karnofsky(_fact(operator=operator), None)
    value = builder.rec["observations"][0]["value"]
    assert ("not a step of the scale" not in value) is step, value


# -- SARC028's declared kinds: the reactive HBsAg measurement degraded -------------------------

DECLARED_CASES = {
    # one code twice in the vocabulary (a deprecated concept beside the valid one)
    "deprecated concept, same code": (
        "INSERT INTO concept SELECT 2100000777, concept_name, domain_id, vocabulary_id, "
        "concept_class_id, NULL, concept_code, valid_start_date, DATE '2020-01-01', 'D' FROM "
        "concept WHERE concept_id = (SELECT measurement_concept_id FROM measurement WHERE "
        "measurement_id = {id}); UPDATE measurement SET measurement_concept_id = 2100000777 "
        "WHERE measurement_id = {id}"),
    # a concept id the vocabulary does not hold; the source value still says the code
    "concept absent from the vocabulary": (
        "UPDATE measurement SET measurement_concept_id = 2100000888 WHERE measurement_id = {id}"),
    # the value as a bound of a number, the value concept gone
    "a bound, no value concept": (
        "UPDATE measurement SET value_as_concept_id = NULL, value_as_number = 1, "
        "operator_concept_id = 4171756 WHERE measurement_id = {id}"),
    "value concept the vocabulary lacks": (
        "UPDATE measurement SET value_as_concept_id = 2100000999 WHERE measurement_id = {id}"),
}


def test_a_degraded_declared_fact_never_clears_its_exclusion(tmp_path):
    """S28-08's reactive HBsAg excludes it (EX6 not_met). Copies of it, screened beside it,
    each with its HBsAg measurement degraded (DECLARED_CASES: a deprecated twin of its
    concept, a concept id the vocabulary lacks with the LOINC code as source value, a bound
    for a number, an unknown value concept): EX6 stays not_met or becomes unknown, never met;
    the other persons keep their outcomes."""
    from unittest import mock

    import duckdb

    from ql1706kg.protocol.resources import use_protocol

    from . import test_omop_declared as declared

    cases = sorted(DECLARED_CASES)
    plain = declared._records()
    base = next(r for r in plain if r["id"] == "S28-08")
    records = [*plain, *(copy.deepcopy(base) | {"id": f"S28-08~{n}"}
                         for n in range(len(cases)))]
    persons = {**declared.PERSONS, **{r["id"]: declared.PERSONS["S28-08"] for r in records}}
    use_protocol(declared.FOLDER)
    with mock.patch.object(declared, "_records", lambda: copy.deepcopy(records)), \
            mock.patch.object(declared, "PERSONS", persons):
        url, written = declared._cdm_and_supplement(tmp_path, declared._duckdb)
        with duckdb.connect(url.removeprefix("duckdb://")) as connection:
            declared._add_facts(connection.execute,
                                lambda q: connection.execute(q).fetchall(), "main", written)
            for pid, rid in written.persons.items():
                if "~" not in rid:
                    continue
                row = connection.execute(
                    f"SELECT measurement_id FROM measurement WHERE person_id = {pid} AND "
                    "measurement_id >= 800000").fetchone()[0]
                for statement in DECLARED_CASES[cases[int(rid.partition("~")[2])]].split(";"):
                    connection.execute(statement.format(id=row))
    got = declared._screened(url, written)
    assert got["S28-08"]["EX6"] == "not_met"
    said = {cases[int(rid.partition("~")[2])]: row["EX6"] for rid, row in got.items()
            if "~" in rid}
    assert said.keys() == DECLARED_CASES.keys()
    assert {case: outcome for case, outcome in said.items()
            if outcome not in ("not_met", "unknown")} == {}
    assert got["S28-08-negative"]["EX6"] == "met"  # the others read as before
