"""Registry records of the study: a schema.org ``MedicalTrial`` (JSON-LD) and a FHIR R4
``ResearchStudy`` whose enrolment ``Group`` has one characteristic per atomic criterion.
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import URIRef

from ...protocol.terminology import terminology
from .study import CODE_SYSTEMS, Coded, Regimen, Study, _number, criteria_lines, dosing_text, study

# ql:studyDesign words -> members of schema.org's MedicalTrialDesign enumeration. A design with
# no member (single-arm) is still published, as a named MedicalTrialDesign without an @id.
SCHEMA_TRIAL_DESIGNS: dict[str, str] = {
    "open-label": "https://schema.org/OpenTrial",
    "single-centre": "https://schema.org/SingleCenterTrial",
    "single-center": "https://schema.org/SingleCenterTrial",
    "multi-centre": "https://schema.org/MultiCenterTrial",
    "multi-center": "https://schema.org/MultiCenterTrial",
    "randomised": "https://schema.org/RandomizedTrial",
    "randomized": "https://schema.org/RandomizedTrial",
    "placebo-controlled": "https://schema.org/PlaceboControlledTrial",
    "single-blind": "https://schema.org/SingleBlindedTrial",
    "double-blind": "https://schema.org/DoubleBlindedTrial",
    "triple-blind": "https://schema.org/TripleBlindedTrial",
    "international": "https://schema.org/InternationalTrial",
}
# ql:studyPhase -> http://terminology.hl7.org/CodeSystem/research-study-phase.
PHASE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-phase"
FHIR_PHASES: dict[str, tuple[str, str]] = {
    "Phase 0": ("early-phase-1", "Early Phase 1"),
    "Phase I": ("phase-1", "Phase 1"),
    "Phase I/II": ("phase-1-phase-2", "Phase 1/Phase 2"),
    "Phase II": ("phase-2", "Phase 2"),
    "Phase II/III": ("phase-2-phase-3", "Phase 2/Phase 3"),
    "Phase III": ("phase-3", "Phase 3"),
    "Phase IV": ("phase-4", "Phase 4"),
}
ENROLLMENT_GROUP_ID = "eligibility"


def medical_trial_jsonld() -> dict[str, Any]:
    """Return the study as a schema.org ``MedicalTrial`` (JSON-LD), for web pages and indexes.

    Only terms of the current schema.org release (30.0; tests/test_schema_terms.py checks each
    against it, with its domain): ``phase`` and ``population`` are gone from it. The phase is
    a ``code`` of the trial (``MedicalTrial`` is a ``MedicalEntity``) in HL7's
    research-study-phase code system, as the FHIR record gives it; the criteria, one ``id:
    text`` line each in protocol order, are the ``text`` of the eligibility document the trial
    is ``subjectOf``, each also a part of it (``hasPart``, with its ``identifier`` and
    ``position``).
    """
    record = study()
    trial: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalTrial",
        "@id": str(record.iri),
        "name": record.title,
    }
    if record.definition:
        trial["description"] = record.definition
    if record.phase:
        trial["code"] = [_schema_phase(record.phase)]
    trial["trialDesign"] = [_schema_design(d) for d in record.designs]
    trial["healthCondition"] = [_schema_condition(c) for c in record.conditions]
    trial["studySubject"] = [_schema_drug(r) for r in record.regimens]
    trial["subjectOf"] = [_schema_criteria(record)]
    return trial


def _schema_phase(phase: str) -> dict[str, str]:
    known = FHIR_PHASES.get(phase)
    node = {"@type": "MedicalCode", "name": phase}
    if known:
        node.update(codeValue=known[0], codingSystem=PHASE_SYSTEM)
    return node


def _kind(record: Study) -> str:
    """"inclusion criteria", or "criteria" when some of the study's are exclusions (each
    says so: :func:`.study.criteria`)."""
    table = terminology().criteria
    exclusion = any(table.get(cid, {}).get("exclusion") for cid, _ in record.criteria)
    return "criteria" if exclusion else "inclusion criteria"


def _schema_criteria(record: Study) -> dict[str, Any]:
    lines = criteria_lines(record)
    return {
        "@type": "CreativeWork",
        "name": f"Eligibility criteria: the {len(lines)} atomic {_kind(record)}",
        "text": "\n".join(lines),
        "hasPart": [{"@type": "CreativeWork", "identifier": cid, "position": index,
                     "text": text} for index, (cid, text) in enumerate(record.criteria, 1)],
    }


def _schema_design(design: str) -> dict[str, str]:
    node = {"@type": "MedicalTrialDesign", "name": design}
    member = SCHEMA_TRIAL_DESIGNS.get(design.casefold())
    return {"@id": member, **node} if member else node


def _schema_codes(term: Coded) -> list[dict[str, str]]:
    return [
        {"@type": "MedicalCode", "codeValue": code, "codingSystem": CODE_SYSTEMS[prop][1]}
        for prop, code in term.codes
    ]


def _schema_condition(term: Coded) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "MedicalCondition", "@id": str(term.iri), "name": term.label}
    if term.alt_labels:
        node["alternateName"] = list(term.alt_labels)
    if term.codes:
        node["code"] = _schema_codes(term)
    if term.exact_matches:
        node["sameAs"] = list(term.exact_matches)
    return node


def _schema_drug(regimen: Regimen) -> dict[str, Any]:
    drug = regimen.drug
    node: dict[str, Any] = {"@type": "Drug", "@id": str(drug.iri), "name": drug.label}
    if drug.alt_labels:
        node["alternateName"] = list(drug.alt_labels)
    if drug.definition:
        node["description"] = drug.definition
    node["administrationRoute"] = regimen.route
    node["doseSchedule"] = {
        "@type": "DoseSchedule",
        "name": regimen.label,
        "description": dosing_text(regimen),
        "doseValue": _number(regimen.dose),
        "doseUnit": regimen.dose_unit,
        "frequency": f"every {regimen.interval} {regimen.interval_unit}",
    }
    if drug.codes:
        node["code"] = _schema_codes(drug)
    if drug.exact_matches:
        node["sameAs"] = list(drug.exact_matches)
    return node


def research_study_fhir(status: str = "active") -> dict[str, Any]:
    """Return the study as a FHIR R4 ``ResearchStudy`` with its eligibility as a contained Group.

    The enrolment Group is definitional (``actual`` false): one characteristic per atomic
    criterion, ``code.text`` the criterion's id and text, true and not excluded, in protocol
    order. The ontology holds no recruitment status, so ``status`` (required by FHIR) is the
    caller's to give; "active" is only the default.
    """
    record = study()
    resource: dict[str, Any] = {
        "resourceType": "ResearchStudy",
        "id": _fhir_id(record.iri),
        "contained": [_fhir_group(record)],
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": str(record.iri)}],
        "title": record.title,
        "status": status,
    }
    if record.phase:
        resource["phase"] = _fhir_phase(record.phase)
    if record.designs:
        resource["category"] = [{"text": design} for design in record.designs]
    resource["focus"] = [_fhir_concept(r.drug) for r in record.regimens]
    resource["condition"] = [_fhir_concept(c) for c in record.conditions]
    if record.definition:
        resource["description"] = record.definition
    resource["enrollment"] = [{"reference": f"#{ENROLLMENT_GROUP_ID}",
                               "display": "eligibility criteria"}]
    resource["arm"] = [
        {"name": r.arm_label, "description": dosing_text(r)} for r in record.regimens
    ]
    return resource


def _fhir_id(iri: URIRef) -> str:
    """Return a FHIR id ([A-Za-z0-9-.]{1,64}) from an IRI's local name."""
    local = str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in local)[:64]


def _fhir_phase(phase: str) -> dict[str, Any]:
    known = FHIR_PHASES.get(phase)
    concept: dict[str, Any] = {"text": phase}
    if known:
        concept["coding"] = [{"system": PHASE_SYSTEM, "code": known[0], "display": known[1]}]
    return concept


def _fhir_concept(term: Coded) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": term.label}
    if term.codes:
        concept["coding"] = [
            {"system": CODE_SYSTEMS[prop][0], "code": code} for prop, code in term.codes
        ]
    return concept


def _fhir_group(record: Study) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": ENROLLMENT_GROUP_ID,
        "type": "person",
        "actual": False,
        "name": f"Eligible subjects: the {len(record.criteria)} atomic {_kind(record)}",
        "characteristic": [
            {"code": {"text": line}, "valueBoolean": True, "exclude": False}
            for line in criteria_lines(record)
        ],
    }


def to_json(record: dict[str, Any]) -> str:
    """Serialise a registry record as the CLI prints it (UTF-8, indented)."""
    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"
