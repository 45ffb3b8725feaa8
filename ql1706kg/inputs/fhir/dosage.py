"""The dosage lines of a medication resource, in the record's form (R4 ``Dosage`` objects):
``MedicationStatement.dosage``, ``MedicationRequest.dosageInstruction`` and
``MedicationDispense.dosageInstruction`` as written; a ``MedicationAdministration.dosage``
(one administration: ``dose``, ``route``, ``rate[x]``) as one line whose ``doseQuantity`` is
that dose and which has no timing (how often is not said). pipeline/dosage.py reads them.
"""

from __future__ import annotations

_ELEMENTS = {"MedicationStatement": "dosage", "MedicationRequest": "dosageInstruction",
             "MedicationDispense": "dosageInstruction"}


def dosage_lines(resource_type: str, data: dict) -> list[dict]:
    """The resource's dosage as a list of R4 Dosage objects (empty: none recorded)."""
    if resource_type == "MedicationAdministration":
        given = data.get("dosage")
        if not isinstance(given, dict):
            return []
        line: dict = {k: given[k] for k in ("text", "route", "site", "method") if k in given}
        if isinstance(given.get("dose"), dict):
            line["doseAndRate"] = [{"doseQuantity": given["dose"]}]
        return [line]
    lines = data.get(_ELEMENTS.get(resource_type, ""))
    return [line for line in lines if isinstance(line, dict)] if isinstance(lines, list) else []
