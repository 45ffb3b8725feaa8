"""Observation resources of one patient: laboratory results and the project's screening facts.

An Observation is either a result of a test the terminology knows (with the reference range
that applies to this patient, in the result's unit) or, when coded in the project's
CodeSystem, a screening fact with no standard code: a baseline lesion, a sum of diameters,
expected survival, or one of :data:`~.codes.PROJECT_ELEMENTS`. That reading is one resource
family's, mixed into :class:`~.builder.RecordBuilder` as :class:`ObservationReader`.

A test is known by a coding in its own code system only (CDC race 2106-3 is not LOINC 2106-3
urine hCG), by a FHIR coding the ontology keeps (``ql:fhirCoding``: ECOG as SNOMED CT
423740007), or by its name. A Karnofsky score becomes an ECOG result named by its conversion row
(the range of ECOG grades the published tables give it, ontology/ql1706kg.ttl); a quantitative
hCG is read through the laboratory's interpretation, else its reference range; a pregnancy
status (LOINC 82810-3) is not a test result (see :meth:`ObservationReader.pregnancy_status`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from rdflib import URIRef

from ...protocol.namespaces import QL
from ...protocol.terminology import CODE_SYSTEMS, Terminology
from .codes import (
    PROJECT_ELEMENTS,
    SYSTEMS,
    _as_coded,
    _codings,
    _concept_text,
    _project_code,
    _text,
)
from .entries import Entry
from .pool import Pool
from .semantics import COMPARATORS, Bound, Reading, interpretation_conflict, unreadable_value
from .timing import when
from .values import _decimal, _has_value, _project_value, _range, _value, reading_rules

_METHODS = {"CT", "MRI", "caliper", "chest_x_ray", "ultrasound", "PET", "other"}
_SCORE = re.compile(r"^\s*(\d{1,3}(?:\.0+)?)\s*%?\s*$")  # a Karnofsky score: 90, 90%, 90.0


class ObservationReader:
    """The Observation part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    pool: Pool
    term: Terminology
    rec: dict[str, Any]
    set_single: Callable[[str, str, Any], bool]
    aside_fact: Callable[..., None]
    reading: Reading
    take_disease_observation: Callable[[Entry], tuple[bool, str] | None]  # .disease_observations

    def take_Observation(self, entry: Entry) -> tuple[bool, str]:
        if (disease := self.take_disease_observation(entry)) is not None:  # .conditions reads
            return disease  # the cancer's histology, TNM M, stage group, metastasis history
        data = entry.data
        point = self.reading.date or when(self.pool.report_dates.get(id(data))) or when(
            data.get("issued"))
        date = point.text or None if point is not None else None
        project = _project_code(data.get("code"))
        if project:
            return self.project_observation(project, data, date)
        rules = reading_rules()
        if rules.term_of(data.get("code"), QL.PerformanceStatusScale) is not None:
            return self.karnofsky(data, date)
        if rules.coded(data.get("code"), QL.PregnancyStatus):
            return self.pregnancy_status(data, date)
        if date is None:
            return False, "no effective date: the result cannot be placed in the screening window"
        used = []
        if "dataAbsentReason" not in data and _has_value(data):
            used += self.lab(entry, data, data, date)
        for index, component in enumerate(data.get("component") or []):
            if isinstance(component, dict) and "dataAbsentReason" not in component \
                    and _has_value(component):
                used += self.lab(entry, component, data, date, f"component[{index}]")
        if used:
            report = self.pool.adopted.get(id(data))
            return True, "result of " + ", ".join(used) + (
                f" (no subject of its own: the patient of {report}, which lists it)"
                if report else "")
        if "dataAbsentReason" in data:
            return False, "no value (dataAbsentReason)"
        return False, "not a test the protocol uses"

    def lab(self, entry: Entry, part: dict, obs: dict, date: str, where: str = ""
            ) -> list[str]:
        """Add one result (an Observation or one of its components) if the test is known: its
        value with its bound (a comparator is a bound, not the value), the reference range in
        its unit; a value no record can hold, or an interpretation that contradicts the value
        and its range, sets the result aside."""
        test, written = _test_of(self.term, part.get("code"))
        if test is None:
            return []
        label = self.term.label(test)
        shown = label + (f" ({where})" if where else "")
        element = f"Observation.{where + '.' if where else ''}value[x]"
        unreadable = unreadable_value(part)
        if unreadable:
            self.aside_fact(entry, "observations", label, element.replace(
                "value[x]", unreadable), f"a {unreadable[5:]} value, which the record cannot "
                "hold as a result or a bound")
            return [f"{shown}, set aside"]
        quantity = part.get("valueQuantity")
        if isinstance(quantity, dict) and quantity.get("comparator") not in (None, *COMPARATORS):
            self.aside_fact(entry, "observations", label, element.replace(
                "value[x]", "valueQuantity.comparator"), f"the comparator "
                f"'{quantity['comparator']}' is no bound the record can hold")
            return [f"{shown}, set aside"]
        value, unit, comparator = _value(part, self.term)
        item: dict[str, Any] = {"test": written, "value": value, "date": date}
        if comparator not in (None, "="):
            item["comparator"] = comparator
        if unit:
            item["unit"] = unit
        high, low = _range(part.get("referenceRange") or obs.get("referenceRange") or [], unit,
                           self.rec.get("sex"))
        if high is not None:
            item["uln"] = high
        if low is not None:
            item["lln"] = low
        info = self.term.tests.get(test)
        if info is not None and info.value_set == QL.QualitativeResult:
            _interpret(item, part.get("interpretation"))  # a component's own, never its panel's
        else:
            number = _decimal(value)
            conflict = interpretation_conflict(
                Bound(comparator or "=", number) if number is not None else None,
                _decimal(high), _decimal(low), part.get("interpretation"))
            if conflict:
                where_i = f"Observation.{where + '.' if where else ''}interpretation"
                self.aside_fact(entry, "observations", label, where_i,
                                f"the interpretation contradicts the value: {conflict}")
                return [f"{shown}, set aside"]
        self.rec["observations"].append(item)
        return [shown]

    def karnofsky(self, data: dict, when: str | None) -> tuple[bool, str]:
        """A Karnofsky score as the ECOG result its conversion row stands for; a score
        that is no step of the scale is kept as an ECOG result that cannot be used, so the
        performance criterion says why it is unknown."""
        if "dataAbsentReason" in data or not _has_value(data):
            return False, "no value (dataAbsentReason)"
        if when is None:
            return False, "no effective date: the result cannot be placed in the screening window"
        rules = reading_rules()
        score, shown = _karnofsky_score(data)
        row = rules.karnofsky.get(score) if score is not None else None
        if row is None:
            value = f"Karnofsky {shown}, not a step of the scale (0 to 100 by 10)"
            reason = ("a Karnofsky score that is not a step of the scale (performance status "
                      "unknown)")
        else:
            value = rules.labels[row]
            low, high = rules.ecog_ranges[row]
            reason = (f"Karnofsky {score}, read as ECOG {low}" + (f"-{high}" if high != low
                                                                  else ""))
        self.rec["observations"].append({"test": self.term.label(QL.ECOGPerformanceStatus),
                                         "value": value, "date": when})
        return True, reason

    def pregnancy_status(self, data: dict, when: str | None) -> tuple[bool, str]:
        """A pregnancy status is a status, not a test result: the pregnancy criterion needs a
        negative pregnancy test (criteria.md). 'Not pregnant' and 'unknown' say nothing that
        criterion can use and are ignored; 'pregnant' is a pregnancy on record on that date
        (``reproductive.pregnancies``); a status the reader cannot place cannot be set aside
        either: it is kept as a pregnancy test that cannot be interpreted, so that criterion is
        unknown until a negative test dated after it (never met on it)."""
        if "dataAbsentReason" in data or not _has_value(data):
            return False, "no value (dataAbsentReason)"
        rules = reading_rules()
        concept = data.get("valueCodeableConcept")
        if concept is None and isinstance(data.get("valueString"), str):
            concept = {"text": data["valueString"]}
        status = rules.term_of(concept, QL.PregnancyStatusValue)
        if status in (QL.NotPregnant, QL.PregnancyStatusUnknown):
            return False, (f"a pregnancy status ('{rules.labels[status]}'), not a pregnancy "
                           "test: a negative pregnancy test is needed")
        if when is None:
            return False, "no effective date: the status cannot be placed in the screening window"
        if status == QL.Pregnant:  # a pregnancy on record on that date
            self.rec.setdefault("reproductive", {}).setdefault("pregnancies", []).append(
                {"date": when})
            return True, f"a pregnancy status 'pregnant' on {when}: a pregnancy on record"
        shown = rules.labels[status] if status is not None else (_text(concept) or "unreadable")
        self.rec["observations"].append({
            "test": self.term.label(QL.PregnancyTest), "date": when,
            "value": f"pregnancy status: {shown} (LOINC 82810-3), a status, not a test result"})
        return True, (f"a pregnancy status ({shown}): unknown until a negative pregnancy "
                      "test dated after it")

    def project_observation(self, code: str, data: dict, when: str | None
                            ) -> tuple[bool, str]:
        """Screening facts with no standard code: the project's CodeSystem (docs/fhir.md)."""
        value = _project_value(data)
        target = PROJECT_ELEMENTS.get(code)
        if target is None:
            if code == "lesion-measurement":
                return self.lesion(data, when)
            if code == "sum-of-longest-diameters" and value is not None and when:
                self.rec.setdefault("tumour_measurements", []).append(
                    {"date": when[:10], "sum_of_diameters_mm": value})
                return True, "a sum of longest diameters"
            if code == "expected-survival" and value is not None:
                unit = ((data.get("valueQuantity") or {}).get("code") or "wk")
                self.rec["expected_survival"] = {
                    "value": value, "unit": {"d": "days", "wk": "weeks", "mo": "months"}.get(
                        unit, unit)}
                return True, "expected survival"
            return False, f"project code '{code}' is not one the protocol uses"
        if value is None:
            return False, "no value"
        section, name = target
        if not self.set_single(section or "", name, value):
            return False, f"contradicts an earlier resource on {code.replace('-', ' ')}"
        if code == "recist-measurable-disease" and when:
            self.rec["recist"]["date"] = when[:10]
        return True, code.replace("-", " ")

    def lesion(self, data: dict, when: str | None) -> tuple[bool, str]:
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
            item["date"] = when[:10]
        self.rec.setdefault("lesions", []).append(item)
        return True, "a baseline lesion measurement"


# -- helpers ----------------------------------------------------------------------------------

def _test_of(term: Terminology, concept: object) -> tuple[Any, dict | str]:
    """The test a CodeableConcept names and its record form. A code counts only in its own
    system (a coding with a system the terminology does not index is never read by its bare
    code: CDC race 2106-3 is not LOINC 2106-3); then the ontology's FHIR codings; then a
    coding's display or the concept's text."""
    codings = _codings(concept)
    for coding in codings:
        system = SYSTEMS.get(str(coding.get("system", "")))
        prop = CODE_SYSTEMS.get(system.casefold()) if system else None
        if prop is not None and coding.get("code"):
            hit = term.by_code.get((prop, str(coding["code"]).strip()))
            if hit is not None and term.is_a(hit, QL.Test):
                return hit, _as_coded(coding, cast(str, system))  # (prop found: a system)
    hit = reading_rules().term_of({"coding": codings})
    if hit is not None and term.is_a(hit, QL.Test):
        return hit, term.label(hit)
    for text in [*(str(c["display"]) for c in codings if c.get("display")),
                 _concept_text(concept)]:
        hit = term.find(text, QL.Test) if text else None
        if hit is not None and text:
            return hit, text
    return None, ""


def _karnofsky_score(data: dict) -> tuple[int | None, str]:
    """The score of a Karnofsky Observation (valueInteger, valueQuantity, a string such as
    '90%', or a coded value whose code or display is one, as the German MII module codes it)."""
    candidates: list[object] = []
    if "valueInteger" in data:
        candidates.append(data["valueInteger"])
    if "valueQuantity" in data:
        candidates.append((data["valueQuantity"] or {}).get("value"))
    if "valueString" in data:
        candidates.append(data["valueString"])
    concept = data.get("valueCodeableConcept")
    for coding in _codings(concept):
        candidates += [coding.get("code"), coding.get("display")]
    candidates.append(_concept_text(concept))
    shown = next((str(c) for c in candidates if c is not None), "")
    for candidate in candidates:
        number = _decimal(candidate) if not isinstance(candidate, str) else None
        score = _SCORE.match(candidate) if isinstance(candidate, str) else None
        if score is not None:
            number = Decimal(score.group(1))
        if number is not None and number == number.to_integral_value():
            return int(number), shown
    return None, shown


def _interpret(item: dict, interpretation: object) -> None:
    """A number for a test read as positive or negative (a quantitative hCG): the laboratory's
    interpretation decides (POS/DET/H... positive, NEG/ND/N negative), unless its reference
    range says otherwise; an interpretation that says neither, or one that contradicts the
    range, leaves a value that cannot be used (the criterion unknown, with the reason). Without an
    interpretation the number stays, to be read against its upper limit (above = positive)."""
    concepts = [c for c in interpretation or [] if isinstance(c, dict)] \
        if isinstance(interpretation, list) else []
    number = _decimal(item["value"])
    if not concepts or number is None:
        return
    rules = reading_rules()
    said = {rules.term_of(c, QL.QualitativeResult) for c in concepts}
    shown = ", ".join(filter(None, (_text(c) or next(iter(_codings(c)), {}).get("code")
                                    for c in concepts))) or "unreadable"
    quantity = f"{item['value']} {item.get('unit') or ''}".strip()
    uln = _decimal(item.get("uln"))
    if len(said) != 1 or None in said:
        item["value"] = (f"{quantity} with the interpretation {shown}, which says neither "
                         "positive nor negative")
    elif uln is not None and (number > uln) != (said == {QL.Positive}):
        item["value"] = (f"{quantity} read as {shown} by the laboratory, against its reference "
                         f"range (upper limit {item['uln']}): contradictory")
    else:
        item["value"] = rules.labels[cast(URIRef, said.pop())]  # (None is not in it)
    for key in ("unit", "uln", "lln"):
        item.pop(key, None)
