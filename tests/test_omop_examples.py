"""Issue 26: patients screened in an OMOP CDM get the outcomes their JSON records get.

The bundled example patients (and seeded synthetic ones meant to break assumptions: changed
units, stale dates, unknown drugs, missing sections) are written into CDMs by the writer of
ql1706kg.inputs.omop.write (OHDSI's v5.4/v5.3 DDL, a mini vocabulary without the gender
concepts, what the CDM cannot hold in a site supplement), then screened in place: every verdict
and all 28 outcomes must equal the JSON path's, through DuckDB and PostgreSQL alike, and both
engines must give the very same facts.
"""

from __future__ import annotations

import threading
from itertools import pairwise

import pytest

from ql1706kg.api import screen
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.connect import connect, parse_url
from ql1706kg.inputs.omop.schema import read_schema
from ql1706kg.inputs.synthetic import patients

from .omop_support import EXAMPLES, duckdb_cdm, example_records, postgres_cdm, read_cdm

AS_OF = "2026-11-20"


def outcomes(screening, names: dict[str, str] | None = None) -> dict[str, tuple]:
    """patient -> (verdict, {criterion: outcome}); OMOP person ids named by their record id."""
    out = {}
    for patient in screening.patients:
        key = names[patient.id] if names else patient.id
        out[key] = (patient.verdict, {c.id: c.outcome for c in patient.criteria})
    return out


def screened(url: str, written, **options):
    return screen([OmopInput(url, supplement=written.files["supplement"], **options)],
                  as_of=AS_OF)


@pytest.fixture(scope="module")
def from_json():
    result = screen([EXAMPLES], as_of=AS_OF)
    assert not result.errors
    return outcomes(result)


@pytest.fixture(scope="module")
def duckdb_examples(tmp_path_factory):
    return duckdb_cdm(example_records(), tmp_path_factory.mktemp("omop-duckdb"))


@pytest.fixture(scope="module")
def postgres_examples(tmp_path_factory):
    return postgres_cdm(example_records(), tmp_path_factory.mktemp("omop-pg"), "examples")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def examples_cdm(request):
    return request.getfixturevalue(f"{request.param}_examples")


def test_every_example_gives_the_json_verdict_and_all_28_outcomes(examples_cdm, from_json):
    url, written = examples_cdm
    result = screened(url, written)
    assert not result.errors
    got = outcomes(result, {str(k): v for k, v in written.persons.items()})
    assert set(got) == set(from_json) and len(got) == 19
    for patient, (verdict, criteria) in from_json.items():
        assert len(criteria) == 28
        assert got[patient] == (verdict, criteria), patient


def test_duckdb_and_postgresql_give_identical_facts(duckdb_examples, postgres_examples):
    def records(url, written):
        spec = OmopInput(url, supplement=written.files["supplement"])
        return [(item.source.rpartition("#")[2], item.raw) for item in read_cdm(spec)
                if hasattr(item, "raw")]

    duck, pg = records(*duckdb_examples), records(*postgres_examples)
    assert len(duck) == 19 and duck == pg


def test_the_database_opened_again_between_batches_gives_the_same_records(duckdb_examples,
                                                                          monkeypatch):
    """The reading process opens a DuckDB database again every few batches (what the instance
    keeps of its statements is freed): batches from 2 persons up, opened again before every one
    from the first, read every example as one run without it does."""
    import ql1706kg.inputs.omop.read_ahead as read_ahead
    from ql1706kg.inputs.omop.connect import Database

    url, written = duckdb_examples

    def records(**options):
        spec = OmopInput(url, supplement=written.files["supplement"], **options)
        return [(item.source, getattr(item, "raw", None) or str(item)) for item in read_cdm(spec)]

    whole = records()
    renewed = []
    real = Database.renew

    def counted(self):
        renewed.append(self.connection)
        real(self)

    monkeypatch.setattr(read_ahead, "RENEW_AFTER_BATCHES", 1)
    monkeypatch.setattr(Database, "renew", counted)
    assert records(batch_size=2) == whole
    assert len(renewed) >= 2 and len({id(c) for c in renewed}) == len(renewed)


def test_rows_run_ahead_wait_in_the_engine_until_their_batch_asks_for_them(duckdb_examples,
                                                                           monkeypatch):
    """The next batch's statements run while a batch is handed out, each on a connection of
    its own, and their rows stay in DuckDB's result until their batch asks for them (not a
    second batch of Python tuples). A DuckDB connection holds one result, so none may run a
    statement while it holds rows not fetched: on every connection the reading ahead uses,
    each statement run is fetched before the next one runs, and the records are the same."""
    from ql1706kg.inputs.omop.connect import Database

    url, written = duckdb_examples

    def records(**options):
        spec = OmopInput(url, supplement=written.files["supplement"], **options)
        return [(item.source, getattr(item, "raw", None) or str(item)) for item in read_cdm(spec)]

    whole = records()
    events: dict[int, list[str]] = {}
    threads: set[tuple[str, str]] = set()  # (what, which thread)

    class Watched:
        def __init__(self, inner):
            self.inner = inner
            events[id(self)] = []

        def execute(self, sql):
            events[id(self)].append("run")
            threads.add(("run", threading.current_thread().name.split("_")[0]))
            self.inner.execute(sql)
            return self

        def fetchmany(self, size):
            events[id(self)].append("fetch")
            threads.add(("fetch", threading.current_thread().name.split("_")[0]))
            return self.inner.fetchmany(size)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    real = Database.twin

    def twin(self):
        made = real(self)
        made.connection = Watched(made.connection)
        return made

    monkeypatch.setattr(Database, "twin", twin)
    monkeypatch.setattr("ql1706kg.inputs.omop.read.BATCH_GROWTH", 1)  # two by two throughout
    assert records(batch_size=2) == whole
    runs = [e for seen in events.values() for e in seen if e == "run"]
    assert len(runs) >= 10  # 19 persons two by two: every batch's statements ran ahead
    for seen in filter(None, events.values()):  # each statement run is fetched before the
        assert seen[0] == "run" and "run" not in seen[-1:], seen  # next one runs on it
        assert all(after == "fetch" for before, after in pairwise(seen)
                   if before == "run"), seen
    # run in the thread ahead, fetched where the batch is handed out
    assert threads == {("run", "omop-read-ahead"), ("fetch", "MainThread")}


def test_the_default_candidates_are_everyone_with_a_sarcoma_on_record(duckdb_examples):
    """Every example has a sarcoma (synovial sarcoma included): all 19 are candidates, in
    person_id order, without naming them."""
    url, written = duckdb_examples
    ids = [item.raw["id"] for item in read_cdm(OmopInput(url)) if hasattr(item, "raw")]
    assert ids == [str(i) for i in sorted(written.persons)]


def test_cdm_v53_without_a_hierarchy_read_closed_world(tmp_path, from_json):
    """v5.3 (no episodes, no measurement_event_id), an empty concept_ancestor (drugs read by
    their names), no list marked complete in the supplement: --closed-world reads the absent
    lists as none, for persons with an observation period."""
    records = example_records()
    url, written = duckdb_cdm(records, tmp_path, version="5.3", hierarchy=False,
                              complete_lists=False)
    db = connect(parse_url(url))
    try:
        schema = read_schema(db, url)
        assert schema.version == "5.3" and "concept_ancestor" not in schema.nonempty
        assert not schema.has("episode")
    finally:
        db.close()
    names = {str(k): v for k, v in written.persons.items()}
    lists = ("metastases", "prior_therapies", "supportive_care")
    complete = {r["id"] for r in records if all(key in r for key in lists)}
    closed = outcomes(screened(url, written, closed_world=True), names)
    assert {k: v for k, v in closed.items() if k in complete} == {
        k: v for k, v in from_json.items() if k in complete}
    # A record that records none of the lists (the skeleton QL-COH-02) is read closed-world
    # as having none: that is what --closed-world says, and why it is off by default.
    assert "QL-COH-02" not in complete
    assert closed["QL-COH-02"][0] == "ineligible" and closed["QL-COH-02"][1]["IC5.1"] == "not_met"
    assert from_json["QL-COH-02"][1]["IC5.1"] == "unknown"
    # Without --closed-world, no support product on record is not "none given": the list is
    # absent (its criterion unknown, saying what to collect), as in a record that omits it.
    person = next(k for k, v in names.items() if v == "QL-LMS-001")
    (open_world,) = read_cdm(OmopInput(url, person_ids=(int(person),)))
    assert "supportive_care" not in open_world.raw
    assert closed[names[person]][1]["IC9.0"] == from_json["QL-LMS-001"][1]["IC9.0"] == "met"


def test_seeded_synthetic_patients_give_the_json_outcomes(tmp_path):
    """40 perturbed patients (units, stale dates, limits crossed, unknown drugs and products,
    missing sections); a record without a birth date cannot be a CDM person (OMOP drops it)."""
    records = list(patients(40, 26))
    url, written = duckdb_cdm(records, tmp_path)
    from_json = outcomes(screen([r for r in records if str(r["id"]) not in written.skipped],
                                as_of=AS_OF))
    # every person: a perturbation may remove the sarcoma the default candidates look for
    got = outcomes(screened(url, written, person_ids=tuple(written.persons)),
                   {str(k): v for k, v in written.persons.items()})
    assert len(got) == len(records) - len(written.skipped) > 35
    assert got == from_json


# Issue 20's classes a CDM can hold (tests/data/issue20/README.md): bounds as operator_concept_id,
# a year of birth without month and day, support courses from an exposure's start to its end,
# a metastasis whose condition ended, pregnancies as conditions, dated facts after the as-of.
ISSUE20 = ("bound-albumin-at-least", "bound-anc-below-limit-cannot-decide",
           "bound-anc-below-limit-decides", "bound-ast-below-uln-met", "course-ended-before-window",
           "implausible-value-set-aside", "late-fact-invisible", "liver-metastasis-active",
           "liver-metastasis-resolved", "partial-birth-year-decides",
           "partial-birth-year-straddles", "pregnancy-ended", "pregnancy-ongoing",
           "snomed-morphology-histology", "unit-k-per-mcl")


def test_issue20_classes_a_cdm_holds_give_the_json_outcomes(tmp_path):
    """Each fixture written into a CDM gives its JSON record's verdict and 28 outcomes (the
    bound, the partial birth date, the course, the resolution read, never set aside)."""
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "data" / "issue20"
    records = []
    for name in ISSUE20:
        record = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        records.append({**record, "id": name})
    url, written = duckdb_cdm(records, tmp_path)
    from_json = outcomes(screen(records, as_of=AS_OF))
    got = outcomes(screened(url, written, person_ids=tuple(written.persons)),
                   {str(k): v for k, v in written.persons.items()})
    assert not written.skipped
    assert {k: v for k, v in got.items() if v != from_json[k]} == {}
