"""FHIR resources checked against their R4 models (``fhir.resources``, R4B), in parallel when
the input is large.

Checking is the costly part of reading FHIR and needs nothing but each resource's JSON, so it
is kept apart from pooling and reading: one malformed resource is reported with its element
while the rest are still read, and the check can run in worker processes without them knowing
about pools or patients.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import re
from concurrent.futures import ProcessPoolExecutor
from typing import Any, cast

import orjson
from pydantic import ValidationError

from .entries import Entry

# Every resource type of FHIR R4 (4.0.1), from the specification's resource list
# (https://hl7.org/fhir/R4/resourcelist.html); checked against the hl7.fhir.r4.examples 4.0.1
# package, which holds an example of 140 of them (all but Parameters and the five Substance*
# types of the substance definitions). Eighteen of them are not in the R4B models used to check
# resources (MedicinalProduct and its eight parts, EffectEvidenceSynthesis,
# RiskEvidenceSynthesis, SubstanceSpecification and the five Substance* types): they are valid
# R4, and since the protocol uses none of them they are ignored as types it does not use.
R4_RESOURCE_TYPES = frozenset({
    "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
    "AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
    "BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
    "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
    "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
    "ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
    "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
    "DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
    "DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest",
    "EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
    "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
    "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
    "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
    "InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location", "Measure",
    "MeasureReport", "Media", "Medication", "MedicationAdministration", "MedicationDispense",
    "MedicationKnowledge", "MedicationRequest", "MedicationStatement", "MedicinalProduct",
    "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader",
    "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation", "ObservationDefinition",
    "OperationDefinition", "OperationOutcome", "Organization", "OrganizationAffiliation",
    "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition",
    "Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire",
    "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
    "ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
    "RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
    "SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
    "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
    "SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification",
    "SupplyDelivery", "SupplyRequest", "Task", "TerminologyCapabilities", "TestReport",
    "TestScript", "ValueSet", "VerificationResult", "VisionPrescription",
})

# Resources checked per task when checking runs in worker processes, and the fewest worth
# starting workers for (forking costs more than checking a few bundles).
CHECK_BATCH = 200
PARALLEL_FROM = 2_000


def model_problem(kind: str, data: dict) -> tuple[str, str] | None:
    """Check one resource against its FHIR R4 model: None, or the first problem as (message,
    element path). The model itself is not kept: records are assembled from the JSON."""
    from fhir.resources.R4B import get_fhir_model_class

    null, json_text = _null_element(data)
    if null is not None:
        return "null is not a value in FHIR JSON (leave the element out)", null
    try:
        instance = get_fhir_model_class(kind).model_validate(data)
        # only a string holding JSON text can stand for an object in the models
        text_object = _text_for_object(data, instance, "") if json_text else None
    except ValidationError as exc:
        first = exc.errors()[0]
        return _pydantic_message(cast(dict, first)), ".".join(str(p) for p in first["loc"])
    except (RecursionError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
        return f"cannot be read ({type(exc).__name__})", ""
    if text_object is not None:
        return "an object is expected here, not a string (FHIR JSON has no JSON in text)", \
            text_object
    return None


def _text_for_object(raw: object, model: object, path: str) -> str | None:
    """The path of the first element written as a string where FHIR has an object: the
    models accept JSON text for an object (``"subject": "{...}"``), which FHIR JSON is not
    and which the readers, working on the JSON, would trip over."""
    from pydantic import BaseModel

    if isinstance(raw, list) and isinstance(model, list):
        for index, (item, parsed) in enumerate(zip(raw, model, strict=False)):
            if isinstance(item, str) and isinstance(parsed, BaseModel | list):
                return f"{path}[{index}]"
            found = _text_for_object(item, parsed, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    if not isinstance(raw, dict) or not isinstance(model, BaseModel):
        return None
    names = _field_names(type(model))
    for key, value in raw.items():
        name = names.get(key)
        if name is None:
            continue
        parsed = getattr(model, name, None)
        where = f"{path}.{key}" if path else key
        if isinstance(value, str) and isinstance(parsed, BaseModel | list):
            return where
        found = _text_for_object(value, parsed, where)
        if found is not None:
            return found
    return None


def _field_names(model_class: Any) -> dict[str, str]:
    """JSON key -> attribute name of a model class (aliases such as '_status' included)."""
    cached = _FIELD_NAMES.get(model_class)
    if cached is None:
        cached = {(field.alias or name): name for name, field in model_class.model_fields.items()}
        _FIELD_NAMES[model_class] = cached
    return cached


_FIELD_NAMES: dict[type, dict[str, str]] = {}

# A '"' followed by what could put '{' or '[' first in a string after str.lstrip(): the
# bracket itself, a space, an escape (\t, \n, \u001c...) or any non-ASCII character (\xa0,
# \u2003...). It opens a string when it follows ':', ',', '[' or '{' (orjson writes no blank
# between tokens, and a quote inside a string is written '\"').
_STRING_OPENING = re.compile(rb'"[ \\{\[\x80-\xff]')


def _maybe_json_text(text: bytes) -> bool:
    """Whether a resource's compact JSON may hold a string that opens like JSON text."""
    return any(text[m.start() - 1:m.start()] in b":,[{" for m in _STRING_OPENING.finditer(text))


def _null_element(data: object) -> tuple[str | None, bool]:
    """The path of the first null in a resource: FHIR JSON never has one (a null in an
    array is allowed only beside the '_element' array of its primitive extensions), and the
    models let an optional element be null, which readers would then trip over. Also whether
    any string could be JSON text (it starts with '{' or '['), which the models would read
    as an object (see :func:`_text_for_object`).

    Most resources have neither, which their compact JSON tells at once (7 µs against 17 for
    the walk, on the mCODE examples): no ``null`` at all, and no string that opens with '{',
    '[', a space, an escaped character or a non-ASCII one (the only ways a string's first
    non-blank character can be '{' or '['). Anything else, or JSON orjson will not write, is
    walked."""
    try:
        text = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        text = None
    if text is not None and b"null" not in text and not _maybe_json_text(text):
        return None, False
    json_text = False
    stack: list[tuple[object, str]] = [(data, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if value is None:
                    return (f"{path}.{key}" if path else key), json_text
                if isinstance(value, str):
                    json_text = json_text or value.lstrip()[:1] in ("{", "[")
                elif isinstance(value, dict | list):
                    where = f"{path}.{key}" if path else key
                    if isinstance(value, list) and None in value and f"_{key}" not in item:
                        return f"{where}[{value.index(None)}]", json_text
                    stack.append((value, where))
        elif isinstance(item, list):
            for i, value in enumerate(item):
                if isinstance(value, str):
                    json_text = json_text or value.lstrip()[:1] in ("{", "[")
                elif isinstance(value, dict | list):
                    stack.append((value, f"{path}[{i}]"))
    return None, json_text


def _problems_of(batch: list[tuple[str, dict]]) -> list[tuple[str, str] | None]:
    return [model_problem(kind, data) for kind, data in batch]


def model_problems(entries: list[Entry], jobs: int = 1) -> list[tuple[str, str] | None]:
    """:func:`model_problem` of every entry, in order.

    Checking against the FHIR models is about three quarters of the cost of reading FHIR,
    and resources are checked independently, so a large input is checked in ``jobs`` forked
    processes (the models are built first, in this process, for the workers to inherit).
    """
    pairs = [(entry.type, entry.data) for entry in entries]
    if jobs <= 1 or len(pairs) < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        return _problems_of(pairs)
    from fhir.resources.R4B import get_fhir_model_class

    for kind in {kind for kind, _ in pairs}:
        get_fhir_model_class(kind)
    batches = [pairs[start:start + CHECK_BATCH] for start in range(0, len(pairs), CHECK_BATCH)]
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as workers:
        return [problem for checked in workers.map(_problems_of, batches)
                for problem in checked]


def _is_fhir_type(name: str) -> bool:
    """Whether a resourceType names a FHIR resource: any R4 type, or one the R4B models know
    (a later release's type in R4 input is ignored as unused, not refused)."""
    from fhir.resources.R4B import get_fhir_model_class

    if name in R4_RESOURCE_TYPES:
        return True
    try:
        get_fhir_model_class(name)
    except (KeyError, ValueError):
        return False
    return True


def _pydantic_message(error: dict) -> str:
    kind = str(error.get("type"))
    if kind == "missing" or kind.endswith(".missing"):
        return "required element is missing"
    if kind == "extra_forbidden":
        return "unknown element (not in FHIR R4)"
    shown = json.dumps(error.get("input"), default=str)[:60]
    return f"{error.get('msg', 'invalid').rstrip('.')} (got {shown})"
