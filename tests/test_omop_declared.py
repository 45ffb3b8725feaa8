"""Issue 26 with issue 25's declared fact kinds: a protocol folder's own kinds (SARC028's HBsAg
result, HIV and HCV tests, live vaccines ...) are read from the CDM, not only the built-in
sections, so a reactive HBsAg measurement makes SARC028's EX6 not met, as its FHIR bundle
and JSON record do, on DuckDB and PostgreSQL alike; a kind whose codes the vocabulary lacks is
set aside for every person unless the site supplement gives it.

The CDM: SARC028's S28-08 (HBsAg reactive), a copy with a negative HBsAg and one whose value
concept is none of the kind's codings, written by the project's CDM writer; the declared kinds'
concepts (their LOINC, SNOMED CT, CVX and ATC codes) and the HBsAg measurements are added to
it; the kinds the CDM cannot hold (the investigator's judgements, the planned first dose) are
in the site supplement's long table, as a site would give them.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.connect import parse_url
from ql1706kg.protocol.resources import use_protocol

from .omop_support import duckdb_cdm, postgres_cdm, read_cdm

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
AS_OF = "2027-03-15"
HBSAG = ("LOINC", "5196-1")
FIRST_CONCEPT = 900_000_000
# (record id, the HBsAg value: (vocabulary_id, code, name) of its value concept)
PERSONS = {"S28-08": ("SNOMED", "10828004", "Positive"),
           "S28-08-negative": ("SNOMED", "260385009", "Negative"),
           "S28-08-reactive": ("LOINC", "LA11882-0", "Reactive")}


def _records() -> list[dict]:
    """The three persons: S28-08 and its copies, with the HBsAg value of each."""
    base = json.loads((FOLDER / "records" / "ineligible-hbsag-reactive.json").read_text())
    out = []
    for pid, (_vocabulary, _code, name) in PERSONS.items():
        record = copy.deepcopy(base) | {"id": pid}
        for fact in record["facts"]:
            if fact["kind"] == "hbsag":
                fact["value"] = name.casefold()
        out.append(record)
    return out


def _cdm_and_supplement(folder: Path, make):
    """(url, written): the CDM written by ``make`` (its HBsAg results added by _add_facts),
    the supplement given the records' other declared facts and their facts_complete."""
    records = _records()
    url, written = make([{k: v for k, v in r.items() if k not in ("facts", "facts_complete")}
                         for r in records], folder)
    path = written.files["supplement"]
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    person_of = {rid: pid for pid, rid in written.persons.items()}
    for record in records:
        pid = person_of[record["id"]]
        for fact in record["facts"]:
            if fact["kind"] != "hbsag":  # (the one kind the test writes into the CDM)
                value, code = fact.get("value"), fact.get("code")
                coded = code if isinstance(code, dict) else {}
                rows.append({"patient": pid, "element": fact["kind"],
                             "value": {True: "yes", False: "no"}.get(value, value),
                             "code": coded.get("code", ""), "system": coded.get("system", ""),
                             "date": fact.get("date", ""), "status": fact.get("status", "")})
        rows += [{"patient": pid, "element": "facts_complete", "value": key}
                 for key in record["facts_complete"]]
    columns = [*rows[0].keys(), "status"] if "status" not in rows[0] else list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, columns, restval="")
        out.writeheader()
        out.writerows(rows)
    return url, written


def _vocabulary_rows(existing: set[tuple[str, str]]) -> list[tuple]:
    """Concept rows for every declared kind's codes and value codings the CDM lacks."""
    from ql1706kg.inputs.omop.vocab import mapping
    from ql1706kg.protocol.terminology import terminology

    by_system = {system: vocabulary for vocabulary, system in mapping()["vocabularies"].items()}
    wanted = {(by_system[s], c) for kind in terminology().fact_kinds.values()
              if kind.built_in is None
              for s, c in [*kind.codes, *(token for token, _ in kind.values)]
              if s in by_system}
    wanted |= {(v, c) for v, c, _ in PERSONS.values()}
    rows = []
    for n, (vocabulary, code) in enumerate(sorted(wanted - existing)):
        rows.append((FIRST_CONCEPT + n, f"{vocabulary} {code}", "Measurement", vocabulary,
                     "Lab Test", "S", code, "1970-01-01", "2099-12-31"))
    return rows


def _add_facts(execute, fetch, schema: str, written) -> None:
    """The declared kinds' concepts, and each record's HBsAg results as measurements (SQL both
    engines run)."""
    from ql1706kg.inputs.omop.vocab import mapping
    from ql1706kg.protocol.terminology import terminology

    existing = {(v, c) for v, c in fetch(f"SELECT vocabulary_id, concept_code FROM "
                                         f"{schema}.concept")}
    execute(f"INSERT INTO {schema}.concept (concept_id, concept_name, domain_id, "
            "vocabulary_id, concept_class_id, standard_concept, concept_code, "
            "valid_start_date, valid_end_date) VALUES " + ", ".join(
                f"({r[0]}, '{r[1]}', '{r[2]}', '{r[3]}', '{r[4]}', '{r[5]}', '{r[6]}', "
                f"DATE '{r[7]}', DATE '{r[8]}')" for r in _vocabulary_rows(existing)))
    ids = {(v, c): i for i, v, c in fetch(f"SELECT concept_id, vocabulary_id, concept_code "
                                          f"FROM {schema}.concept")}
    by_system = {system: vocabulary for vocabulary, system in mapping()["vocabularies"].items()}
    kinds = terminology().fact_kinds
    records = {r["id"]: r for r in _records()}
    rows = []
    for pid, rid in sorted(written.persons.items()):
        for fact in records[rid]["facts"]:
            if fact["kind"] != "hbsag":  # the others are in the supplement
                continue
            vocabulary = by_system[fact["code"]["system"]]
            labels = {label: (by_system[s], c) for (s, c), label in kinds[fact["kind"]].values}
            value = labels.get(fact["value"], PERSONS[rid][:2])
            rows.append(f"({800_000 + len(rows)}, {pid}, "
                        f"{ids[(vocabulary, fact['code']['code'])]}, DATE '{fact['date']}', "
                        f"32817, {ids[value]}, '{fact['code']['code']}')")
    execute(f"INSERT INTO {schema}.measurement (measurement_id, person_id, "
            "measurement_concept_id, measurement_date, measurement_type_concept_id, "
            "value_as_concept_id, measurement_source_value) VALUES " + ", ".join(rows))


def _duckdb(records, folder):
    return duckdb_cdm(records, folder)


def _postgres(records, folder):
    return postgres_cdm(records, folder, "declared")


@pytest.fixture(scope="module")
def duckdb_plain(tmp_path_factory):
    """The CDM without the declared kinds' concepts (the fallback's)."""
    use_protocol(FOLDER)
    try:
        return _cdm_and_supplement(tmp_path_factory.mktemp("declared-plain"), _duckdb)
    finally:
        use_protocol(None)


@pytest.fixture(scope="module")
def duckdb_declared(tmp_path_factory):
    import duckdb

    use_protocol(FOLDER)
    try:
        url, written = _cdm_and_supplement(tmp_path_factory.mktemp("declared-duck"), _duckdb)
        connection = duckdb.connect(url.removeprefix("duckdb://"))
        _add_facts(connection.execute, lambda q: connection.execute(q).fetchall(), "main",
                   written)
        connection.close()
        return url, written
    finally:
        use_protocol(None)


@pytest.fixture(scope="module")
def postgres_declared(tmp_path_factory):
    import psycopg

    use_protocol(FOLDER)
    try:
        url, written = _cdm_and_supplement(tmp_path_factory.mktemp("declared-pg"), _postgres)
        with psycopg.connect(url.rpartition("&schema=")[0]) as connection:
            _add_facts(connection.execute, lambda q: connection.execute(q).fetchall(), "cdm",
                       written)
        return url, written
    finally:
        use_protocol(None)


@pytest.fixture(scope="module")
def from_json():
    use_protocol(FOLDER)
    try:
        result = screen(_records(), as_of=AS_OF)
        assert not result.errors
        return {p.id: {c.id: c.outcome for c in p.criteria} for p in result.patients}
    finally:
        use_protocol(None)


def _spec(url: str, written) -> OmopInput:
    """The CDM's persons by id (no second pass over the vocabulary for the sarcomas)."""
    return OmopInput(url, person_ids=tuple(written.persons),
                     supplement=written.files["supplement"])


def _screened(url, written) -> dict[str, dict[str, str]]:
    use_protocol(FOLDER)
    result = screen([_spec(url, written)], as_of=AS_OF)
    assert not result.errors, result.errors
    return {written.persons[int(p.id)]: {c.id: c.outcome for c in p.criteria}
            for p in result.patients}


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_declared_kinds_read_from_the_cdm_give_the_json_outcomes(engine, request, from_json):
    url, written = request.getfixturevalue(f"{engine}_declared")
    got = _screened(url, written)
    assert from_json["S28-08"]["EX6"] == "not_met"  # HBsAg positive: excluded
    assert from_json["S28-08-negative"]["EX6"] == "met"
    assert from_json["S28-08-reactive"]["EX6"] != "met"  # a value the kind cannot read
    diff = {(p, c): (o, from_json[p].get(c)) for p, row in got.items() for c, o in row.items()
            if from_json[p].get(c) != o}
    # no difference: the HBsAg results come from the CDM, and what no CDM can hold (the
    # investigator's judgements, the screening CodeSystem's statements) from the site
    # supplement, which speaks for these persons as their JSON records do
    assert diff == {}


def test_duckdb_and_postgresql_read_identical_declared_facts(duckdb_declared,
                                                             postgres_declared):
    def facts(url, written):
        use_protocol(FOLDER)
        spec = _spec(url, written)
        return {written.persons[int(item.raw["id"])]: (
            item.raw.get("facts"),
            [{**a, "source": a["source"] == parse_url(url).shown}
             for a in item.raw.get("set_aside", [])])
            for item in read_cdm(spec) if hasattr(item, "raw")}

    duck = facts(*duckdb_declared)
    assert duck == facts(*postgres_declared)
    hbsag = {rid: [f for f in got[0] if f["kind"] == "hbsag"] for rid, got in duck.items()}
    assert hbsag["S28-08"] == [{"kind": "hbsag", "code": {
        "system": "http://loinc.org", "code": "5196-1", "display": "LOINC 5196-1"},
        "value": "positive", "date": "2027-03-05"}]
    assert hbsag["S28-08-negative"][0]["value"] == "negative"
    assert hbsag["S28-08-reactive"][0]["value"] == "LOINC LA11882-0"  # as written
    # nothing set aside: the supplement speaks for each person on what no CDM can hold
    assert all(got[1] == [] for got in duck.values())


def test_a_kind_the_vocabulary_cannot_say_is_set_aside_unless_the_supplement_gives_it(
        duckdb_plain):
    url, written = duckdb_plain
    use_protocol(FOLDER)
    spec = _spec(url, written)
    items = read_cdm(spec)
    notes = [i for i in items if type(i).__name__ == "InputNote"]
    assert len(notes) == 1 and "hbsag" in notes[0].message and "hiv-test" in notes[0].message
    records = {written.persons[int(i.raw["id"])]: i.raw for i in items if hasattr(i, "raw")}
    for record in records.values():
        aside = {a["kind"]: a for a in record["set_aside"]}
        # the supplement carries declared kinds' facts and facts_complete into the record;
        # what it gives is never set aside
        assert set(record["facts_complete"]) == set(_records()[0]["facts_complete"])
        assert {"first-dose", "organ-function-adequate"} <= {f["kind"] for f in record["facts"]}
        assert not aside.keys() & {*record["facts_complete"], "first-dose",
                                   "organ-function-adequate"}
        assert aside["hbsag"] == {
            "section": "facts", "kind": "hbsag", "source": parse_url(url).shown,
            "field": "vocabulary",
            "reason": "the database's vocabulary has no concept for any of hbsag's codes; "
                      "give it in the site supplement"}
    # the command line: the note once on stderr; EX6 of no person met (no HBsAg concept: the
    # negative person is not excluded-by-absence)
    from click.testing import CliRunner

    from ql1706kg.cli import main

    ids = ",".join(map(str, written.persons))
    result = CliRunner().invoke(main, [
        "screen", "--omop", url, "--person-ids", ids, "--supplement",
        str(written.files["supplement"]), "--protocol", str(FOLDER), "--as-of", AS_OF,
        "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert result.stderr.count("cannot be read from") == 1
    assert "hbsag" in result.stderr
    got = {written.persons[int(p["id"])]: {c["id"]: c["outcome"] for c in p["criteria"]}
           for p in json.loads(result.stdout)["patients"]}
    assert len(got) == 3
    assert all(row["EX6"] != "met" for row in got.values())


# -- one row of declared.sql as a fact, every value type (no database) -------------------------

def _plan_and_vocabulary(kind):
    from ql1706kg.inputs.omop.declared import DeclaredPlan
    from ql1706kg.inputs.omop.vocab import Vocabulary

    vocabulary = Vocabulary(None, "")
    for row in [(1, "LOINC", "5196-1", "HBsAg", "Lab Test"),
                (2, "SNOMED", "10828004", "Positive", "Qualifier Value"),
                (3, "SNOMED", "373066001", "Yes", "Qualifier Value"),
                (4, "UCUM", "mg", "milligram", "Unit"),
                (5, "LOINC", "LA11882-0", "Reactive", "Answer"),
                (6, "UCUM", "g", "gram", "Unit")]:
        vocabulary.add(row)
    found = DeclaredPlan(declared={kind.key: kind}, values={kind.key: {2: "positive"}})
    for table in ("measurement", "observation", "condition_occurrence", "drug_exposure"):
        found.kinds[table] = {1: (kind.key,)}
        found.words[table] = {"5196-1": (kind.key,)}
    return found, vocabulary


def _row(table="measurement", concept=1, number=None, value=None, text=None, unit=None,
         unit_text=None, end=None, status=None, source="5196-1", operator=None):
    return (table, 7, 70, concept, None, source, "2027-03-05", end, number, value, text, unit,
            unit_text, status, operator)


@pytest.mark.parametrize(("value_type", "unit", "row", "expected"), [
    ("coded", None, _row(value=2), {"value": "positive"}),
    ("coded", None, _row(value=5), {"value": "Reactive"}),  # not a coding of the kind: as written
    ("coded", None, _row(text=" weakly reactive "), {"value": "weakly reactive"}),
    ("coded", None, _row(), {}),  # no value at all
    ("boolean", None, _row(value=3), {"value": True}),
    ("boolean", None, _row(value=2), {"value": "Positive"}),
    ("quantity", "mg", _row(number=5.0, unit=4), {"value": 5.0, "unit": "mg"}),
    ("quantity", "mg", _row(number=5.0, unit=6), {"value": 5.0, "unit": "g"}),
    ("quantity", "mg", _row(number=5.0, unit_text="mg/d"), {"value": 5.0, "unit": "mg/d"}),
    # OMOP's operator concepts: a bound is no exact value, given as written (the lift sets it
    # aside); '=' (4172703) is the value itself
    ("quantity", "mg", _row(number=5.0, unit=4, operator=4171756), {"value": "<5", "unit": "mg"}),
    ("quantity", "mg", _row(number=5.0, unit=4, operator=4171755),
     {"value": ">=5", "unit": "mg"}),
    ("quantity", "mg", _row(number=5.0, unit=4, operator=4172703), {"value": 5.0, "unit": "mg"}),
    ("coded", None, _row(number=5.0, operator=4172704), {"value": ">5"}),
    ("date", None, _row(text="2027-03-16"), {"value": "2027-03-16"}),
    ("presence", None, _row("condition_occurrence", value=2), {"status": "active"}),
    ("presence", None, _row("condition_occurrence", end="2027-01-01"), {"end": "2027-01-01"}),
    ("presence", None, _row("condition_occurrence", status="resolved"), {"status": "resolved"}),
    ("presence", None, _row("drug_exposure"), {"status": "completed"}),
    ("presence", None, _row(concept=0), {}),  # unmapped: read by its source value
])
def test_a_row_is_a_fact_of_its_kind(value_type, unit, row, expected):
    from ql1706kg.inputs.omop.declared import facts_of
    from ql1706kg.protocol.fact_kinds import FactKind

    kind = FactKind(iri=None, key="k", label="k", value_type=value_type, dated=True, unit=unit,
                    values=((("http://snomed.info/sct", "10828004"), "positive"),))
    found, vocabulary = _plan_and_vocabulary(kind)
    fact = facts_of(found, vocabulary, row, "duckdb:///x")[0]
    code = ({"system": "http://loinc.org", "code": "5196-1", "display": "HBsAg"}
            if row[3] else "5196-1")
    assert fact == {"kind": "k", "code": code, "date": "2027-03-05", **expected}


def test_a_row_of_no_declared_concept_gives_no_fact():
    from ql1706kg.inputs.omop.declared import facts_of
    from ql1706kg.protocol.fact_kinds import FactKind

    kind = FactKind(iri=None, key="k", label="k", value_type="presence", dated=True)
    found, vocabulary = _plan_and_vocabulary(kind)
    assert facts_of(found, vocabulary, _row(concept=99, source="x"), "s") == []
    assert facts_of(found, vocabulary, _row("specimen"), "s") == []  # not a table of the kind


@pytest.mark.parametrize(("answered", "lacking", "aside"), [
    (False, "site", True), (True, "site", False),
    (False, "vocabulary", True), (True, "vocabulary", True)])
def test_only_the_supplement_speaks_for_a_kind_no_cdm_can_hold(answered, lacking, aside):
    """A kind no CDM can hold (no code in a vocabulary, no table) is the supplement's: for a
    person it has rows of, what it lacks the person does not have (as in a JSON record); for
    a person it has none of, nothing says so, and the kind is set aside. A kind whose codes
    this database's vocabulary lacks stays set aside either way: its rows may be unmapped."""
    from ql1706kg.inputs.omop.declared import settle

    record = settle({"id": "1", "facts": []}, (("judged", lacking, "why"),), "db", answered)
    assert bool(record.get("set_aside")) is aside
