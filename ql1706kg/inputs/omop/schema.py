"""What the OMOP database holds, and the SQL files rendered for it.

The SQL lives in ``sql/facts.sql`` (one batch's facts) and ``sql/run.sql`` (what is run once),
neutral text both engines run. :class:`SqlFile` splits a file into its sections and
statements; :class:`Schema` says which tables and columns the database has (from
``information_schema``), which CDM version it is (``cdm_source.cdm_version``, else its
columns: v5.4 added ``measurement.measurement_event_id``, the episode tables and more), and
checks, before anything is read, that every column the SQL names is there: a missing table or
column is an :class:`~ql1706kg.errors.InputError` naming it (``main.measurement`` has no
column ``value_as_concept_id``), never a database error in the middle of a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from ...errors import InputError
from .connect import Database, literal

REQUIRED_TABLES = ("person",)  # in the CDM schema; concept in the vocabulary schema
VOCABULARY_TABLES = ("concept",)
VOCABULARY_SCHEMA_TABLES = frozenset({"concept", "concept_ancestor"})
_HEADER = re.compile(r"^-- @(section|query)\s+(.+)$", re.MULTILINE)
_ALIAS = re.compile(r"^-- @alias\s+(.+)$", re.MULTILINE)
_COLUMN = re.compile(r"(?<![\w@.{])([a-z]{1,3})\.([a-z_][a-z0-9_]*)")
_OPTIONAL = re.compile(r"\{([a-z]{1,3})\.([a-z_][a-z0-9_]*)\}")
_PLACEHOLDER = re.compile(r"@([a-z_]+)")


@dataclass(frozen=True)
class Part:
    """One section (facts.sql) or statement (run.sql): its text and what it reads."""

    name: str
    table: str
    requires: tuple[str, ...]
    unless: tuple[str, ...]
    optional: bool
    aliases: dict[str, str]
    text: str

    def columns(self) -> set[tuple[str, str]]:
        """(table, column) pairs the text names through its aliases (optional ones aside)."""
        body = _OPTIONAL.sub("", _strip_comments(self.text))
        return {(self.aliases[a], c) for a, c in _COLUMN.findall(body) if a in self.aliases}


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@cache
def sql_file(name: str) -> dict[str, Part]:
    """The parts of one of the package's SQL files, by name, in file order."""
    text = (resources.files(__package__) / "sql" / name).read_text(encoding="utf-8")
    heads = list(_HEADER.finditer(text))
    parts: dict[str, Part] = {}
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        body = text[head.end():end]
        words = head.group(2).split()
        name, table = words[0], words[1] if len(words) > 1 else ""
        requires = tuple(words[words.index("requires") + 1:]) if "requires" in words else ()
        unless = tuple(words[words.index("unless") + 1:]) if "unless" in words else ()
        optional = "optional" in words
        aliases = {}
        for line in _ALIAS.findall(body):
            for pair in line.split():
                alias, _, target = pair.partition("=")
                aliases[alias] = target
        parts[name] = Part(name, table, requires, unless, optional, aliases,
                           _strip_comments(body).strip())
    return parts


def render(text: str, values: dict[str, str]) -> str:
    """Fill in the @names of a part (every one must be given: a missing one is a bug)."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"the SQL names @{name}, which the reader does not fill in")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def batch_values(persons: list[int]) -> dict[str, str]:
    """What a batch statement's @persons, @lowest_person and @highest_person stand for: the
    batch's ids as one text literal split where the statement runs
    (``string_to_array('1|2', '|')``, the same on both engines; facts.sql casts it to
    BIGINT[]), and the range they span. One literal, not ``ARRAY[1, 2]``: DuckDB binds each
    element of an array literal, at a cost that grows faster than the batch (1,000 ids:
    ~3 ms a statement, 4,000: ~24 ms), so larger batches paid more per person. The range is
    implied by the ids; written as constants it lets the database skip what lies outside it
    (DuckDB's row groups by their min/max, a PostgreSQL index range) instead of reading
    whole tables to match them against the array."""
    ids = [str(int(p)) for p in persons]
    return {"persons": f"string_to_array('{'|'.join(ids)}', '|')",
            "lowest_person": str(int(min(persons))), "highest_person": str(int(max(persons)))}


BATCH_PLACEHOLDERS = {name: f"@{name}" for name in ("persons", "lowest_person", "highest_person")}


@dataclass
class Schema:
    """The tables and columns of the CDM and vocabulary schemas, and the CDM version."""

    cdm: str
    vocabulary: str
    columns: dict[str, set[str]] = field(default_factory=dict)  # table -> columns (CDM schema)
    vocabulary_columns: dict[str, set[str]] = field(default_factory=dict)
    version: str = ""
    nonempty: set[str] = field(default_factory=set)  # optional tables known to hold rows

    def has(self, table: str) -> bool:
        """Whether a table is there (vocabulary tables in their schema, others in the CDM's)."""
        return table in self._tables(table)

    def table_columns(self, table: str) -> set[str]:
        return self._tables(table).get(table, set())

    def qualified(self, table: str) -> str:
        schema = self.vocabulary if table in VOCABULARY_SCHEMA_TABLES else self.cdm
        return f"{schema}.{table}"

    def _tables(self, table: str) -> dict[str, set[str]]:
        return self.vocabulary_columns if table in VOCABULARY_SCHEMA_TABLES else self.columns

    def usable(self, part: Part, source: str) -> bool:
        """Whether a facts section applies: its table is there (a required one missing is an
        InputError naming it), so are the tables it requires (holding rows), and those it is
        the fallback for are not."""
        if not self.has(part.table) and not part.optional:
            raise InputError(source, f"the database has no table {self.qualified(part.table)}, "
                                     "which every OMOP CDM has", field=part.table)
        return (self.has(part.table) and all(self.has(t) and t in self.nonempty
                                             for t in part.requires)
                and not any(self.has(t) and t in self.nonempty for t in part.unless))

    def check(self, part: Part, source: str) -> None:
        """Every column the part names must be there (an InputError naming the first one
        that is not)."""
        for table, column in sorted(part.columns()):
            if not self.has(table):
                raise InputError(source, f"the database has no table {self.qualified(table)}, "
                                         "which the OMOP reader needs", field=table)
            if column not in self.table_columns(table):
                raise InputError(source, f"the table {self.qualified(table)} has no column "
                                         f"{column}, which the OMOP reader needs",
                                 field=f"{table}.{column}")

    def fill_optional(self, text: str, aliases: dict[str, str]) -> str:
        """``{a.column}``: the column where this CDM version has it, else NULL."""
        def value(match: re.Match) -> str:
            alias, column = match.groups()
            return (f"{alias}.{column}" if column in self.table_columns(aliases[alias])
                    else "NULL")

        return _OPTIONAL.sub(value, text)


def read_schema(db: Database, source: str) -> Schema:
    """Detect the tables, columns and version; refuse a database without the CDM's person
    table or the vocabulary's concept table (an InputError naming what is missing)."""
    url = db.url
    schema = Schema(url.schema.casefold(), url.vocabulary_schema.casefold())
    names = ", ".join(literal(s) for s in {schema.cdm, schema.vocabulary})
    query = render(sql_file("run.sql")["columns"].text, {"schemas": names})
    for table_schema, table, column in db.rows(query):
        if table_schema == schema.cdm:
            schema.columns.setdefault(table, set()).add(column)
        if table_schema == schema.vocabulary:
            schema.vocabulary_columns.setdefault(table, set()).add(column)
    for table in REQUIRED_TABLES:
        if table not in schema.columns:
            found = f" (it has {len(schema.columns)} other tables)" if schema.columns else ""
            raise InputError(source, f"no OMOP CDM here: the schema {schema.cdm} has no table "
                                     f"{table}{found}; give ?schema=NAME in the URL", field=table)
    for table in VOCABULARY_TABLES:
        if table not in schema.vocabulary_columns:
            raise InputError(source, f"the database has no OMOP vocabulary: no table "
                                     f"{schema.vocabulary}.{table} (load the vocabulary tables, "
                                     "or give ?vocabulary_schema=NAME in the URL)", field=table)
    for table in ("concept_ancestor", "episode", "episode_event", "death", "cdm_source"):
        if schema.has(table) and db.rows(render(sql_file("run.sql")["has_rows"].text,
                                                {"table": schema.qualified(table)})):
            schema.nonempty.add(table)
    schema.version = _version(db, schema)
    return schema


def _version(db: Database, schema: Schema) -> str:
    """'5.4' or '5.3': cdm_source says so (its first row), else the columns tell."""
    if "cdm_source" in schema.nonempty and "cdm_version" in schema.columns.get("cdm_source", ()):
        rows = db.rows(render(sql_file("run.sql")["cdm_version"].text, {"cdm": schema.cdm}))
        written = str(rows[0][0] or "") if rows else ""
        found = re.search(r"5\.(\d)", written)
        if found:
            return f"5.{found.group(1)}"
    v54 = {"measurement_event_id"} <= schema.columns.get("measurement", set()) or (
        "episode" in schema.columns)
    return "5.4" if v54 else "5.3"
