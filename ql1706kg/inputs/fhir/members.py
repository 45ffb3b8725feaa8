"""The members of a List that records medication kinds complete, checked against what was
read: a List of the protocol's screening CodeSystem says "these are all the current systemic
immunosuppressants", but a member the reader cannot read as a fact of those kinds (a drug
known by a code the kind does not list, a ``medicationReference``, a reference that does not
resolve) would leave the list complete and the medication unseen: a patient could pass an
exclusion on a drug nobody read. Such a List says nothing (the criterion stays unknown), and
the reason names the member.
"""

from __future__ import annotations

from ...protocol.terminology import Terminology
from .declared import declared_facts
from .entries import Entry
from .pool import Pool

MEDICATION_TYPES = frozenset({"MedicationStatement", "MedicationRequest",
                              "MedicationAdministration", "MedicationDispense"})


def unread_members(term: Terminology, pool: Pool, entry: Entry, kinds: list[str],
                   members: list[dict]) -> list[str]:
    """The members of a List of medication kinds not read as a fact of one of ``kinds``."""
    declared = [term.fact_kinds[k] for k in kinds if k in term.fact_kinds]
    if not any(set(kind.fhir_types) & MEDICATION_TYPES for kind in declared):
        return []
    unread = []
    for member in members:
        item = member.get("item")
        ref = item.get("reference") if isinstance(item, dict) else None
        data = pool.resolve(ref if isinstance(ref, str) else None, entry)
        shown = ref if isinstance(ref, str) else "an entry without a reference"
        if data is None:
            unread.append(f"{shown} (not found)")
        elif data.get("resourceType") in MEDICATION_TYPES and not any(
                fact["kind"] in kinds
                for fact in declared_facts(term, Entry(entry.source, data))):
            unread.append(f"{shown} (not a medication of the list's kinds as declared)")
    return unread
