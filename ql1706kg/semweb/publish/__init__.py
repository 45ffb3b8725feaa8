"""Publishing the ontology: RDF exports, HTML documentation, and registry records of the study.

A vocabulary registry wants the ontology in several syntaxes and as browsable pages; a trial
registry or a search engine wants the study as a schema.org ``MedicalTrial`` or a FHIR R4
``ResearchStudy``. Every value in those records is read from the ontology graph by SPARQL, so
that editing ``ontology/*.ttl`` is the only way to change what is published: the title, phase,
design, regimen, conditions and the 28 atomic criteria are never restated here.
"""

from __future__ import annotations

from .export import (
    FORMATS,
    PYLODE_VERSION,
    WHATS,
    LosslessTurtleSerializer,
    docs,
    export,
    publication_graph,
)
from .records import (
    ENROLLMENT_GROUP_ID,
    FHIR_PHASES,
    PHASE_SYSTEM,
    SCHEMA_TRIAL_DESIGNS,
    medical_trial_jsonld,
    research_study_fhir,
    to_json,
)
from .study import CODE_SYSTEMS, Coded, Regimen, Study, criteria, criteria_lines, study

__all__ = [
    "CODE_SYSTEMS", "ENROLLMENT_GROUP_ID", "FHIR_PHASES", "FORMATS", "PHASE_SYSTEM",
    "PYLODE_VERSION", "SCHEMA_TRIAL_DESIGNS", "WHATS", "Coded", "LosslessTurtleSerializer",
    "Regimen", "Study", "criteria", "criteria_lines", "docs", "export", "medical_trial_jsonld",
    "publication_graph", "research_study_fhir", "study", "to_json"
]
