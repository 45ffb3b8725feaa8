"""Resource types the reader does not read that can still carry a fact a criterion depends on.

An intolerance to an anticancer drug says that drug was given; an adverse event names the drug it
is suspected of; a clinical impression may find a liver metastasis or a pregnancy. The reader
does not read these types (their meaning is not the criteria's), but their absence must not
make a criterion met: each is read as the resource that would say the same (a drug given, a
condition found) only to tell which criteria it bears on, and those are set aside, naming it.
Which types, and which of their elements, is the element table's ``unread`` block; a resource
of one of them that names nothing a criterion reads (a penicillin allergy, a flu vaccine) is
ignored as before. FamilyMemberHistory is about a relative and is never read as the patient's.
"""

from __future__ import annotations

from typing import Any

from ...protocol.drugs import drug_index
from ...protocol.terminology import Terminology
from .elements import element_table
from .entries import Entry
from .pool import Pool
from .semantics import read


class UnreadReader:
    """The unread-types part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    pool: Pool
    term: Terminology
    set_aside: Any

    def _unread(self, entry: Entry, field: str, as_type: str, body: dict) -> tuple[bool, str]:
        kind = entry.type
        pseudo = Entry(entry.source, {"resourceType": as_type, "id": entry.data.get("id", "?"),
                                      **body}, entry.full_url, entry.contained, entry.scope,
                       entry.folder, seq=entry.seq)
        if self.__dict__.get("shadowing"):  # read to tell what it says: as what it says
            reading = self.__dict__.get("reading")
            self.__dict__["reading"] = read(as_type, pseudo.data, self.__dict__.get("birth"))
            try:
                return getattr(self, "take_" + as_type)(pseudo)
            finally:
                self.__dict__["reading"] = reading
        return self.set_aside(
            entry, f"{kind}.{field}",
            f"{kind} is a type this reader does not read, and this one names what a "
            "criterion reads",
            via=pseudo, otherwise=f"{kind} about nothing a criterion reads: ignored")

    def _drug(self, entry: Entry, field: str, concept: object = None,
              reference: object = None) -> tuple[bool, str]:
        body: dict = {"status": "completed", "effectiveDateTime": _date_of(entry.data)}
        if isinstance(concept, dict):
            if not _may_matter(self.term, concept):  # a vaccine, a penicillin: said cheaply
                return False, f"a {entry.type} about a drug no criterion reads: ignored"
            body["medicationCodeableConcept"] = concept
        elif isinstance(reference, dict):
            body["medicationReference"] = reference
        else:
            return False, f"a {entry.type} that names no drug: ignored"
        body = {k: v for k, v in body.items() if v is not None}
        return self._unread(entry, field, "MedicationStatement", body)

    def take_AllergyIntolerance(self, entry: Entry) -> tuple[bool, str]:
        return self._drug(entry, "code", entry.data.get("code"))

    def take_Specimen(self, entry: Entry) -> tuple[bool, str]:
        """A specimen is read only as a declared kind (an archival tumour block)."""
        return False, "a Specimen of no kind the protocol declares: ignored"

    def take_Immunization(self, entry: Entry) -> tuple[bool, str]:
        return self._drug(entry, "vaccineCode", entry.data.get("vaccineCode"))

    def take_AdverseEvent(self, entry: Entry) -> tuple[bool, str]:
        found: tuple[bool, str] = (False, "an AdverseEvent that names no suspected drug: ignored")
        for suspect in entry.data.get("suspectEntity") or []:
            instance = suspect.get("instance") if isinstance(suspect, dict) else None
            ref = instance.get("reference") if isinstance(instance, dict) else None
            target = self.pool.resolve(ref, entry) if isinstance(ref, str) else None
            if target is not None and target.get("resourceType") != "Medication":
                continue  # an administration or a statement is read as itself
            result = self._drug(entry, "suspectEntity.instance", reference=instance)
            if result[1].startswith("set aside"):
                return result
            found = result
        return found

    def take_CarePlan(self, entry: Entry) -> tuple[bool, str]:
        found: tuple[bool, str] = (False, "a CarePlan that gives no drug: ignored")
        for activity in entry.data.get("activity") or []:
            detail = activity.get("detail") if isinstance(activity, dict) else None
            if not isinstance(detail, dict) or detail.get("status") in (
                    "not-started", "scheduled", "cancelled", "entered-in-error"):
                continue
            result = self._drug(entry, "activity.detail.product[x]",
                                detail.get("productCodeableConcept"),
                                detail.get("productReference"))
            if result[1].startswith("set aside"):
                return result
            found = result
        return found

    def take_ClinicalImpression(self, entry: Entry) -> tuple[bool, str]:
        found: tuple[bool, str] = (False, "a ClinicalImpression with no finding: ignored")
        for finding in entry.data.get("finding") or []:
            concept = finding.get("itemCodeableConcept") if isinstance(finding, dict) else None
            if not isinstance(concept, dict):
                continue
            result = self._unread(entry, "finding.itemCodeableConcept", "Condition", {
                "clinicalStatus": {"coding": [{"code": "active"}]}, "code": concept,
                "subject": entry.data.get("subject")})
            if result[1].startswith("set aside"):
                return result
            found = result
        return found


def unread_types() -> frozenset[str]:
    """The types the reader does not read but that may carry a fact (the element table)."""
    return frozenset(kind for kind, item in element_table().unread.items() if item["carries"])


def _may_matter(term: Terminology, concept: dict) -> bool:
    """Whether a drug is one the medication readers would keep (an anticancer or support
    product, or an unidentified drug its INN stem or ATC group keeps), as they decide it."""
    from .medications import _kind, drug_item

    index = drug_index(term)
    return _kind(index, drug_item(index, concept), related=False) != "other"


def _date_of(data: dict) -> str | None:
    for key in ("occurrenceDateTime", "recordedDate", "date", "onsetDateTime", "effectiveDateTime",
                "detected"):
        if isinstance(data.get(key), str):
            return data[key]
    return None
