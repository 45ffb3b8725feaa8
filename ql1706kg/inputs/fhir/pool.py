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
                        "MedicationAdministration", "MedicationRequest", "MedicationDispense",
                        "Procedure", "Medication", "List", "DiagnosticReport"})
SUBJECT = {"Consent": "patient"}


# -- the pool of resources and the patients in it ----------------------------------------------

class Pool:
    """All FHIR resources of one screening run, indexed for reference resolution.

    Bulk exports put each resource type in its own file, so resources of every FHIR input
    are pooled before patients are assembled.
    """

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.by_key: dict[tuple[str, str], Entry] = {}  # (scope, 'Type/id')
        self.by_url: dict[str, Entry] = {}  # fullUrl (absolute or urn:uuid), first seen
        self.by_scoped_url: dict[tuple[str, str], Entry] = {}  # (scope, fullUrl)
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
        self.by_key.setdefault((item.scope, item.key), item)
        if item.full_url:
            self.by_url.setdefault(item.full_url, item)
            self.by_scoped_url.setdefault((item.scope, item.full_url), item)

    def resolve(self, reference: str | None, within: Entry | None = None) -> dict | None:
        """Resolve a reference: contained '#id', 'Type/id', an absolute URL or urn:uuid."""
        if reference and reference.startswith("#"):
            return within.contained.get(reference[1:]) if within is not None else None
        hit = self.resolve_entry(reference, within)
        return hit.data if hit is not None else None

    def resolve_entry(self, reference: str | None, within: Entry | None) -> Entry | None:
        """The pooled resource a reference names, by FHIR's rules and never across people.

        An absolute reference matches a resource's fullUrl, or a resource of the same server
        (the referencing resource's fullUrl base) in the same scope; a reference to another
        server's ``Patient/X`` is not the local ``Patient/X``. A relative reference resolves
        against the referencing entry's fullUrl base (the rule for bundles), else within its
        scope (the same bundle), else among the resources outside bundles of its folder (a
        bulk export, single-resource files): never inside another bundle.
        """
        if not reference:
            return None
        reference = reference.split("/_history/")[0].rstrip("/")
        hit = self._by_url(reference, within)
        if hit is not None:
            return hit
        base = _base(within.full_url) if within is not None else None
        tail = "/".join(reference.split("/")[-2:])
        if _is_absolute(reference):
            if reference.startswith("urn:") or base is None or _base(reference) != base:
                return None  # another server's resource, or a urn with no entry
        elif base is not None and (hit := self._by_url(f"{base}/{tail}", within)) is not None:
            return hit
        if within is None:
            return None
        return (self.by_key.get((within.scope, tail))
                or self.by_key.get((within.folder, tail)))  # outside bundles, same folder

    def _by_url(self, url: str, within: Entry | None) -> Entry | None:
        """A fullUrl in the referencing entry's own bundle first: examples of one folder reuse
        fullUrls (https://example.com/base/Observation/o3) across bundles."""
        if within is not None:
            hit = self.by_scoped_url.get((within.scope, url))
            if hit is not None:
                return hit
        return self.by_url.get(url)

    def patient_of(self, entry: Entry) -> Entry | None:
        """The Patient a resource is about, if it resolves to a Patient in the pool."""
        ref = (entry.data.get(SUBJECT.get(entry.type, "subject")) or {}).get("reference")
        target = self.resolve_entry(ref, entry)
        return target if target is not None and target.type == "Patient" else None


def _is_absolute(reference: str) -> bool:
    return reference.startswith(("http://", "https://", "urn:"))


def _base(url: str | None) -> str | None:
    """The server base of an absolute RESTful URL ('http://x/fhir' of 'http://x/fhir/A/1')."""
    if not url or not url.startswith(("http://", "https://")) or url.count("/") < 4:
        return None
    return url.rsplit("/", 2)[0]
