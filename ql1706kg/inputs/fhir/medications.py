"""Medication and Procedure resources of one patient: prior systemic therapies and support.

MedicationStatement, MedicationAdministration, (completed or stopped) MedicationRequest and
Procedure all say that a drug or product was given; whether it is a prior systemic anticancer
therapy (IC4, IC5) or haematologic support (IC9.0) is one resource family's reading, mixed into
:class:`~.builder.RecordBuilder` as :class:`MedicationReader`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import SYSTEMS, _project_code, _text, coded, lookup
from .entries import Entry
from .pool import Pool
from .values import _date

# ATC groups whose drugs are kept even when the terminology does not know them, so that an
# unclassified antineoplastic or haematologic product is never assumed harmless (IC4, IC5, IC9.0).
KEPT_ATC_PREFIXES = ("L01", "L02", "L03", "L04", "B03", "B02BX")


class MedicationReader:
    """The Medication and Procedure part of :class:`~.builder.RecordBuilder` (whose state it
    uses)."""

    pool: Pool
    term: Terminology
    rec: dict[str, Any]
    therapies: list[dict]

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
        if lookup(self.term, code, QL.HaematologicSupportProduct) is None:
            return False, "not a transfusion or procedure the protocol uses"
        when = _date(data.get("performedDateTime") or (data.get("performedPeriod") or {})
                     .get("start"))
        item: dict[str, Any] = {"product": coded(self.term, code, QL.Drug)}
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
        hit = lookup(self.term, concept, QL.Drug)
        if hit is not None and self.term.is_a(hit, QL.HaematologicSupportProduct):
            item: dict[str, Any] = {"product": coded(self.term, concept, QL.Drug)}
            if start:
                item["date"] = start.isoformat()
            self.rec.setdefault("supportive_care", []).append(item)
            return True, "a haematologic support product (IC9.0)"
        atc = {c.get("code", "") for c in concept.get("coding") or []
               if SYSTEMS.get(c.get("system", "")) == "ATC"}
        anticancer = hit is not None and self.term.is_a(hit, QL.SystemicAntiCancerDrug)
        if not anticancer and not any(a.startswith(KEPT_ATC_PREFIXES) for a in atc):
            return False, ("not an anticancer or haematologic support drug the terminology "
                           "knows (add it to ontology/terminology-drugs.ttl if it is one)")
        name = _text(concept) or (self.term.label(hit) if hit is not None else None)
        therapy: dict[str, Any] = {"drugs": [coded(self.term, concept, QL.Drug)]}
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
