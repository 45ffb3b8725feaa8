"""Hostile OMOP rows, one class at a time (issue 26, the project's first rule): each test
fails on the reader before it was hardened (8240dc3); tests/test_omop_hostile.py degrades
every row of the bundled examples.

* a drug concept concept_ancestor cannot roll up (deprecated, upgraded, absent from the
  vocabulary) was never read: a prior PD-1 antibody vanished (IC4 not_met -> met);
* an observation's qualifier that is one of OMOP's operator concepts, and a Karnofsky score
  with an operator, were read as exact values;
* a declared kind (SARC028's HBsAg) lost a row whose concept was a deprecated twin of its
  code's, or a concept id the vocabulary lacks (EX6 not_met -> met).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.omop import OmopInput

from .omop_support import duckdb_cdm, example_records
from .test_omop_hostile import AS_OF, _outcomes

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


@pytest.fixture(scope="module")
def drug_duckdb_records(drug_duckdb):
    return _drug_records(*drug_duckdb)


def test_a_drug_concept_outside_the_hierarchy_is_read_by_its_name(drug_duckdb,
                                                                  drug_duckdb_records):
    """OMOP's concept_ancestor holds valid standard concepts only: an exposure whose
    drug_concept_id is deprecated, upgraded or unknown to the vocabulary was never read, and
    a prior PD-1 antibody vanished (IC4 not_met -> met, the patient eligible)."""
    url, written = drug_duckdb
    records = drug_duckdb_records
    for case in DRUG_CASES:
        drugs = [d if isinstance(d, str) else d["display"] for therapy in
                 records[f"{PD1_PERSON}~{case}"]["prior_therapies"] for d in therapy["drugs"]]
        assert any(str(d).lower().startswith("toripalimab") for d in drugs), (case, drugs)
    result = screen([OmopInput(url, supplement=written.files["supplement"])], as_of=AS_OF)
    got = _outcomes(result, {str(k): v for k, v in written.persons.items()})
    assert {rid: (verdict, row["IC4"]) for rid, (verdict, row) in got.items()} == {
        rid: ("ineligible", "not_met") for rid in written.persons.values()}


def test_duckdb_and_postgresql_read_a_drug_outside_the_hierarchy_alike(drug_duckdb_records,
                                                                      drug_postgres):
    duck, pg = drug_duckdb_records, _drug_records(*drug_postgres)
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
