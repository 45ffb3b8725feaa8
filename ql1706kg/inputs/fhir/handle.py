"""A person of the run's FHIR input, as the parent hands them to whoever screens them.

Its own small module so that the pipeline can recognise one without importing the FHIR reader
(screening JSON records never does); :meth:`FhirPerson.assemble` imports it when a person is
assembled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...errors import InputError
    from ..records import RawRecord


@dataclass(frozen=True)
class FhirPerson:
    """A person of the run's FHIR input, to be assembled where it is screened."""

    index: str
    person: int
    source: str
    id: str

    def assemble(self) -> list[InputError | RawRecord]:
        """The errors of the person's malformed resources, then the record (unvalidated) or
        the error entry that stands for the person."""
        from .person import assemble

        return assemble(self.index, self.person, self.source, self.id)[0]
