"""Codes in FHIR resources: CodeableConcepts read against the terminology, and the project's
CodeSystem.

Every resource family names what it is about with CodeableConcepts, so the reading of those
(which term a concept stands for, the form a record writes it in, its text) lives here, below
all of them, together with the project's own CodeSystem of screening facts that have no
standard code (shipped as a FHIR resource with the package; see ``docs/fhir.md``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ...protocol.terminology import Terminology

PROJECT_SYSTEM = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"
NILKNOWN = "nilknown"

# FHIR code system URIs -> the system names the terminology indexes codes under.
SYSTEMS = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED-CT",
    "http://www.whocc.no/atc": "ATC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://terminology.hl7.org/CodeSystem/icd-o-3": "ICD-O-3",
    "urn:oid:2.16.840.1.113883.6.43.1": "ICD-O-3",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl": "NCIt",
    "http://ncit.nci.nih.gov": "NCIt",
    "http://oncotree.mskcc.org": "OncoTree",
    "http://oncotree.info": "OncoTree",
}

PROJECT_ELEMENTS: dict[str, tuple[str | None, str]] = {
    "able-to-comply": ("consent", "able_to_comply"),
    "histology-confirmed-here": ("diagnosis", "confirmed_at_this_institution"),
    "disease-extent": ("diagnosis", "extent"),
    "resectable": ("diagnosis", "resectable"),
    "tumour-tissue-available": ("samples", "tumour_tissue"),
    "blood-sample-available": ("samples", "blood"),
    "lactating": ("reproductive", "lactating"),
    "childbearing-potential": ("reproductive", "childbearing_potential"),
    "contraception-agreed": ("reproductive", "contraception_agreed"),
    "recist-measurable-disease": ("recist", "measurable_disease"),
}


def _codings(concept: object) -> list[dict]:
    """The codings of a CodeableConcept, each reduced to its string elements: a resource
    that passed its model check may still hold an element of the wrong JSON type (the models
    accept a JSON string for an object), which must read as absent, never crash a reader."""
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [{key: value for key, value in coding.items()
             if key in ("system", "code", "display") and isinstance(value, str | int)
             and not isinstance(value, bool)}
            for coding in concept["coding"] if isinstance(coding, dict)]


def _concept_text(concept: object) -> str | None:
    if isinstance(concept, dict) and isinstance(concept.get("text"), str) and concept["text"]:
        return concept["text"]
    return None


def lookup(term: Terminology, concept: dict | None, within) -> Any:
    """The term a CodeableConcept stands for: by any coding, then by display or text."""
    codings = _codings(concept)
    for coding in codings:
        system = SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
        if coding.get("code"):
            hit = term.find_code(system, str(coding["code"]), within)
            if hit is not None:
                return hit
    for coding in codings:
        if coding.get("display"):
            hit = term.find(str(coding["display"]), within)
            if hit is not None:
                return hit
    text = _concept_text(concept)
    return term.find(text, within) if text else None


def coded(term: Terminology, concept: dict, within) -> dict | str:
    """The record form of a CodeableConcept: the coding the terminology knows first."""
    codings = [c for c in _codings(concept) if c.get("code")]
    for coding in codings:
        system = SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
        if term.find_code(system, str(coding["code"]), within) is not None:
            return _as_coded(coding, system)
    text = _text(concept)
    if text and term.find(text, within) is not None:
        return text
    if codings:
        coding = codings[0]
        return _as_coded(coding, SYSTEMS.get(coding.get("system", ""),
                                              coding.get("system", "")))
    return text or "unnamed"


def _as_coded(coding: dict, system: str) -> dict:
    out = {"system": system, "code": str(coding["code"])}
    if coding.get("display"):
        out["display"] = str(coding["display"])
    return out


def _codes(concept: dict | None) -> set[str]:
    return {str(c["code"]) for c in _codings(concept) if c.get("code")}


@functools.cache
def project_codes() -> frozenset[str]:
    """The codes of the project's CodeSystem, shipped as a FHIR resource with the package."""
    text = (resources.files("ql1706kg") / "CodeSystem-ql1706kg-screening.json").read_text(
        encoding="utf-8")

    def walk(concepts: list[dict]) -> Iterator[str]:
        for concept in concepts:
            yield concept["code"]
            yield from walk(concept.get("concept") or [])

    return frozenset(walk(json.loads(text)["concept"]))


def _project_code(concept: dict | None) -> str | None:
    """The project code of a CodeableConcept; a code not in the CodeSystem is not ours."""
    for coding in _codings(concept):
        if coding.get("system") == PROJECT_SYSTEM and coding.get("code") in project_codes():
            return str(coding["code"])
    return None


def _text(concept: dict | None) -> str | None:
    text = _concept_text(concept)
    if text:
        return text
    for coding in _codings(concept):
        if coding.get("display"):
            return str(coding["display"])
    return None
