"""A person of an OMOP CDM, as the reading process hands them to whoever screens them.

The parent reads the facts of a batch of persons in one query; each person is then a
:class:`OmopPerson` carrying its rows, the concepts and drug readings they name and its rows
of the site supplement, assembled into a record where it is screened (a worker process, like
an FHIR person: :mod:`ql1706kg.pipeline.batch`), so the parent only runs SQL. Its own small
module so that the pipeline can recognise one without importing the OMOP reader.
"""

from __future__ import annotations

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
    facts: tuple[tuple, ...]  # rows of sql/facts.sql
    # per concept its rows name (none the vocabulary lacks): its closure, its row and those
    # of the concepts above it, each (id, vocabulary, code, name, class, anchors)
    concepts: tuple[tuple[tuple, ...], ...]
    drugs: tuple[tuple, ...]  # (concept id, 'therapy' | 'support', the drug as written)
    # (the supplement file, this person's runs of rows, its header, a plain file's separator)
    supplement: tuple | None = None
    declared: tuple[dict, ...] = ()  # facts of the protocol's declared kinds (declared.py)
    unreadable: tuple[tuple[str, str, str], ...] = ()  # declared kinds it cannot say (why)

    def assemble(self) -> list[InputError | RawRecord]:
        """The record (unvalidated), or the input error that stands for the person."""
        from .assemble import assemble_person

        return [assemble_person(self)]
