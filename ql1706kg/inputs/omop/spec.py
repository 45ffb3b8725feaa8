"""What to screen in an OMOP CDM: the database, the candidates, the supplement (``--omop``).

Its own small module: the readers recognise an :class:`OmopInput` among their paths without
loading a database driver; :mod:`.read` reads it.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Persons per facts query: each query costs DuckDB ~0.2 s of binding whatever its size (its
# literal lists), and holds the batch's rows in memory; 1,000 measured 1.4x the rate of 500.
BATCH_PERSONS = 1_000


@dataclass(frozen=True)
class OmopInput:
    """An OMOP CDM database to screen in place, and which of its persons.

    ``url``: ``duckdb:///path/cdm.duckdb`` or ``postgresql://host/db?schema=cdm``. Candidates:
    ``person_ids`` if given, else the subjects of the ATLAS cohort ``cohort_id`` (in
    ``cohort_schema``'s cohort table, default the CDM schema), else everyone with a sarcoma on
    record. ``supplement``: the site's long table of what the CDM cannot hold.
    ``closed_world``: a list section nothing filled is "recorded: none" (off by default).
    ``person_ids`` is kept as 64-bit integers (8 bytes an id, however many are given).
    """

    url: str
    person_ids: Sequence[int] | None = field(default=None, hash=False)
    cohort_id: int | None = None
    cohort_schema: str | None = None
    supplement: Path | None = None
    closed_world: bool = False
    batch_size: int = BATCH_PERSONS

    def __post_init__(self) -> None:
        if self.supplement is not None and not isinstance(self.supplement, Path):
            object.__setattr__(self, "supplement", Path(self.supplement))
        if self.person_ids is not None:
            ids = self.person_ids
            if not (isinstance(ids, array) and ids.typecode == "q"):
                ids = array("q", (int(p) for p in ids))
            object.__setattr__(self, "person_ids", ids)

    def __str__(self) -> str:
        from .connect import UrlError, parse_url

        try:
            return parse_url(self.url).shown
        except UrlError:
            return "the --omop database"
