"""Screen an OMOP CDM database in place: DuckDB or PostgreSQL, one neutral SQL for both.

An :class:`OmopInput` is an input like a file: given among the paths of ``read_paths`` (the CLI's
``--omop URL``), its candidates are read in batches, each batch's facts in one query
(``sql/facts.sql``), and each person is assembled into the project's record, so screening,
explanations, what-if, the report and SPARQL are those of every other input. The modules:

* :mod:`.connect` opens the database read-only (the URL, no password on the command line);
* :mod:`.schema` detects CDM v5.3/v5.4 and the optional tables, renders the SQL files;
* :mod:`.relevance` pushes the terminology's codes down into the SQL;
* :mod:`.vocab` reads ``mapping.toml`` (the OMOP -> record mapping, one file) and concepts;
* :mod:`.assemble`, :mod:`.disease`, :mod:`.treatment` turn facts into the record;
* :mod:`.supplement` joins the site's long table of what the CDM cannot hold;
* :mod:`.read` runs it; :mod:`.write` writes records into a CDM (tests, benchmarks, generate).

This module imports nothing heavy: screening JSON records never loads a database driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BATCH_PERSONS = 500  # persons per facts query (design/omop.md: batches of ~500, no ORDER BY)


@dataclass(frozen=True)
class OmopInput:
    """An OMOP CDM database to screen in place, and which of its persons.

    ``url``: ``duckdb:///path/cdm.duckdb`` or ``postgresql://host/db?schema=cdm``. Candidates:
    ``person_ids`` if given, else the subjects of the ATLAS cohort ``cohort_id`` (in
    ``cohort_schema``'s cohort table, default the CDM schema), else everyone with a sarcoma on
    record. ``supplement``: the site's long table of what the CDM cannot hold.
    ``closed_world``: a list section nothing filled is "recorded: none" (off by default).
    """

    url: str
    person_ids: tuple[int, ...] | None = None
    cohort_id: int | None = None
    cohort_schema: str | None = None
    supplement: Path | None = None
    closed_world: bool = False
    batch_size: int = BATCH_PERSONS

    def __post_init__(self) -> None:
        if self.supplement is not None and not isinstance(self.supplement, Path):
            object.__setattr__(self, "supplement", Path(self.supplement))
        if self.person_ids is not None:
            object.__setattr__(self, "person_ids", tuple(int(p) for p in self.person_ids))

    def __str__(self) -> str:
        from .connect import UrlError, parse_url

        try:
            return parse_url(self.url).shown
        except UrlError:
            return "the --omop database"

    def items(self, validate: bool = True):
        """Every candidate's record (or the error that stands for it) and the notes."""
        from .read import read_omop

        return read_omop(self, validate)


__all__ = ["BATCH_PERSONS", "OmopInput"]
