"""Errors of ql1706kg: plain exceptions, turned into exit codes only by the CLI."""

from __future__ import annotations

from dataclasses import dataclass


class Ql1706kgError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(Ql1706kgError):
    """An input file or record cannot be read; names the file, the record and the field."""

    def __init__(self, source: str, message: str, record: str | None = None,
                 field: str | None = None) -> None:
        self.source, self.record, self.field, self.detail = source, record, field, message
        where = source
        if record:
            where += f", record {record}"
        if field:
            where += f", field {field}"
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple:
        # Bad records travel to worker processes inside their batch; the default pickling of
        # an exception passes only the message, which this constructor cannot take.
        return (InputError, (self.source, self.detail, self.record, self.field))


class UnitError(Ql1706kgError):
    """A quantity's unit cannot be converted to the unit a criterion compares in."""


class ShapesError(Ql1706kgError):
    """The bundled shapes or ontology are broken (a packaging or editing mistake)."""


class EnvironmentFailure(Ql1706kgError):
    """The machine, not the input, stopped the work: an output cannot be written (disk full,
    read-only, locked by another run), a port is in use, an endpoint or a scheduler cannot be
    reached. The CLI exits with 3 on it, apart from input errors (1) and usage errors (2)."""


@dataclass(frozen=True)
class InputNote:
    """Something read that is worth knowing but is not an error: e.g. FHIR resources whose
    patient is not in the input (read, named, not screened). Notes go to a callback the
    caller gives (the CLI prints them on stderr), else to the ``ql1706kg`` logger."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"
