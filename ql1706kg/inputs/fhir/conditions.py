"""Condition resources of one patient: the sarcoma diagnosis, metastases, other conditions.

A Condition is the diagnosis (its histology, from mCODE's morphology extension or its code),
a metastasis (mCODE's secondary cancer, or the project's code), or a condition that changes
a limit; telling those apart is one resource family's reading, mixed into
:class:`~.builder.RecordBuilder` as :class:`ConditionReader`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import SYSTEMS, _codes, _project_code, _text, coded, lookup
from .entries import Entry
from .values import _date

SECONDARY_CANCER_SNOMED = "128462008"  # Secondary malignant neoplastic disease (mCODE's code)
MCODE_MORPHOLOGY = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
                    "mcode-histology-morphology-behavior")


class ConditionReader:
    """The Condition part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    term: Terminology
    rec: dict[str, Any]
    diagnosis: dict[str, Any]

    def take_Condition(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        when = _date(data.get("onsetDateTime") or data.get("recordedDate"))
        profiles = " ".join(data.get("meta", {}).get("profile") or [])
        code = data.get("code") or {}
        if (SECONDARY_CANCER_SNOMED in _codes(code) or "secondary-cancer" in profiles.lower()
                or _project_code(code) == "metastasis"):
            return self.add_metastasis(data, when)
        histology = _morphology(data) or code
        hit = lookup(self.term, histology, QL.Neoplasm)
        if hit is not None or "primary-cancer" in profiles.lower() or "ICD-O-3" in {
                SYSTEMS.get(c.get("system", "")) for c in histology.get("coding") or []}:
            if "histology" in self.diagnosis:
                return False, "a further cancer condition; the first one is the diagnosis"
            self.diagnosis["histology"] = coded(self.term, histology, QL.Neoplasm)
            if when:
                self.diagnosis["date"] = when.isoformat()
            return True, "the sarcoma diagnosis (IC3, IC4, IC5)"
        if lookup(self.term, code, QL.ClinicalCondition) is not None:
            self.rec.setdefault("conditions", []).append(
                coded(self.term, code, QL.ClinicalCondition))
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


def _morphology(condition: dict) -> dict | None:
    for extension in condition.get("extension") or []:
        if extension.get("url") == MCODE_MORPHOLOGY:
            return extension.get("valueCodeableConcept")
    return None
