"""Read HL7 FHIR R4 input (Bundles, single resources, NDJSON bulk exports) into patient records.

FHIR is a way of *reading* patients: each Patient and the resources that point at it become
one :class:`PatientRecord`, the same record a coordinator writes by hand, so both inputs go
through one lift and give identical outcomes. The mapping is documented in ``docs/fhir.md``.

Resources are indexed on disk as their files are read and each person is assembled on its own
(:mod:`.index`, :mod:`.grouping`, :mod:`.person`), so memory stays bounded whatever the size of
a bulk export. Resources a criterion can use are checked one by one against the R4B models of
``fhir.resources`` (its default models are R5; R4B reads R4 resources of the kinds used here),
so one malformed resource is reported with its file, id and element while the rest of the file
is still read. Every resource is accounted for in a :class:`FhirReport`: used, or ignored with
the reason.
"""

from .codes import PROJECT_ELEMENTS, PROJECT_SYSTEM, SYSTEMS, project_codes
from .conformance import model_problem, model_problems
from .entries import Entry, FhirReport, ReportLine, entries_of, is_fhir, ndjson_entries
from .index import Workspace
from .person import FhirPerson
from .pool import Pool
from .read import FhirInput, read_fhir

__all__ = [
    "PROJECT_ELEMENTS",
    "PROJECT_SYSTEM",
    "SYSTEMS",
    "Entry",
    "FhirInput",
    "FhirPerson",
    "FhirReport",
    "Pool",
    "ReportLine",
    "Workspace",
    "entries_of",
    "is_fhir",
    "model_problem",
    "model_problems",
    "ndjson_entries",
    "project_codes",
    "read_fhir",
]
