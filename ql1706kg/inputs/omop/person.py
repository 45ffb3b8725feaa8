"""A person of an OMOP CDM, as the reading process hands them to whoever screens them.

The parent reads the facts of a batch of persons in one query; each person is then a
:class:`OmopPerson` carrying its rows, the concepts and drug readings they name and its rows
of the site supplement, assembled into a record where it is screened (a worker process, like
an FHIR person: :mod:`ql1706kg.pipeline.batch`), so the parent only runs SQL. Its own small
module so that the pipeline can recognise one without importing the OMOP reader.
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ...errors import InputError
    from ..records import RawRecord


class OmopPerson(NamedTuple):
    """One person's facts, to be assembled where it is screened (a named tuple: made for a
    third of a frozen dataclass's cost, and pickled for a worker for less)."""

    source: str  # the database and the person: duckdb:///cdm.duckdb#person/42
    id: str  # the record's id: the person_id
    run: tuple[str, bool]  # (the database as shown, closed-world)
    rows: bytes | tuple[tuple, ...]  # its rows of sql/facts.sql, packed (:func:`pack`)
    # per concept its rows name (none the vocabulary lacks): its closure, its row and those
    # of the concepts above it, each (id, vocabulary, code, name, class, anchors)
    concepts: tuple[tuple[tuple, ...], ...]
    drugs: tuple[tuple, ...]  # (concept id, 'therapy' | 'support', the drug as written)
    supplement: tuple | None = None  # (the supplement file, this person's rows, its header)
    declared: tuple[dict, ...] = ()  # facts of the protocol's declared kinds (declared.py)
    unreadable: tuple[tuple[str, str, str], ...] = ()  # declared kinds it cannot say (why)

    @property
    def facts(self) -> Sequence[tuple]:
        """Its rows of sql/facts.sql."""
        rows = self.rows
        return marshal.loads(rows) if isinstance(rows, bytes) else rows

    def assemble(self) -> list[InputError | RawRecord]:
        """The record (unvalidated), or the input error that stands for the person."""
        from .assemble import assemble_person

        return [assemble_person(self)]


def pack(rows: list[tuple] | tuple[tuple, ...]) -> bytes | tuple[tuple, ...]:
    """A person's rows as the handle carries them to a worker: marshalled, one bytes object
    (its rows are texts, integers, floats and NULLs), which the reading process writes for a
    third of what pickling the rows' ~25 tuples and ~500 values cost it (0.014 -> 0.005 ms a
    person, pickling the bytes after ~0.003) and the worker reads back for what unpickling
    them cost; a row holding anything else (a driver's own type) is kept as it is."""
    try:
        return marshal.dumps(rows)
    except ValueError:
        return tuple(rows)
