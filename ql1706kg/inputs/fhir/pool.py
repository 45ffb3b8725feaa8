"""The pool of one run's FHIR resources: which are used, how references resolve, whose they are.

Bulk exports put each resource type in its own file and resources point at each other by
reference, so every resource is pooled (and checked, see :mod:`.conformance`) before patients
are assembled; the pool is what the patient readers look references up in.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import InputError
from .conformance import _is_fhir_type, model_problems
from .entries import REQUEST_ONLY, Entry, FhirReport

USED_TYPES = frozenset({"Patient", "Consent", "Condition", "Observation", "MedicationStatement",
                        "MedicationAdministration", "MedicationRequest", "Procedure",
                        "Medication", "List", "DiagnosticReport"})
SUBJECT = {"Consent": "patient"}


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
