"""Read HL7 FHIR R4 input (Bundles, single resources, NDJSON bulk exports) into patient records.

FHIR is a way of *reading* patients: each Patient and the resources that point at it become
one :class:`PatientRecord`, the same record a coordinator writes by hand, so both inputs go
through one lift and give identical outcomes. The mapping is documented in ``docs/fhir.md``.

Resources are parsed one by one with the R4B models of ``fhir.resources`` (its default models
are R5; R4B reads R4 resources of the kinds used here), so one malformed resource is reported
with its file, id and element while the rest of the file is still read. Every resource is
accounted for in a :class:`FhirReport`: used, or ignored with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import multiprocessing as mp
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, UnitError
from ..protocol.namespaces import QL
from ..protocol.terminology import Terminology, terminology
from ..protocol.units import convert
from .jsonio import json_loads

PROJECT_SYSTEM = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"
UCUM = "http://unitsofmeasure.org"
NILKNOWN = "nilknown"
REQUEST_ONLY = "Bundle.entry"

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
SECONDARY_CANCER_SNOMED = "128462008"  # Secondary malignant neoplastic disease (mCODE's code)
MCODE_MORPHOLOGY = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
                    "mcode-histology-morphology-behavior")
# ATC groups whose drugs are kept even when the terminology does not know them, so that an
# unclassified antineoplastic or haematologic product is never assumed harmless (IC4, IC5, IC9.0).
KEPT_ATC_PREFIXES = ("L01", "L02", "L03", "L04", "B03", "B02BX")
USED_TYPES = frozenset({"Patient", "Consent", "Condition", "Observation", "MedicationStatement",
                        "MedicationAdministration", "MedicationRequest", "Procedure",
                        "Medication", "List", "DiagnosticReport"})
SUBJECT = {"Consent": "patient"}
IGNORED_STATUS = frozenset({"entered-in-error", "cancelled", "not-done", "not-taken",
                            "refuted", "intended", "draft", "proposed", "rejected"})


@dataclass
class ReportLine:
    """What happened to one resource."""

    source: str
    resource: str
    used: bool
    reason: str

    def as_dict(self) -> dict:
        return {"source": self.source, "resource": self.resource,
                "status": "used" if self.used else "ignored", "reason": self.reason}


@dataclass
class FhirReport:
    """Every FHIR resource read, used or ignored with why (``ql1706kg lift --report``)."""

    lines: list[ReportLine] = field(default_factory=list)

    def add(self, entry: Entry, used: bool, reason: str) -> None:
        self.lines.append(ReportLine(entry.source, entry.key, used, reason))


@dataclass
class Entry:
    """One FHIR resource with where it came from."""

    source: str
    data: dict
    full_url: str | None = None
    contained: dict[str, dict] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.data.get("resourceType"))

    @property
    def key(self) -> str:
        return f"{self.type}/{self.data.get('id', '?')}"


# -- reading files ------------------------------------------------------------------------------

def is_fhir(data: object) -> bool:
    """Tell whether parsed JSON is a FHIR resource (rather than a project record)."""
    return isinstance(data, dict) and "resourceType" in data


def entries_of(data: dict, source: str) -> Iterator[Entry | InputError]:
    """Yield the resources of a Bundle (any type) or a single resource."""
    if data.get("resourceType") != "Bundle":
        yield Entry(source, data)
        return
    for index, item in enumerate(data.get("entry") or []):
        resource = item.get("resource") if isinstance(item, dict) else None
        if resource is None and isinstance(item, dict) and "request" in item:
            # A transaction's DELETE or a batch's GET carries no resource: nothing to read.
            yield Entry(source, {"resourceType": REQUEST_ONLY, "id": str(index)})
            continue
        if not isinstance(resource, dict) or "resourceType" not in resource:
            yield InputError(source, "a Bundle entry has no resource with a resourceType",
                             field=f"Bundle.entry[{index}].resource")
            continue
        if resource.get("resourceType") == "Bundle":
            yield from entries_of(resource, source)
        else:
            yield Entry(source, resource, item.get("fullUrl"))


def ndjson_entries(path: Path) -> Iterator[Entry | InputError]:
    """Yield the resources of an NDJSON bulk-export file, one per line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                data = json_loads(line)
            except json.JSONDecodeError as exc:
                yield InputError(source, f"invalid JSON at column {exc.colno}: {exc.msg}")
                continue
            if not is_fhir(data):
                yield InputError(source, "not a FHIR resource (no resourceType)")
                continue
            yield from entries_of(data, source)


# -- the pool of resources and the patients in it ----------------------------------------------

class Pool:
    """All FHIR resources of one screening run, indexed for reference resolution.

    Bulk exports put each resource type in its own file, so resources of every FHIR input
    are pooled before patients are assembled.
    """

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.by_url: dict[str, Entry] = {}
        self.errors: list[InputError] = []
        self.report = FhirReport()
        self.report_dates: dict[int, str] = {}

    def add_all(self, items: Iterable[Entry | InputError], jobs: int = 1) -> None:
        """Pool every item in order; the resources are checked against their models first,
        in ``jobs`` processes (see :func:`model_problems`)."""
        items = list(items)
        checked = [item for item in items
                   if isinstance(item, Entry) and item.type in USED_TYPES]
        problems = dict(zip(map(id, checked), model_problems(checked, jobs), strict=True))
        for item in items:
            self.add(item, problems.get(id(item)))

    def add(self, item: Entry | InputError, problem: tuple[str, str] | None = None) -> None:
        """Pool one item; ``problem`` is what :func:`model_problem` found in it, if anything."""
        if isinstance(item, InputError):
            self.errors.append(item)
            return
        if item.type == REQUEST_ONLY:
            self.report.add(item, False, "a request without a resource (e.g. DELETE or GET)")
            return
        if item.type not in USED_TYPES:
            if _is_fhir_type(item.type):
                self.report.add(item, False, "resource type not used by the protocol")
            else:
                self.errors.append(InputError(item.source, f"'{item.type}' is not a FHIR R4 "
                                              "resource type", record=item.key,
                                              field="resourceType"))
                self.report.add(item, False, "not a FHIR R4 resource type")
            return
        if problem is not None:
            message, where = problem
            self.errors.append(InputError(item.source, message, record=item.key,
                                          field=f"{item.type}.{where}"))
            self.report.add(item, False, "malformed: " + message)
            return
        item.contained = {c.get("id"): c for c in item.data.get("contained") or []
                          if isinstance(c, dict)}
        self.entries.append(item)
        self.by_key[item.key] = item
        if item.full_url:
            self.by_url[item.full_url] = item

    def resolve(self, reference: str | None, within: Entry | None = None) -> dict | None:
        """Resolve a reference: contained '#id', 'Type/id', an absolute URL or urn:uuid."""
        if not reference:
            return None
        if reference.startswith("#") and within is not None:
            return within.contained.get(reference[1:])
        if reference in self.by_url:
            return self.by_url[reference].data
        tail = "/".join(reference.rstrip("/").split("/")[-2:])
        if "/_history/" in reference:
            tail = "/".join(reference.split("/_history/")[0].split("/")[-2:])
        hit = self.by_key.get(tail)
        return hit.data if hit is not None else None

    def patient_key(self, entry: Entry) -> str | None:
        """The 'Patient/id' a resource is about, if it resolves to a Patient in the pool."""
        ref = (entry.data.get(SUBJECT.get(entry.type, "subject")) or {}).get("reference")
        target = self.resolve(ref, entry)
        if target is None or target.get("resourceType") != "Patient":
            return None
        return f"Patient/{target.get('id', '?')}"


# Resources checked per task when checking runs in worker processes, and the fewest worth
# starting workers for (forking costs more than checking a few bundles).
CHECK_BATCH = 200
PARALLEL_FROM = 2_000


def model_problem(kind: str, data: dict) -> tuple[str, str] | None:
    """Check one resource against its FHIR R4 model: None, or the first problem as (message,
    element path). The model itself is not kept: records are assembled from the JSON."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(kind).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _pydantic_message(first), ".".join(str(p) for p in first["loc"])
    return None


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
    from fhir.resources.R4B import get_fhir_model_class

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


def read_fhir(items: Iterable[Entry | InputError], jobs: int = 1
              ) -> tuple[list[dict | InputError], FhirReport]:
    """Assemble one record dict (project JSON form) per Patient; errors kept in order.
    ``jobs`` processes check the resources against their models."""
    pool = Pool()
    pool.add_all(items, jobs)
    term = terminology()
    _date_results_by_their_reports(pool)
    builders: dict[str, RecordBuilder] = {}
    for entry in pool.entries:
        if entry.type == "Patient":
            builder = RecordBuilder(entry, pool, term)
            builders[entry.key] = builder
            pool.report.add(entry, True, "; ".join(["the patient", *builder.notes]))
    for entry in pool.entries:
        if entry.type in ("Patient", "Medication", "DiagnosticReport"):
            continue
        owner = builders.get(pool.patient_key(entry) or "")
        if owner is None:
            pool.report.add(entry, False, "its subject is not a Patient in the input")
            continue
        used, reason = owner.take(entry)
        pool.report.add(entry, used, reason)
    for entry in pool.entries:
        if entry.type == "Medication":
            pool.report.add(entry, True, "read through the resources that reference it")
        elif entry.type == "DiagnosticReport":
            pool.report.add(entry, True, "its date dates those of its results that have none")
    out: list[dict | InputError] = [*pool.errors]
    out.extend(builder.record() for builder in builders.values())
    return out, pool.report


def _date_results_by_their_reports(pool: Pool) -> None:
    """Results often carry no date of their own: the DiagnosticReport that lists them does."""
    for entry in pool.entries:
        if entry.type != "DiagnosticReport":
            continue
        data = entry.data
        when = data.get("effectiveDateTime") or (data.get("effectivePeriod") or {}).get("start")
        if not when:
            continue
        for result in data.get("result") or []:
            target = pool.resolve(result.get("reference"), entry)
            if target is not None:
                pool.report_dates.setdefault(id(target), when)


# -- one patient --------------------------------------------------------------------------------

class RecordBuilder:
    """Collects what one patient's resources say, in the project's record form."""

    def __init__(self, patient: Entry, pool: Pool, term: Terminology) -> None:
        self.patient, self.pool, self.term = patient, pool, term
        self.rec: dict[str, Any] = {"observations": []}
        self.complete_lists: set[str] = set()
        self.consents: list[dt.date] = []
        self.diagnosis: dict[str, Any] = {}
        self.therapies: list[dict] = []
        data = patient.data
        self.rec["id"] = str(data.get("id") or _first_identifier(data) or patient.full_url)
        if data.get("gender"):
            self.rec["sex"] = data["gender"]
        self.notes: list[str] = []
        birth = str(data.get("birthDate") or "")
        if len(birth) == 10:
            self.rec["birth_date"] = birth
        elif birth:
            # FHIR allows a year or year-month; an age in completed years needs the day.
            self.notes.append(f"birthDate '{birth}' is partial, so the age is not known")

    def source(self) -> str:
        return f"{self.patient.source}#{self.patient.key}"

    def record(self) -> dict:
        """The assembled record, with lists marked complete only when the export says so."""
        rec = self.rec
        if self.consents:
            rec.setdefault("consent", {})["icf_signed"] = min(self.consents).isoformat()
        if self.diagnosis:
            rec["diagnosis"] = {**rec.get("diagnosis", {}), **self.diagnosis}
        if self.therapies:
            rec["prior_therapies"] = self.therapies
        for key in ("metastases", "prior_therapies", "supportive_care"):
            if key in self.complete_lists:
                rec.setdefault(key, [])
        return {"__source__": self.source(), **rec}

    def take(self, entry: Entry) -> tuple[bool, str]:
        """Use one resource of this patient; say why not when it is not used."""
        status = str(entry.data.get("status") or "")
        verification = _codes(entry.data.get("verificationStatus"))
        if status in IGNORED_STATUS or IGNORED_STATUS & verification:
            return False, f"status {status or '/'.join(sorted(verification))}"
        handler = getattr(self, "take_" + entry.type)
        return handler(entry)

    # -- resource kinds ------------------------------------------------------------------------
    def take_Consent(self, entry: Entry) -> tuple[bool, str]:
        when = _date(entry.data.get("dateTime"))
        if when is None:
            return False, "no Consent.dateTime"
        self.consents.append(when)
        return True, "ICF signature date (IC1, IC2)"

    def take_List(self, entry: Entry) -> tuple[bool, str]:
        names = {"prior-systemic-therapy": "prior_therapies", "metastases": "metastases",
                 "supportive-care": "supportive_care"}
        code = _project_code(entry.data.get("code"))
        if code not in names:
            return False, "not a list the protocol uses"
        self.complete_lists.add(names[code])
        return True, f"the {names[code].replace('_', ' ')} list is complete"

    def take_Condition(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        when = _date(data.get("onsetDateTime") or data.get("recordedDate"))
        profiles = " ".join(data.get("meta", {}).get("profile") or [])
        code = data.get("code") or {}
        if (SECONDARY_CANCER_SNOMED in _codes(code) or "secondary-cancer" in profiles.lower()
                or _project_code(code) == "metastasis"):
            return self.add_metastasis(data, when)
        histology = _morphology(data) or code
        hit = self.lookup(histology, QL.Neoplasm)
        if hit is not None or "primary-cancer" in profiles.lower() or "ICD-O-3" in {
                SYSTEMS.get(c.get("system", "")) for c in histology.get("coding") or []}:
            if "histology" in self.diagnosis:
                return False, "a further cancer condition; the first one is the diagnosis"
            self.diagnosis["histology"] = self.coded(histology, QL.Neoplasm)
            if when:
                self.diagnosis["date"] = when.isoformat()
            return True, "the sarcoma diagnosis (IC3, IC4, IC5)"
        if self.lookup(code, QL.ClinicalCondition) is not None:
            self.rec.setdefault("conditions", []).append(self.coded(code, QL.ClinicalCondition))
            return True, "a condition that changes a limit (IC9.2)"
        return False, "not a condition the protocol uses"

    def add_metastasis(self, data: dict, when: dt.date | None) -> tuple[bool, str]:
        sites = data.get("bodySite") or []
        site = _text(sites[0]) if sites else None
        item: dict[str, Any] = {"site": site or "unspecified site"}
        if when:
            item["date"] = when.isoformat()
        self.rec.setdefault("metastases", []).append(item)
        return True, "a metastasis (IC3.2, IC5.2, IC9.2)"

    def take_Observation(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        when = _date(data.get("effectiveDateTime") or (data.get("effectivePeriod") or {})
                     .get("start") or data.get("effectiveInstant")
                     or self.pool.report_dates.get(id(data)) or data.get("issued"))
        project = _project_code(data.get("code"))
        if project:
            return self.project_observation(project, data, when)
        if when is None:
            return False, "no effective date: the result cannot be placed in the screening window"
        used = []
        if "dataAbsentReason" not in data and _has_value(data):
            used += self.lab(data, data, when)
        for index, component in enumerate(data.get("component") or []):
            if "dataAbsentReason" not in component and _has_value(component):
                used += self.lab(component, data, when, f"component[{index}]")
        if used:
            return True, "result of " + ", ".join(used)
        if "dataAbsentReason" in data:
            return False, "no value (dataAbsentReason)"
        return False, "not a test the protocol uses"

    def lab(self, part: dict, obs: dict, when: dt.date | None, where: str = "") -> list[str]:
        """Add one result (an Observation or one of its components) if the test is known."""
        test = self.lookup(part.get("code"), QL.Test)
        if test is None or when is None:
            return []
        value, unit = _value(part, self.term)
        item: dict[str, Any] = {"test": self.coded(part["code"], QL.Test), "value": value,
                                "date": when.isoformat()}
        if unit:
            item["unit"] = unit
        high, low = _range(part.get("referenceRange") or obs.get("referenceRange") or [], unit,
                           self.rec.get("sex"))
        if high is not None:
            item["uln"] = high
        if low is not None:
            item["lln"] = low
        self.rec["observations"].append(item)
        return [self.term.label(test) + (f" ({where})" if where else "")]

    def project_observation(self, code: str, data: dict, when: dt.date | None
                            ) -> tuple[bool, str]:
        """Screening facts with no standard code: the project's CodeSystem (docs/fhir.md)."""
        value = _project_value(data)
        target = PROJECT_ELEMENTS.get(code)
        if target is None:
            if code == "lesion-measurement":
                return self.lesion(data, when)
            if code == "sum-of-longest-diameters" and value is not None and when:
                self.rec.setdefault("tumour_measurements", []).append(
                    {"date": when.isoformat(), "sum_of_diameters_mm": value})
                return True, "a sum of longest diameters (IC5.2)"
            if code == "expected-survival" and value is not None:
                unit = ((data.get("valueQuantity") or {}).get("code") or "wk")
                self.rec["expected_survival"] = {
                    "value": value, "unit": {"d": "days", "wk": "weeks", "mo": "months"}.get(
                        unit, unit)}
                return True, "expected survival (IC8.2)"
            return False, f"project code '{code}' is not one the protocol uses"
        if value is None:
            return False, "no value"
        section, name = target
        if section:
            self.rec.setdefault(section, {})[name] = value
        else:
            self.rec[name] = value
        if code == "recist-measurable-disease" and when:
            self.rec["recist"]["date"] = when.isoformat()
        return True, code.replace("-", " ")

    def lesion(self, data: dict, when: dt.date | None) -> tuple[bool, str]:
        parts = {_project_code(c.get("code")): c for c in data.get("component") or []}
        kind = _project_code((parts.get("lesion-kind") or {}).get("valueCodeableConcept"))
        method = _text(data.get("method")) or "other"
        item: dict[str, Any] = {"kind": (kind or "non-nodal").replace("-", "_"),
                                "method": method if method in _METHODS else "other"}
        for code, name in (("longest-diameter", "longest_diameter_mm"),
                           ("short-axis", "short_axis_mm"),
                           ("slice-thickness", "slice_thickness_mm")):
            value = _project_value(parts.get(code) or {})
            if value is not None:
                item[name] = value
        if _project_value(parts.get("previously-irradiated") or {}) is True:
            item["previously_irradiated"] = True
        if data.get("bodySite"):
            item["site"] = _text(data["bodySite"])
        if when:
            item["date"] = when.isoformat()
        self.rec.setdefault("lesions", []).append(item)
        return True, "a baseline lesion measurement (IC6)"

    def take_MedicationStatement(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        period = data.get("effectivePeriod") or {}
        start = _date(period.get("start") or data.get("effectiveDateTime"))
        end = _date(period.get("end"))
        intolerance = "stopped-for-intolerance" in {
            _project_code(r) for r in data.get("statusReason") or []}
        return self.medication(entry, start, end, intolerance)

    def take_MedicationAdministration(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        period = data.get("effectivePeriod") or {}
        start = _date(data.get("effectiveDateTime") or period.get("start"))
        return self.medication(entry, start, _date(period.get("end")), False)

    def take_MedicationRequest(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        if data.get("status") not in ("completed", "stopped"):
            return False, "a request not (yet) given: only completed or stopped ones are a " \
                          "past course"
        bounds = ((data.get("dosageInstruction") or [{}])[0].get("timing") or {}).get(
            "repeat", {}).get("boundsPeriod") or {}
        start = _date(bounds.get("start") or data.get("authoredOn"))
        return self.medication(entry, start, _date(bounds.get("end")), False)

    def take_Procedure(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        code = data.get("code") or {}
        if self.lookup(code, QL.HaematologicSupportProduct) is None:
            return False, "not a transfusion or procedure the protocol uses"
        when = _date(data.get("performedDateTime") or (data.get("performedPeriod") or {})
                     .get("start"))
        item: dict[str, Any] = {"product": self.coded(code, QL.Drug)}
        if when:
            item["date"] = when.isoformat()
        self.rec.setdefault("supportive_care", []).append(item)
        return True, "a transfusion (IC9.0)"

    def medication(self, entry: Entry, start: dt.date | None, end: dt.date | None,
                   intolerance: bool) -> tuple[bool, str]:
        """A drug given: a support product (IC9.0) or a prior systemic therapy (IC4, IC5)."""
        concept = self.medication_concept(entry)
        if concept is None:
            return False, "no medication code or name"
        hit = self.lookup(concept, QL.Drug)
        if hit is not None and self.term.is_a(hit, QL.HaematologicSupportProduct):
            item: dict[str, Any] = {"product": self.coded(concept, QL.Drug)}
            if start:
                item["date"] = start.isoformat()
            self.rec.setdefault("supportive_care", []).append(item)
            return True, "a haematologic support product (IC9.0)"
        atc = {c.get("code", "") for c in concept.get("coding") or []
               if SYSTEMS.get(c.get("system", "")) == "ATC"}
        anticancer = hit is not None and self.term.is_a(hit, QL.SystemicAntiCancerDrug)
        if not anticancer and not any(a.startswith(KEPT_ATC_PREFIXES) for a in atc):
            return False, ("not an anticancer or haematologic support drug the terminology "
                           "knows (add it to ontology/terminology.ttl if it is one)")
        name = _text(concept) or (self.term.label(hit) if hit is not None else None)
        therapy: dict[str, Any] = {"drugs": [self.coded(concept, QL.Drug)]}
        if name:
            therapy["name"] = name
        for key, value in (("start", start), ("end", end)):
            if value:
                therapy[key] = value.isoformat()
        if intolerance:
            therapy["intolerance"] = True
        self.therapies.append(therapy)
        return True, "a prior systemic therapy (IC4, IC5)"

    def medication_concept(self, entry: Entry) -> dict | None:
        data = entry.data
        if data.get("medicationCodeableConcept"):
            return data["medicationCodeableConcept"]
        ref = (data.get("medicationReference") or {}).get("reference")
        medication = self.pool.resolve(ref, entry)
        return (medication or {}).get("code")

    # -- codes ---------------------------------------------------------------------------------
    def lookup(self, concept: dict | None, within) -> Any:
        """The term a CodeableConcept stands for: by any coding, then by display or text."""
        if not concept:
            return None
        for coding in concept.get("coding") or []:
            system = SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
            if coding.get("code"):
                hit = self.term.find_code(system, str(coding["code"]), within)
                if hit is not None:
                    return hit
        for coding in concept.get("coding") or []:
            if coding.get("display"):
                hit = self.term.find(coding["display"], within)
                if hit is not None:
                    return hit
        return self.term.find(concept["text"], within) if concept.get("text") else None

    def coded(self, concept: dict, within) -> dict | str:
        """The record form of a CodeableConcept: the coding the terminology knows first."""
        codings = [c for c in concept.get("coding") or [] if c.get("code")]
        for coding in codings:
            system = SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
            if self.term.find_code(system, str(coding["code"]), within) is not None:
                return _as_coded(coding, system)
        text = _text(concept)
        if text and self.term.find(text, within) is not None:
            return text
        if codings:
            coding = codings[0]
            return _as_coded(coding, SYSTEMS.get(coding.get("system", ""),
                                                  coding.get("system", "")))
        return text or "unnamed"


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
_METHODS = {"CT", "MRI", "caliper", "chest_x_ray", "ultrasound", "PET", "other"}


def _as_coded(coding: dict, system: str) -> dict:
    out = {"system": system, "code": str(coding["code"])}
    if coding.get("display"):
        out["display"] = coding["display"]
    return out


def _first_identifier(data: dict) -> str | None:
    for identifier in data.get("identifier") or []:
        if identifier.get("value"):
            return identifier["value"]
    return None


def _codes(concept: dict | None) -> set[str]:
    return {str(c.get("code")) for c in (concept or {}).get("coding") or [] if c.get("code")}


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
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == PROJECT_SYSTEM and coding.get("code") in project_codes():
            return str(coding["code"])
    return None


def _text(concept: dict | None) -> str | None:
    if not concept:
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return None


def _morphology(condition: dict) -> dict | None:
    for extension in condition.get("extension") or []:
        if extension.get("url") == MCODE_MORPHOLOGY:
            return extension.get("valueCodeableConcept")
    return None


def _date(value: object) -> dt.date | None:
    """The calendar date of a FHIR date or dateTime, as written (its own time zone)."""
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 4:
            return None  # a year alone is too vague for a screening date
        if len(text) == 7:
            return None
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _has_value(part: dict) -> bool:
    return any(key.startswith("value") for key in part)


def _value(part: dict, term: Terminology) -> tuple[str | float | int, str | None]:
    """The result as the record writes it: a number kept exact as text, or a word/code."""
    if "valueQuantity" in part:
        quantity = part["valueQuantity"]
        unit = quantity.get("code") if quantity.get("system") == UCUM else None
        return _exact(quantity.get("value")), unit or quantity.get("unit")
    if "valueInteger" in part:
        return part["valueInteger"], None
    if "valueCodeableConcept" in part:
        concept = part["valueCodeableConcept"]
        for coding in concept.get("coding") or []:
            hit = term.find(str(coding["code"])) if coding.get("code") else None
            if hit is not None:
                return term.label(hit), None  # the grade's own name, e.g. "urine protein 2+"
        return _text(concept) or "", None
    if "valueString" in part:
        return str(part["valueString"]), None
    if "valueBoolean" in part:
        return "positive" if part["valueBoolean"] else "negative", None
    return "", None


def _exact(value: object) -> str:
    """A JSON number as exact decimal text (1.4 stays 1.4, never 1.3999...)."""
    return str(Decimal(str(value)))


_SEX_CODES = {"248153007": "male", "248152002": "female"}  # SNOMED CT, as FHIR examples use


def _range(ranges: list[dict], unit: str | None, sex: str | None
           ) -> tuple[str | None, str | None]:
    """ULN and LLN from the reference range that applies to this patient's sex (else one that
    applies to everyone, else the first), converted to the value's unit."""
    usable = [r for r in ranges if r.get("high") is not None or r.get("low") is not None]

    def applies_to(item: dict) -> set[str]:
        out = set()
        for concept in item.get("appliesTo") or []:
            words = {_SEX_CODES.get(c) for c in _codes(concept)} | {
                (_text(concept) or "").casefold()}
            out |= words & {"male", "female"}
        return out

    chosen = (next((r for r in usable if sex and sex in applies_to(r)), None)
              or next((r for r in usable if not applies_to(r)), None)
              or (usable[0] if usable else None))
    if chosen is None:
        return None, None
    return _in_unit(chosen.get("high"), unit), _in_unit(chosen.get("low"), unit)


def _in_unit(quantity: dict | None, unit: str | None) -> str | None:
    if not quantity or quantity.get("value") is None:
        return None
    value = Decimal(str(quantity["value"]))
    own = quantity.get("code") or quantity.get("unit")
    if own and unit and own != unit:
        try:
            value = convert(value, own, unit)
        except UnitError:
            return None
    return str(value)


def _project_value(part: dict) -> Any:
    if "valueBoolean" in part:
        return bool(part["valueBoolean"])
    if "valueQuantity" in part:
        return float(Decimal(str(part["valueQuantity"].get("value"))))
    if "valueCodeableConcept" in part:
        code = _project_code(part["valueCodeableConcept"])
        return code.replace("-", "_") if code else None
    if "valueInteger" in part:
        return part["valueInteger"]
    if "valueString" in part:
        return part["valueString"]
    return None
