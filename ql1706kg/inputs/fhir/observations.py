"""Observation resources of one patient: laboratory results and the project's screening facts.

An Observation is either a result of a test the terminology knows (with the reference range
that applies to this patient, in the result's unit) or, when coded in the project's
CodeSystem, a screening fact with no standard code: a baseline lesion, a sum of diameters,
expected survival, or one of :data:`~.codes.PROJECT_ELEMENTS`. That reading is one resource
family's, mixed into :class:`~.builder.RecordBuilder` as :class:`ObservationReader`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import PROJECT_ELEMENTS, _project_code, _text, coded, lookup
from .entries import Entry
from .pool import Pool
from .values import _date, _has_value, _project_value, _range, _value

_METHODS = {"CT", "MRI", "caliper", "chest_x_ray", "ultrasound", "PET", "other"}


class ObservationReader:
    """The Observation part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    pool: Pool
    term: Terminology
    rec: dict[str, Any]
    set_single: Callable[[str, str, Any], bool]

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
        test = lookup(self.term, part.get("code"), QL.Test)
        if test is None or when is None:
            return []
        value, unit = _value(part, self.term)
        item: dict[str, Any] = {"test": coded(self.term, part["code"], QL.Test), "value": value,
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
        if not self.set_single(section or "", name, value):
            return False, f"contradicts an earlier resource on {code.replace('-', ' ')}"
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
