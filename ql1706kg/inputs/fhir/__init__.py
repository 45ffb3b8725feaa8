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

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .codes import PROJECT_ELEMENTS, PROJECT_SYSTEM, SYSTEMS, project_codes
    from .conformance import model_problem, model_problems
    from .entries import Entry, FhirReport, ReportLine, entries_of, is_fhir, ndjson_entries
    from .handle import FhirPerson
    from .pool import Pool
    from .read import FhirInput, read_fhir
    from .workspace import Workspace

# Each public name's module, imported on first use (PEP 562): the pipeline recognises an FHIR
# person (:mod:`.handle`) and the API opens a workspace (:mod:`.workspace`) on every run, and
# neither should cost the whole reader when the input is JSON.
_PUBLIC = {
    "PROJECT_ELEMENTS": "codes",
    "PROJECT_SYSTEM": "codes",
    "SYSTEMS": "codes",
    "project_codes": "codes",
    "model_problem": "conformance",
    "model_problems": "conformance",
    "Entry": "entries",
    "FhirReport": "entries",
    "ReportLine": "entries",
    "entries_of": "entries",
    "is_fhir": "entries",
    "ndjson_entries": "entries",
    "Workspace": "workspace",
    "FhirPerson": "handle",
    "Pool": "pool",
    "FhirInput": "read",
    "read_fhir": "read",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
