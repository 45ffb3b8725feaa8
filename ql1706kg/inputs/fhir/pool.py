"""How one run's FHIR resources refer to each other: which are used, how references resolve.

Bulk exports put each resource type in its own file and resources point at each other by
reference. The resources are not kept in memory: the run's index (:mod:`.index`) records where
each one is, and references are resolved by looking it up. :func:`resolve` is FHIR's rule for
that, written once over three look-ups the index answers (a fullUrl in a scope, a fullUrl
anywhere, a ``Type/id`` in a scope); :class:`Pool` is what a patient's readers see: the
resources a reference names, the dates DiagnosticReports give their results, and the results
a report gave its patient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .elements import element_table
from .entries import Entry

if TYPE_CHECKING:
    from ...protocol.terminology import Terminology

USED_TYPES = frozenset({"Patient", "Consent", "Condition", "Observation", "MedicationStatement",
                        "AllergyIntolerance", "AdverseEvent", "Immunization", "ClinicalImpression",
                        "CarePlan",
                        "MedicationAdministration", "MedicationRequest", "MedicationDispense",
                        "Procedure", "Medication", "List", "DiagnosticReport", "Appointment",
                        "Specimen"})
# The element that names a resource's patient, where it is not 'subject'.
SUBJECT = {"Consent": "patient", "AllergyIntolerance": "patient", "Immunization": "patient",
           "FamilyMemberHistory": "patient", "NutritionOrder": "patient"}
_READ_TYPES: dict[int, tuple[object, frozenset[str]]] = {}


def declared_types(term: Terminology) -> frozenset[str]:
    """The resource types the protocol's declared fact kinds name that the element table
    covers (the protocol check refuses any other; once per terminology)."""
    known = _READ_TYPES.get(id(term))
    if known is None or known[0] is not term:
        covered = set(element_table().declarable)
        known = _READ_TYPES[id(term)] = (term, frozenset(
            rtype for kind in term.fact_kinds.values() if kind.built_in is None
            for rtype in kind.fhir_types if rtype in covered))
    return known[1]


def read_types(term: Terminology) -> frozenset[str]:
    """The resource types read: those of the built-in readers and of the declared kinds."""
    return USED_TYPES | declared_types(term)

Hit = TypeVar("Hit")
# The three look-ups a reference needs, each giving the first usable resource: by fullUrl in
# one scope (None: in any scope), and by 'Type/id' in one scope.
UrlLookup = Callable[[object, str], "Hit | None"]
KeyLookup = Callable[[object, str], "Hit | None"]


IDENTIFIER = "identifier:"  # a logical reference, as the index keeps it: identifier:system|value


def subject_reference(kind: str, data: dict) -> str | None:
    """The reference a resource gives to the patient it is about (``Consent.patient``, else
    ``subject``), if it gives one as FHIR JSON writes it: a literal reference, else a logical
    one (``identifier`` with system and value, kept as 'identifier:system|value'); a display
    alone ties nothing."""
    value = data.get(SUBJECT.get(kind, "subject"))
    if kind == "Appointment":  # its patient is a participant (the first one named)
        actors = [p.get("actor") for p in data.get("participant") or [] if isinstance(p, dict)]
        value = next((a for a in actors if isinstance(a, dict) and (
            a.get("type") in (None, "Patient")) and "Practitioner" not in str(
            a.get("reference", ""))), None)
    if not isinstance(value, dict):
        return None
    reference = value.get("reference")
    if isinstance(reference, str):
        return reference
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("system"), str) \
            and isinstance(identifier.get("value"), str) and identifier.get("use") != "old":
        return f"{IDENTIFIER}{identifier['system']}|{identifier['value']}"
    return None


def resolve(reference: str | None, scope: object, folder: object, full_url: str | None,
            by_url: UrlLookup, by_key: KeyLookup) -> Hit | None:
    """The resource a reference names, by FHIR's rules and never across people.

    An absolute reference matches a resource's fullUrl, or a resource of the same server
    (the referencing resource's fullUrl base) in the same scope; a reference to another
    server's ``Patient/X`` is not the local ``Patient/X``. A relative reference resolves
    against the referencing entry's fullUrl base (the rule for bundles), else within its
    scope (the same bundle), else among the resources outside bundles of its folder (a bulk
    export, single-resource files): never inside another bundle. A fullUrl is looked up in the
    referencing entry's own bundle first: examples of one folder reuse fullUrls
    (https://example.com/base/Observation/o3) across bundles.
    """
    if not reference or reference.startswith(IDENTIFIER):
        return None
    reference = reference.split("/_history/")[0].rstrip("/")

    def url(name: str) -> Hit | None:
        hit = by_url(scope, name)
        return hit if hit is not None else by_url(None, name)

    hit = url(reference)
    if hit is not None:
        return hit
    base = _base(full_url)
    tail = "/".join(reference.split("/")[-2:])
    if _is_absolute(reference):
        if reference.startswith("urn:") or base is None or _base(reference) != base:
            return None  # another server's resource, or a urn with no entry
    elif base is not None and (hit := url(f"{base}/{tail}")) is not None:
        return hit
    hit = by_key(scope, tail)
    return hit if hit is not None else by_key(folder, tail)  # outside bundles, same folder


class Pool:
    """The resources one patient's readers may look up, and what reports said of theirs.

    ``report_dates`` and ``adopted`` are keyed by the ``id()`` of a resource's JSON:
    the date of the DiagnosticReport that lists a result without a date of its own, and, for
    a result without a subject that a report of this patient lists, that report.
    """

    def __init__(self) -> None:
        self.report_dates: dict[int, str] = {}
        self.adopted: dict[int, str] = {}

    def resolve(self, reference: str | None, within: Entry | None = None) -> dict | None:
        """Resolve a reference: contained '#id', 'Type/id', an absolute URL or urn:uuid."""
        if reference and reference.startswith("#"):
            return within.contained.get(reference[1:]) if within is not None else None
        hit = self.resolve_entry(reference, within)
        return hit.data if hit is not None else None

    def resolve_entry(self, reference: str | None, within: Entry | None) -> Entry | None:
        """The resource a reference names (see :func:`resolve`)."""
        if within is None or not isinstance(reference, str):
            return None
        scope, folder = self.where(within)
        return resolve(reference, scope, folder, within.full_url, self.by_url, self.by_key)

    def patient_of(self, entry: Entry) -> Entry | None:
        """The Patient a resource is about, if it resolves to a Patient of the input."""
        target = self.resolve_entry(subject_reference(entry.type, entry.data), entry)
        return target if target is not None and target.type == "Patient" else None

    # -- the look-ups, answered by the run's index ----------------------------------------------
    def where(self, entry: Entry) -> tuple[object, object]:
        """How the look-ups name an entry's scope and folder."""
        return entry.scope, entry.folder

    def by_url(self, scope: object, url: str) -> Entry | None:
        raise NotImplementedError

    def by_key(self, scope: object, key: str) -> Entry | None:
        raise NotImplementedError


def _is_absolute(reference: str) -> bool:
    return reference.startswith(("http://", "https://", "urn:"))


def _base(url: str | None) -> str | None:
    """The server base of an absolute RESTful URL ('http://x/fhir' of 'http://x/fhir/A/1')."""
    if not url or not url.startswith(("http://", "https://")) or url.count("/") < 4:
        return None
    return url.rsplit("/", 2)[0]
