"""The independent converter's site supplement and loaders (tests/omop_independent.py): what
the CDM cannot hold as the long table of docs/inputs/tables.md, and the tables written into
DuckDB and PostgreSQL with OHDSI's vendored v5.4 DDL."""

from __future__ import annotations

import csv
from pathlib import Path

DDL = Path(__file__).parents[1] / "ql1706kg" / "inputs" / "omop" / "ddl"


SUPPLEMENT_COLUMNS = ("patient", "element", "value", "unit", "date", "code", "system", "group",
                      "site", "slice_thickness")


def supplement(pid: int, record: dict, specimens: bool) -> list[dict]:
    """The long table's rows for what the CDM cannot hold."""
    rows: list[dict] = []

    def put(element, value="", **more):
        rows.append({"patient": pid, "element": element, "value": value, **more})

    yes = {True: "yes", False: "no"}
    consent = record.get("consent") or {}
    if consent.get("icf_signed"):
        put("icf_signed", consent["icf_signed"])
    if "able_to_comply" in consent:
        put("able_to_comply", yes[consent["able_to_comply"]])
    diagnosis = record.get("diagnosis") or {}
    for key in ("confirmed_at_this_institution", "resectable"):
        if key in diagnosis:
            put(key, yes[diagnosis[key]])
    if diagnosis.get("extent"):
        put("extent", diagnosis["extent"])
    for key, element in (("metastases", "no_metastases"), ("prior_therapies", "no_prior_therapy"),
                         ("supportive_care", "no_supportive_care")):
        if key in record:
            put(element)
    for therapy in record.get("prior_therapies") or []:
        if "intolerance" in therapy:
            put("intolerance", yes[therapy["intolerance"]], group=therapy["name"])
    recist = record.get("recist") or {}
    if "measurable_disease" in recist:
        put("recist_measurable", yes[recist["measurable_disease"]], date=recist.get("date", ""))
    for item in record.get("tumour_measurements") or []:
        put("tumour_measurement", item["sum_of_diameters_mm"], date=item.get("date", ""))
    for lesion in record.get("lesions") or []:
        size = lesion.get("short_axis_mm", lesion.get("longest_diameter_mm"))
        put("lesion", size, code=lesion.get("kind", ""), system=lesion.get("method", ""),
            site=lesion.get("site", ""), slice_thickness=lesion.get("slice_thickness_mm", ""),
            date=lesion.get("date", ""))
    survival = record.get("expected_survival")
    if survival:
        put("expected_survival", survival["value"], unit=survival["unit"],
            date=survival.get("date", ""))
    samples = record.get("samples") or {}
    if not specimens:
        for key, element in (("tumour_tissue", "tumour_tissue"), ("blood", "blood_sample")):
            if key in samples:
                put(element, yes[samples[key]])
    for key, value in (record.get("reproductive") or {}).items():
        if isinstance(value, bool):
            put(key, yes[value])
    return rows


def write_duckdb(cdm, folder: Path) -> tuple[str, Path]:
    """Create the v5.4 tables from OHDSI's DDL and load the rows: (url, supplement file)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "independent.duckdb"
    ddl = (DDL / "OMOPCDM_duckdb_5.4_ddl.sql").read_text(encoding="utf-8")
    db = duckdb.connect(str(path))
    try:
        db.execute(ddl.replace("@cdmDatabaseSchema.", "main."))
        db.execute("INSERT INTO main.cdm_source (cdm_source_name, cdm_source_abbreviation, "
                   "cdm_holder, source_release_date, cdm_release_date, cdm_version, "
                   "cdm_version_concept_id, vocabulary_version) VALUES ('independent ETL', "
                   "'indep', 'tests', DATE '2026-11-20', DATE '2026-11-20', 'v5.4', 756265, "
                   "'v5.0 test')")
        for table, rows in cdm.tables.items():
            columns = sorted({key for row in rows for key in row})
            csv_path = folder / f"{table}.csv"
            with csv_path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, columns)
                writer.writeheader()
                writer.writerows(rows)
            db.execute(f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT "
                       f"{', '.join(columns)} FROM read_csv('{csv_path}', header = true, "
                       "all_varchar = true)")
        for vocabulary in sorted({key[0] for key in cdm.concepts}):
            db.execute("INSERT INTO main.vocabulary VALUES (?, ?, '', '', 0)",
                       [vocabulary, vocabulary])
    finally:
        db.close()
    supplement_path = folder / "supplement.csv"
    with supplement_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, SUPPLEMENT_COLUMNS)
        writer.writeheader()
        writer.writerows(cdm.supplement)
    return f"duckdb://{path}", supplement_path


def write_postgres(cdm, folder: Path, uri: str, schema: str = "cdm") -> str:
    """The same tables in a PostgreSQL schema (OHDSI's PostgreSQL DDL, COPY of the CSV files
    write_duckdb wrote into ``folder``): the CDM's URL."""
    import psycopg

    ddl = (DDL / "OMOPCDM_postgresql_5.4_ddl.sql").read_text(encoding="utf-8")
    with psycopg.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(ddl.replace("@cdmDatabaseSchema.", f"{schema}."))
        cursor.execute(f"INSERT INTO {schema}.cdm_source (cdm_source_name, "
                       "cdm_source_abbreviation, cdm_holder, source_release_date, "
                       "cdm_release_date, cdm_version, cdm_version_concept_id, "
                       "vocabulary_version) VALUES ('independent ETL', 'indep', 'tests', "
                       "'2026-11-20', '2026-11-20', 'v5.4', 756265, 'v5.0 test')")
        for table, rows in cdm.tables.items():
            columns = sorted({key for row in rows for key in row})
            with cursor.copy(f"COPY {schema}.{table} ({', '.join(columns)}) FROM STDIN WITH "
                             "(FORMAT csv, HEADER true)") as copy:
                copy.write((folder / f"{table}.csv").read_bytes())
        for vocabulary in sorted({key[0] for key in cdm.concepts}):
            cursor.execute(f"INSERT INTO {schema}.vocabulary VALUES (%s, %s, '', '', 0)",
                           (vocabulary, vocabulary))
        connection.commit()
    return f"{uri}&schema={schema}"
