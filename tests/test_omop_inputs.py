"""Issue 26: --omop on the command line, candidates, the supplement, and bad input of each kind.

An unreachable database exits 3 naming the host (never a password, which the URL may not even
carry); a database that is no CDM, lacks the vocabulary, or lacks a table or column the reader
needs is an input error naming it; a person whose rows contradict each other is one input
error and the others are screened.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ql1706kg.api import screen
from ql1706kg.cli import main
from ql1706kg.cli.omop import person_ids
from ql1706kg.errors import InputError
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.connect import UrlError, parse_url
from ql1706kg.inputs.omop.read import first_occurrences, read_omop

from .conftest import AS_OF, BASE
from .omop_support import duckdb_cdm, read_cdm

OTHER = {**copy.deepcopy(BASE), "id": "QL-OTHER", "sex": "female",
         "birth_date": "1980-01-02"}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Two eligible-looking persons (1: the base record, 2: a woman) in a DuckDB CDM."""
    return duckdb_cdm([BASE, OTHER], tmp_path_factory.mktemp("small"))


def altered(small, tmp_path, *statements: str) -> str:
    """A copy of the small CDM changed by SQL statements; its URL."""
    url, _ = small
    path = tmp_path / "changed.duckdb"
    shutil.copy(parse_url(url).target, path)
    connection = duckdb.connect(str(path))
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return f"duckdb://{path}"


@pytest.mark.parametrize(("url", "engine", "schema", "vocabulary"), [
    ("duckdb:///data/cdm.duckdb", "duckdb", "main", "main"),
    ("duckdb:cdm.duckdb?schema=cdm", "duckdb", "cdm", "cdm"),
    ("postgresql://db.example.org/ohdsi?schema=cdm&vocabulary_schema=vocab", "postgresql",
     "cdm", "vocab"),
    ("postgres:///ohdsi?service=omop", "postgresql", "public", "public"),
])
def test_urls(url, engine, schema, vocabulary):
    parsed = parse_url(url)
    assert (parsed.engine, parsed.schema, parsed.vocabulary_schema) == (engine, schema,
                                                                          vocabulary)
    assert "schema" not in parsed.target.partition("?")[2].split("=")[0]


@pytest.mark.parametrize("url", [
    "postgresql://reader:s3cret@db.example.org/ohdsi", "postgresql:///ohdsi?password=s3cret",
    "mysql://db/x", "duckdb:///cdm.duckdb?schema=drop table", "duckdb://host/cdm.duckdb",
    "duckdb:///cdm.duckdb?user=x"])
def test_refused_urls(url):
    with pytest.raises(UrlError) as refused:
        parse_url(url)
    assert "s3cret" not in str(refused.value)


_WORD = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)


@given(user=_WORD, secret=_WORD, host=_WORD, query=st.booleans())
def test_no_url_with_a_password_is_accepted_nor_its_password_shown(user, secret, host, query):
    password = f"Pw~{secret}~"  # a password no message could hold by chance
    url = (f"postgresql://{user}@{host}/db?password={password}" if query
           else f"postgresql://{user}:{password}@{host}/db")
    with pytest.raises(UrlError) as refused:
        parse_url(url)
    assert password not in str(refused.value)


def test_a_password_on_the_command_line_is_a_usage_error_that_does_not_repeat_it():
    result = run("screen", "--omop", "postgresql://reader:s3cret@localhost/ohdsi")
    assert result.exit_code == 2 and "password" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_an_unreachable_database_exits_3_naming_the_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens
    result = run("screen", "--omop", f"postgresql://127.0.0.1:{port}/ohdsi?schema=cdm",
                 "--as-of", AS_OF)
    assert result.exit_code == 3
    assert f"127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_duckdb_file_exits_3_naming_it(tmp_path):
    result = run("screen", "--omop", f"duckdb://{tmp_path}/none.duckdb", "--as-of", AS_OF)
    assert result.exit_code == 3 and "none.duckdb" in result.stderr


def test_options_of_omop_need_it_and_paths_or_omop_are_needed(small):
    url, _written = small
    assert run("screen", "--as-of", AS_OF).exit_code == 2
    assert "needs --omop" in run("screen", "x.json", "--closed-world").stderr
    both = run("screen", "--omop", url, "--person-ids", "1", "--cohort-id", "3")
    assert both.exit_code == 2 and "give one" in both.stderr
    assert run("screen", "--omop", url, "--person-ids", "1,x").exit_code == 2
    output = parse_url(url).target
    clash = run("screen", "--omop", url, "-o", output)
    assert clash.exit_code == 2 and "is one of the inputs" in clash.stderr


@pytest.mark.parametrize(("text", "ids"), [
    ("1,2 3\n4", [1, 2, 3, 4]),
    ("5 # a comment, 6\n7", [5, 7]),
    ("8 # a comment ending at a carriage return\r9", [8, 9]),  # any line break str knows
    ("10\u202f11\t,12,,", [10, 11, 12]),  # a Unicode space, a tab, empty words
    ("-3 +4 9223372036854775807", [-3, 4, 2**63 - 1]),
    ("# nothing but a comment", []),
])
def test_person_ids_are_read_word_by_word_as_64_bit_integers(text, ids):
    assert list(person_ids(text)) == ids


@pytest.mark.parametrize("bad", ["1,x", "1 2.5", "9223372036854775808", "7e3"])
def test_a_word_that_is_no_64_bit_integer_is_named(bad):
    with pytest.raises(ValueError, match="is not a person_id"):
        person_ids(bad)


@given(st.lists(st.one_of(st.integers(0, 60), st.integers(-2**63, 2**63 - 1)), max_size=60))
def test_each_candidate_once_in_the_order_given(ids):
    """Dense ids (a bitmap of their range) and sparse ones (a set) alike."""
    assert list(first_occurrences(ids)) == list(dict.fromkeys(ids))


@pytest.mark.parametrize(("statements", "named"), [
    (["DROP TABLE concept"], "concept"),
    (["ALTER TABLE measurement DROP COLUMN range_high"], "measurement.range_high"),
    (["DROP TABLE drug_exposure"], "drug_exposure"),
    (["DROP TABLE person"], "person"),
])
def test_a_missing_table_or_column_is_named(small, tmp_path, statements, named):
    url = altered(small, tmp_path, *statements)
    items = read_cdm(OmopInput(url, person_ids=(1,)))
    (error,) = items
    assert isinstance(error, InputError) and named in str(error)
    result = run("screen", "--omop", url, "--as-of", AS_OF)
    assert result.exit_code == 1 and named.split(".")[-1] in result.stderr


@pytest.mark.parametrize("statement", [
    "INSERT INTO death (person_id, death_date, death_type_concept_id) VALUES "
    "(1, '2030-01-01', 32817), (1, '2031-01-01', 32817)",
    "UPDATE person SET day_of_birth = 16 WHERE person_id = 1",
    "UPDATE person SET month_of_birth = 2, day_of_birth = 30, birth_datetime = NULL "
    "WHERE person_id = 1",
])
def test_a_person_whose_rows_contradict_each_other_is_one_error(small, tmp_path, statement):
    url = altered(small, tmp_path, statement)
    items = list(read_omop(OmopInput(url), True))
    assert [(type(i).__name__, i.record if isinstance(i, InputError) else i.id)
            for i in items] == [
        ("InputError", "1"), ("SourcedRecord", "2")]
    assert items[0].field.startswith(("death.", "person."))


def test_bounds_partial_birth_dates_and_unreadable_rows_reach_the_screening(small, tmp_path):
    """operator_concept_id makes a bound (AST '>': it may exceed the limit, unknown; ALT '<':
    every value it allows meets it), a year of birth without month and day a partial birth
    date (never an invented day), and a value concept the vocabulary lacks, or a history of
    metastasis with a value, a fact set aside: in the record each person's process assembles,
    so they reach the output whichever process screens the person."""
    url = altered(small, tmp_path,
                  "UPDATE measurement SET operator_concept_id = 4172704 "
                  "WHERE measurement_source_value = 'AST'",
                  "UPDATE measurement SET operator_concept_id = 4171756 "
                  "WHERE measurement_source_value = 'ALT'",
                  "UPDATE measurement SET value_as_number = NULL, value_as_concept_id = 999999 "
                  "WHERE measurement_source_value = 'creatinine'",
                  "UPDATE person SET month_of_birth = NULL, day_of_birth = NULL, "
                  "birth_datetime = NULL WHERE person_id = 1")
    _, written = small
    (record,) = [i for i in read_cdm(OmopInput(url, person_ids=(1,))) if hasattr(i, "raw")]
    raw = record.raw
    assert raw["birth_date"] == BASE["birth_date"][:4]
    bounds = {o["test"]: o.get("comparator") for o in raw["observations"]}  # by their labels
    assert bounds["aspartate aminotransferase"] == ">" and "creatinine" not in bounds
    assert bounds["alanine aminotransferase"] == "<"
    (aside,) = raw["set_aside"]
    assert aside["section"] == "observations" and aside["test"] == "creatinine"
    assert aside["source"].endswith("#measurement/" + aside["source"].rpartition("/")[2])
    result = screen([OmopInput(url, person_ids=(1,), supplement=written.files["supplement"])],
                    as_of=AS_OF)
    criteria = {c.id: c for c in result.patients[0].criteria}
    assert criteria["IC9.2-AST"].outcome == "unknown" and criteria["IC9.2-ALT"].outcome == "met"
    assert criteria["IC2"].outcome == "met"  # born in 1970: every age it allows is in range
    assert criteria["IC9.3-CR"].outcome == "unknown"
    assert "value concept" in criteria["IC9.3-CR"].explanation


def test_candidates_from_an_atlas_cohort_or_an_id_file(small, tmp_path, monkeypatch):
    url = altered(small, tmp_path, "CREATE SCHEMA results",
                  "CREATE TABLE results.cohort AS SELECT * FROM cohort",
                  "INSERT INTO results.cohort VALUES (7, 2, '2026-01-01', '2026-12-31')")

    def ids(**options) -> list[str]:
        items = read_cdm(OmopInput(url, **options))
        return [i.raw["id"] for i in items if hasattr(i, "raw")]

    assert ids(cohort_id=7, cohort_schema="results") == ["2"]
    assert ids(cohort_id=8, cohort_schema="results") == []
    (error,) = read_cdm(OmopInput(url, cohort_id=7, cohort_schema="nowhere"))
    assert isinstance(error, InputError) and "nowhere.cohort" in str(error)
    listed = tmp_path / "ids.txt"
    listed.write_text("# screening list\n2\n1\n77\n")
    result = run("screen", "--omop", url, "--person-ids", f"@{listed}", "--as-of", AS_OF,
                 "--format", "json")
    assert result.exit_code == 1 and "person/77" in result.stderr
    assert [p["id"] for p in json.loads(result.stdout)["patients"]] == ["2", "1"]
    # checked a few at a time: each given id once, in order, the unknown ones named once
    monkeypatch.setattr("ql1706kg.inputs.omop.read.CHECKED_AT_ONCE", 2)
    items = read_cdm(OmopInput(url, person_ids=(2, 77, 1, 2, 77, 1)))
    assert [i.raw["id"] if hasattr(i, "raw") else i.record for i in items] == ["77", "2", "1"]


def test_the_supplement_completes_the_record_and_a_contradiction_is_one_error(small, tmp_path):
    url, written = small
    without = screen([OmopInput(url)], as_of=AS_OF)
    assert {c.id: c.outcome for c in without.patients[0].criteria}["IC1"] == "unknown"
    supplement = tmp_path / "supplement.csv"
    text = written.files["supplement"].read_text()
    supplement.write_text(text + "2,sex,male,,,,,,,\n")
    result = screen([OmopInput(url, supplement=supplement)], as_of=AS_OF)
    assert [p.verdict for p in result.patients] == ["eligible"]
    (error,) = result.errors
    assert error.record == "2" and error.field == "sex" and "supplement" in error.message


@pytest.mark.parametrize("command", ["lift", "report"])
def test_lift_and_report_read_the_cdm(small, tmp_path, command):
    url, written = small
    out = tmp_path / "out"
    out.mkdir()
    args = ["--omop", url, "--supplement", str(written.files["supplement"]), "--as-of", AS_OF]
    result = run(command, *args, "-o", str(out if command == "report" else out / "g.ttl"))
    assert result.exit_code == 0, result.stderr
    if command == "report":
        assert (out / "index.html").is_file() and "BASE" not in (out / "index.html").read_text()
        assert len(list((out / "patients").glob("*.html"))) == 2
    else:
        assert "w3id.org/ql1706kg/patient/2" in (out / "g.ttl").read_text()


def test_the_sparql_store_of_serve_loads_the_cdm(small):
    from ql1706kg.semweb.query import query_store
    from ql1706kg.semweb.query import run as run_query

    url, written = small
    with query_store([OmopInput(url, supplement=written.files["supplement"])],
                     as_of=AS_OF) as store:
        _, rows = run_query("PREFIX ql: <https://w3id.org/ql1706kg#> SELECT ?v WHERE "
                            "{ ?a a ql:Assessment ; ql:verdict ?v }", store)
    expected = screen([BASE, OTHER], as_of=AS_OF)
    assert sorted(r[0] for r in rows) == sorted(p.verdict for p in expected.patients)


def test_a_specimen_shows_a_sample_can_be_provided_unless_the_supplement_says_no(small,
                                                                                tmp_path):
    """specimen_concept_id SNOMED CT 119376003 (tissue), 122555007 (venous blood): IC7's
    samples are on record; the investigator's answer in the supplement wins."""
    url = altered(small, tmp_path,
                  "INSERT INTO concept VALUES (2100000001, 'Tissue specimen', 'Specimen', "
                  "'SNOMED', 'Specimen', 'S', '119376003', '1970-01-01', '2099-12-31', NULL), "
                  "(2100000002, 'Venous blood specimen', 'Specimen', 'SNOMED', 'Specimen', "
                  "'S', '122555007', '1970-01-01', '2099-12-31', NULL)",
                  "INSERT INTO specimen (specimen_id, person_id, specimen_concept_id, "
                  "specimen_type_concept_id, specimen_date) VALUES "
                  "(1, 1, 2100000001, 32817, '2025-01-20'), (2, 1, 2100000002, 32817, "
                  "'2026-11-12'), (3, 2, 2100000001, 32817, '2025-01-20')")
    read = {r.raw["id"]: r.raw for r in read_cdm(OmopInput(url)) if hasattr(r, "raw")}
    assert read["1"]["samples"] == {"tumour_tissue": True, "blood": True}
    supplement = tmp_path / "supplement.csv"
    supplement.write_text("patient,element,value\n2,tumour_tissue,no\n")
    read = {r.raw["id"]: r.raw for r in read_cdm(OmopInput(url, supplement=supplement))
            if hasattr(r, "raw")}
    assert read["2"]["samples"] == {"tumour_tissue": False}


class _Refusing:
    """A DuckDB connection whose statements fail while its memory is limited (as one that
    needs more memory than the bound, or a spill the read-only file cannot write, would)."""

    def __init__(self, refuse_under_mb: int | None = None) -> None:
        self.limited, self.ran = False, []
        self.refuse_under_mb = refuse_under_mb  # None: every bound is too small

    def execute(self, query: str):
        self.ran.append(query)
        if query.startswith("SET memory_limit"):
            self.limited = self.refuse_under_mb is None or int(
                query.split("'")[1].removesuffix("MB")) < self.refuse_under_mb
        elif query.startswith("RESET memory_limit"):
            self.limited = False
        elif self.limited:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate")
        return duckdb.connect().execute("SELECT 1")

    def close(self) -> None:
        pass


def test_a_statement_that_fails_under_duckdbs_memory_bound_runs_again_without_it():
    from ql1706kg.inputs.omop.connect import DUCKDB_MEMORY, Database, QueryFailed

    connection = _Refusing()
    db = Database(parse_url("duckdb:///cdm.duckdb"), connection)
    db.bound_cache()
    assert db.rows("SELECT 1") == [(1,)] and not connection.limited
    assert connection.ran[-2:] == ["RESET memory_limit", "SELECT 1"]
    # the bound doubled at each failure before it was given up
    assert f"SET memory_limit = '{2 * DUCKDB_MEMORY}MB'" in connection.ran
    connection.limited = True  # unbounded now: a failure is the database's, named
    with pytest.raises(QueryFailed, match="Out of Memory"):
        db.rows("SELECT 2")


def test_a_statement_that_needs_more_memory_doubles_the_bound_for_the_rest_of_the_run():
    from ql1706kg.inputs.omop.connect import DUCKDB_MEMORY, Database

    connection = _Refusing(refuse_under_mb=3 * DUCKDB_MEMORY)
    db = Database(parse_url("duckdb:///cdm.duckdb"), connection)
    db.bound_cache()
    assert db.rows("SELECT 1") == [(1,)] and db.bound_mb == 4 * DUCKDB_MEMORY
    assert "RESET memory_limit" not in connection.ran  # still bounded
    ran = len(connection.ran)
    assert db.rows("SELECT 1") == [(1,)] and len(connection.ran) == ran + 1  # once, bounded


def test_a_killed_sessions_cluster_folder_is_swept_and_a_running_ones_is_not(tmp_path):
    """A test run killed before its sessionfinish left its PostgreSQL cluster running; the
    next session stops it. The folders here have no cluster started (nothing to stop)."""
    import tempfile

    from .omop_support import sweep_stale_clusters

    dead, alive = (Path(tempfile.mkdtemp(prefix="qlpg-", dir="/tmp")) for _ in range(2))
    (dead / "owner").write_text(str(2**22 + 12345))  # above pid_max's default: no process
    (alive / "owner").write_text(str(os.getpid()))
    try:
        sweep_stale_clusters(tmp_path)
        assert not dead.exists() and alive.exists()
    finally:
        shutil.rmtree(dead, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)
