"""Issue 26: a real CDM nobody here wrote: OHDSI's Synthea27Nj (EunomiaDatasets, Apache-2.0,
vendored under tests/data/omop/synthea27nj with its licence; the clinical and vocabulary tables,
without concept_relationship and the visits).

It is what a site's CDM looks like: a vocabulary subset without the gender concepts, no
concept_ancestor, units unmapped on some rows (AST "U/L" only in unit_source_value), no
reference range on any row, 28 persons of whom three died, and no cancer at all. Read through
DuckDB and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from ql1706kg.api import screen
from ql1706kg.errors import InputError
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.connect import connect, parse_url
from ql1706kg.inputs.omop.read import facts_statement
from ql1706kg.inputs.omop.relevance import compute
from ql1706kg.inputs.omop.schema import batch_values, read_schema, render
from ql1706kg.inputs.omop.vocab import Vocabulary
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.terminology import terminology

from .omop_support import new_database, read_cdm, synthea_duckdb, synthea_postgres

EVERYONE = tuple(range(1, 29))


@pytest.fixture(scope="module")
def duckdb_synthea(tmp_path_factory):
    return synthea_duckdb(tmp_path_factory.mktemp("synthea") / "synthea.duckdb")


@pytest.fixture(scope="module")
def postgres_synthea():
    import psycopg

    uri = new_database("synthea")
    with psycopg.connect(uri) as connection:
        synthea_postgres(connection, "cdm")
    return f"{uri}&schema=cdm"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def synthea(request):
    return request.getfixturevalue(f"{request.param}_synthea")


def records(url: str) -> list:
    return read_cdm(OmopInput(url, person_ids=EVERYONE))


def test_every_person_is_read_or_named_and_the_dead_are_not_screened(synthea):
    """No gender concept is in this vocabulary: the sexes are read by OMOP's fixed ids."""
    items = records(synthea)
    read = [i for i in items if hasattr(i, "raw")]
    assert len(read) == 28 and not [i for i in items if isinstance(i, InputError)]
    db = connect(parse_url(synthea))
    try:
        schema = read_schema(db, "synthea")
        written = dict(db.rows(render("SELECT gender_concept_id, count(*) FROM @cdm.person "
                                      "GROUP BY gender_concept_id", {"cdm": schema.cdm})))
        assert Counter(r.raw["sex"] for r in read) == {"male": written[8507],
                                                       "female": written[8532]}
        assert schema.version == "5.4" and "concept_ancestor" not in schema.nonempty
        assert db.rows(render("SELECT count(*) FROM @vocab.concept WHERE concept_id IN "
                              "(8507, 8532)", {"vocab": schema.vocabulary}))[0][0] == 0
    finally:
        db.close()
    result = screen([OmopInput(synthea, person_ids=EVERYONE)], as_of="2022-10-01")
    assert len(result.patients) == 25 and len(result.errors) == 3
    assert all(e.field == "deceased" for e in result.errors)


def test_no_cancer_no_candidate(synthea):
    """The default candidates are those with a sarcoma on record: none here, and no error."""
    assert read_cdm(OmopInput(synthea)) == []


def test_duckdb_and_postgresql_give_identical_facts(duckdb_synthea, postgres_synthea):
    def facts(url):
        return [(i.source.rpartition("#")[2], i.raw) for i in records(url) if hasattr(i, "raw")]

    assert facts(duckdb_synthea) == facts(postgres_synthea)


def test_unrelated_rows_never_leave_the_database(duckdb_synthea):
    """Only rows of concepts the terminology reads come back: here 1,683 of 10,040
    measurements (LOINC of the protocol's tests), no observation or condition, one drug
    exposure (vitamin B12, a support product) of 883, one procedure (a red-cell
    transfusion) of 1,649."""
    db = connect(parse_url(duckdb_synthea))
    try:
        schema = read_schema(db, "synthea")
        vocabulary = Vocabulary(db, schema.vocabulary)
        term = terminology()
        relevance = compute(db, schema, vocabulary, term)
        statement = render(facts_statement(schema, "synthea"),
                           {**relevance.values(schema), **batch_values(list(EVERYONE))})
        rows = db.rows(statement)
        read = Counter(row[0] for row in rows)
        total = {t: db.rows(f"SELECT count(*) FROM {t}")[0][0]
                 for t in ("measurement", "observation", "condition_occurrence",
                           "drug_exposure", "procedure_occurrence")}
        vocabulary.fetch({row[3] for row in rows if row[0] == "measurement"})
    finally:
        db.close()
    assert read["measurement"] < total["measurement"] / 4
    assert read["observation"] == read["condition_occurrence"] == 0
    assert read["drug_exposure"] == 1 and read["procedure_occurrence"] == 1
    assert sum(read.values()) < sum(total.values()) / 10
    for row in rows:
        if row[0] == "measurement":
            concept = vocabulary.get(row[3])
            hit = term.find_code("LOINC", concept.code, QL.Test)
            assert hit is not None, concept


def test_an_unmapped_unit_and_a_missing_range_are_read_as_such(duckdb_synthea):
    """AST is in U/L only in unit_source_value (unit_concept_id 0): that unit is read; no
    range_high is recorded, so the AST criterion is unknown for want of a ULN, while
    haemoglobin (g/dL, converted) is decided."""
    def last(person, code):
        dates = [o["date"] for o in person.raw["observations"] if _loinc(o) == code]
        return dt.date.fromisoformat(max(dates)) if dates else None

    person, as_of = next((r, max(last(r, "1920-8"), last(r, "718-7")))
                         for r in records(duckdb_synthea)
                         if last(r, "1920-8") and last(r, "718-7")
                         and abs((last(r, "1920-8") - last(r, "718-7")).days) < 20)
    ast = [o for o in person.raw["observations"] if _loinc(o) == "1920-8"]
    assert {o["unit"] for o in ast} == {"U/L"} and not any("uln" in o for o in ast)
    result = screen([OmopInput(duckdb_synthea, person_ids=(int(person.raw["id"]),))],
                    as_of=as_of.isoformat())
    (patient,) = result.patients
    criteria = {c.id: c for c in patient.criteria}
    assert criteria["IC9.2-AST"].outcome == "unknown"
    assert "ULN" in criteria["IC9.2-AST"].explanation
    assert criteria["IC9.1-HB"].outcome in ("met", "not_met")


def _loinc(observation: dict) -> str | None:
    """The LOINC code of a result's test (the reader names a test by its term's label)."""
    from ql1706kg.protocol.namespaces import QL
    from ql1706kg.protocol.terminology import terminology

    term = terminology()
    for code in ("1920-8", "718-7"):
        if observation["test"] == term.label(term.find_code("http://loinc.org", code, QL.Test)):
            return code
    return None
