"""Write project records into a new OMOP CDM (v5.4 or v5.3) with a mini vocabulary.

For the tests, the benchmarks and ``generate --format omop``: each record becomes the CDM rows
an ETL would write, coded with the terminology's own codes (a histology by its ICD-O-3
morphology as OMOP's ICDO3 pair ``8890/3-NULL``, a test by LOINC, a drug as an RxNorm ingredient
and a clinical drug below it, a transfusion by SNOMED CT), and what the CDM cannot hold goes to
a site supplement in the long-table format (:mod:`.supplement`). The vocabulary holds only the
concepts written, numbered from 2,000,000,001 (OMOP's range for local concepts), except the
fixed ids OMOP documents, and leaves out the gender concepts on purpose: the reader must know
8507 and 8532 without them.

Persons alternate between two ways of writing the same facts, so both are read: units as UCUM
concepts or only as source values (``unit_concept_id`` 0), metastases as SNOMED CT conditions
or as Cancer Modifier measurements about the diagnosis (v5.4), ECOG in the measurement or the
observation table. A fact without a code in the terminology is written unmapped (concept 0,
its name as the source value), as a real ETL leaves what it cannot map.

The tables are written as CSV files in a folder, then loaded by the engine's own bulk load
(DuckDB ``COPY``, PostgreSQL ``COPY FROM STDIN``): 100,000 persons in constant memory.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ...protocol.terminology import Terminology, terminology
from ..fhir.disease_observations import disease_codes, system_key
from .vocab import fixed, mapping

LOCAL_CONCEPTS = 2_000_000_001
EHR = 32817  # Type Concept 'EHR': the provenance of every row written
FALLBACK_DATE = "2000-01-01"  # a required CDM date the record does not give
TABLES = {
    "person": ("person_id", "gender_concept_id", "year_of_birth", "month_of_birth",
               "day_of_birth", "birth_datetime", "race_concept_id", "ethnicity_concept_id",
               "person_source_value", "gender_source_value"),
    "observation_period": ("observation_period_id", "person_id", "observation_period_start_date",
                           "observation_period_end_date", "period_type_concept_id"),
    "death": ("person_id", "death_date", "death_type_concept_id"),
    "condition_occurrence": ("condition_occurrence_id", "person_id", "condition_concept_id",
                             "condition_start_date", "condition_end_date",
                             "condition_type_concept_id", "condition_source_value",
                             "condition_source_concept_id"),
    "drug_exposure": ("drug_exposure_id", "person_id", "drug_concept_id",
                      "drug_exposure_start_date", "drug_exposure_end_date",
                      "drug_type_concept_id", "quantity", "drug_source_value"),
    "procedure_occurrence": ("procedure_occurrence_id", "person_id", "procedure_concept_id",
                             "procedure_date", "procedure_type_concept_id",
                             "procedure_source_value"),
    "measurement": ("measurement_id", "person_id", "measurement_concept_id", "measurement_date",
                    "measurement_type_concept_id", "operator_concept_id", "value_as_number",
                    "value_as_concept_id", "unit_concept_id", "range_low", "range_high",
                    "measurement_source_value", "unit_source_value", "value_source_value",
                    "measurement_event_id", "meas_event_field_concept_id"),
    "observation": ("observation_id", "person_id", "observation_concept_id", "observation_date",
                    "observation_type_concept_id", "value_as_number", "value_as_string",
                    "value_as_concept_id", "unit_concept_id", "observation_source_value",
                    "unit_source_value"),
    "episode": ("episode_id", "person_id", "episode_concept_id", "episode_start_date",
                "episode_end_date", "episode_object_concept_id", "episode_type_concept_id",
                "episode_source_value"),
    "episode_event": ("episode_id", "event_id", "episode_event_field_concept_id"),
    "concept": ("concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
                "standard_concept", "concept_code", "valid_start_date", "valid_end_date"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id",
                         "min_levels_of_separation", "max_levels_of_separation"),
    "cdm_source": ("cdm_source_name", "cdm_source_abbreviation", "cdm_holder",
                   "source_release_date", "cdm_release_date", "cdm_version",
                   "cdm_version_concept_id", "vocabulary_version"),
}
V54_ONLY = {"episode", "episode_event", "measurement.measurement_event_id",
            "measurement.meas_event_field_concept_id", "cdm_source.cdm_version_concept_id"}
SUPPLEMENT = ("patient", "element", "value", "unit", "date", "code", "system", "group",
              "site", "slice_thickness")


def ddl(engine: str, version: str, schema: str) -> str:
    """OHDSI's DDL of the CDM (vendored, Apache-2.0: ddl/LICENSE) for a schema."""
    name = f"OMOPCDM_{engine}_{version}_ddl.sql"
    text = (resources.files(__package__) / "ddl" / name).read_text(encoding="utf-8")
    return text.replace("@cdmDatabaseSchema", schema)


@dataclass
class Codes:
    """The terminology's codes by term, as the writer codes a fact."""

    term: Terminology
    by_term: dict[Any, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for (prop, code), iri in sorted(self.term.by_code.items(), key=lambda i: str(i)):
            if prop is not None:
                self.by_term.setdefault(iri, []).append((str(prop), code))
        for (key, code), iri in sorted(disease_codes().codings.items()):
            self.by_term.setdefault(iri, []).append((key, code))

    def first(self, iri, *keys: str) -> tuple[str, str] | None:
        """The first code of a term in one of the systems (by system key), in that order."""
        codes = self.by_term.get(iri, [])
        for key in keys:
            for have, code in codes:
                if have == key:
                    return have, code
        return None


class CdmWriter:
    """Records in, CDM tables (CSV files) and a supplement out; see the module docstring."""

    def __init__(self, folder: Path, version: str = "5.4", hierarchy: bool = True) -> None:
        self.folder, self.version, self.hierarchy = Path(folder), version, hierarchy
        self.folder.mkdir(parents=True, exist_ok=True)
        self.term = terminology()
        self.codes = Codes(self.term)
        self.vocab: dict[tuple[str, str], int] = {}
        self.concept_rows: list[tuple] = []
        self.ancestors: set[tuple[int, int, int]] = set()
        self.next_id: dict[str, int] = {}
        self.persons = 0
        self.files: dict[str, Any] = {}
        self.writers: dict[str, Any] = {}
        for table in (*TABLES, "supplement"):
            if table in ("concept", "concept_ancestor", "cdm_source"):
                continue
            if table in V54_ONLY and version != "5.4":
                continue
            handle = (self.folder / f"{table}.csv").open("w", newline="", encoding="utf-8")
            self.files[table] = handle
            self.writers[table] = csv.writer(handle)
            self.writers[table].writerow(self.columns(table))
        keys = {system_key(s): v for v, s in mapping()["vocabularies"].items()}
        self.vocabulary_of = keys

    def columns(self, table: str) -> tuple[str, ...]:
        if table == "supplement":
            return SUPPLEMENT
        return tuple(c for c in TABLES[table] if f"{table}.{c}" not in V54_ONLY
                     or self.version == "5.4")

    def row(self, table: str, values: dict[str, Any]) -> int | None:
        """Write one row (columns by name); return its new id (the first column's)."""
        columns = self.columns(table)
        first = columns[0]
        if first.endswith("_id") and first != "person_id" and table != "episode_event" \
                and first not in values:
            self.next_id[table] = self.next_id.get(table, 0) + 1
            values[first] = self.next_id[table]
        self.writers[table].writerow([_cell(values.get(c)) for c in columns])
        return values.get(first)

    # -- the mini vocabulary ---------------------------------------------------------------------
    def concept(self, vocabulary: str, code: str, name: str, domain: str, cls: str,
                standard: str | None = "S") -> int:
        key = (vocabulary, code)
        if key not in self.vocab:
            concept_id = LOCAL_CONCEPTS + len(self.vocab)
            self.vocab[key] = concept_id
            self.concept_rows.append((concept_id, name[:255], domain, vocabulary, cls[:20],
                                      standard, code[:50], "1970-01-01", "2099-12-31"))
            if self.hierarchy and standard == "S":
                self.ancestors.add((concept_id, concept_id, 0))
        return self.vocab[key]

    def below(self, ancestor: int, descendant: int, levels: int = 1) -> None:
        if self.hierarchy:
            self.ancestors.add((ancestor, descendant, levels))

    def close(self) -> dict[str, Path]:
        """Finish the vocabulary and the files; the CSV file of each table."""
        for handle in self.files.values():
            handle.close()
        source = {"cdm_source_name": "ql1706kg test CDM", "cdm_source_abbreviation": "ql1706kg",
                  "cdm_holder": "ql1706kg", "source_release_date": "2026-01-01",
                  "cdm_release_date": "2026-01-01", "cdm_version": f"v{self.version}",
                  "cdm_version_concept_id": 756265, "vocabulary_version": "mini"}
        extra = {"concept": [*self.concept_rows, *self.fixed_concepts()],
                 "concept_ancestor": [(a, d, n, n) for a, d, n in sorted(self.ancestors)],
                 "cdm_source": [tuple(source[c] for c in self.columns("cdm_source"))]}
        for table, rows in extra.items():
            with (self.folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(self.columns(table))
                out.writerows(rows)
        return {name: self.folder / f"{name}.csv" for name in sorted({*self.files, *extra})}

    def fixed_concepts(self) -> list[tuple]:
        """The operators, episode kinds and type concept written (genders left out)."""
        out = [(EHR, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890",
                "1970-01-01", "2099-12-31")]
        for concept_id, symbol in fixed("operators").items():
            out.append((concept_id, symbol, "Meas Value Operator", "SNOMED", "Qualifier Value",
                        "S", f"op{concept_id}", "1970-01-01", "2099-12-31"))
        return out


def load_duckdb(files: dict[str, Path], path: Path, version: str = "5.4",
                schema: str = "main") -> Path:
    """A new DuckDB CDM at ``path`` from the files of :func:`write_cdm` (the supplement stays
    a file)."""
    import duckdb

    path = Path(path)
    path.unlink(missing_ok=True)
    connection = duckdb.connect(str(path))
    try:
        if schema != "main":
            connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(ddl("duckdb", version, schema))
        for table, file in files.items():
            if table == "supplement":
                continue
            columns = ", ".join(_header(file))
            connection.execute(f"COPY {schema}.{table} ({columns}) FROM '{file}' (HEADER)")
    finally:
        connection.close()
    return path


def load_postgres(files: dict[str, Path], connection, version: str = "5.4",
                  schema: str = "public") -> None:
    """Create the CDM in ``schema`` of an open psycopg connection and load the files."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        cursor.execute(ddl("postgresql", version, schema))
        for table, file in files.items():
            if table == "supplement":
                continue
            columns = ", ".join(_header(file))
            with cursor.copy(f"COPY {schema}.{table} ({columns}) FROM STDIN WITH "
                             "(FORMAT csv, HEADER true)") as copy, file.open("rb") as data:
                while block := data.read(1 << 20):
                    copy.write(block)
    connection.commit()


def _header(file: Path) -> list[str]:
    with file.open(encoding="utf-8") as handle:
        return next(csv.reader(handle))


def _cell(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value
