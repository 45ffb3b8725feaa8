"""Hypothesis fuzz of the FHIR semantics layer: an eligible patient (examples/fhir/
eligible-leiomyosarcoma.json) given one more resource of random shape (a period, a comparator,
a status, a modifier, a Bundle history, a subject) is never eligible on a fact that had to be
set aside, and a criterion is never met on a bound or a course that cannot decide it.

The oracle is written here from FHIR's rules, not from the reader: a fact whose current version
carries an unknown modifier, a status that leaves its truth open, or no subject is set aside; a
comparator bound meets a '≥' limit only from '>', '>=' or '='; a support product whose course
may reach into the 14 days before the labs never leaves IC9.0 met.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ql1706kg.api import screen

ROOT = Path(__file__).resolve().parents[1]
BASE = json.loads((ROOT / "examples" / "fhir" / "eligible-leiomyosarcoma.json").read_text())
SUBJECT = {"reference": "Patient/QL-LMS-001"}
AS_OF = "2026-11-20"
LABS = "2026-11-12"  # the base's screening laboratory date
UCUM = "http://unitsofmeasure.org"
MOD = [{"url": "http://example.org/fhir/StructureDefinition/not-this-one", "valueBoolean": True}]
# (LOINC, unit, criterion, limit): a '>=' limit the base patient meets.
TESTS = [("26499-4", "10*9/L", "IC9.1-ANC", 1.5), ("26515-7", "10*9/L", "IC9.1-PLT", 90),
         ("1751-7", "g/L", "IC9.2-ALB", 30), ("10230-1", "%", "IC9.6-LVEF", 50)]
SET_ASIDE_STATUS = ("preliminary", "unknown")
COUNTING_STATUS = ("final", "amended", "corrected")


def screened(bundle: dict) -> tuple[str, dict[str, str]]:
    """The verdict and outcomes of the one patient of a bundle (a refused record: 'error')."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.json"
        path.write_text(json.dumps(bundle))
        result = screen([path], as_of=AS_OF, keep_graphs=False)
    if not result.patients:
        return "error", {}
    (patient,) = result.patients
    return patient.verdict, {c.id: c.outcome for c in patient.criteria}


def with_entries(*entries: dict, kind: str = "collection") -> dict:
    bundle = copy.deepcopy(BASE)
    bundle["type"] = kind
    bundle["entry"] += list(entries)
    return bundle


@st.composite
def lab_result(draw) -> tuple[dict, str, bool, str | None, float, float]:
    """A result of a protocol test dated after the base's (so it is the screening result)."""
    loinc, unit, criterion, limit = draw(st.sampled_from(TESTS))
    value = draw(st.sampled_from([limit * 0.5, limit, limit * 1.01, limit * 2, limit * 0.99]))
    comparator = draw(st.sampled_from([None, "<", "<=", ">", ">="]))
    status = draw(st.sampled_from(SET_ASIDE_STATUS + COUNTING_STATUS))
    modifier = draw(st.booleans())
    subject = draw(st.sampled_from(["patient", "patient", "none", "display"]))
    quantity = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        quantity["comparator"] = comparator
    resource = {"resourceType": "Observation", "id": "fuzz-lab", "status": status,
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "effectiveDateTime": "2026-11-13T08:00:00+08:00", "valueQuantity": quantity}
    if subject == "patient":
        resource["subject"] = SUBJECT
    elif subject == "display":
        resource["subject"] = {"display": "the patient"}
    if modifier:
        resource["modifierExtension"] = MOD
    aside = modifier or status in SET_ASIDE_STATUS or subject != "patient"
    return resource, criterion, aside, comparator, value, limit


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(lab_result())
def test_a_result_set_aside_or_bounded_never_meets_its_limit(case):
    resource, criterion, aside, comparator, value, limit = case
    verdict, outcomes = screened(with_entries({"resource": resource}))
    met = outcomes.get(criterion) == "met"
    if aside:
        assert not met and verdict != "eligible", (resource, outcomes.get(criterion))
    if met:  # a bound meets a '>=' limit only when every value it allows does
        assert comparator in (None, ">", ">=") and value >= limit, (resource, criterion)


@st.composite
def support_course(draw) -> tuple[dict, bool]:
    """A filgrastim course of random status and period around the labs' 14-day window."""
    status = draw(st.sampled_from(["active", "on-hold", "completed", "stopped", "intended",
                                   "unknown", "not-taken", "entered-in-error"]))
    start = draw(st.sampled_from(["2019", "2026-10", "2026-10-01", "2026-10-28", "2026-11-05"]))
    end = draw(st.sampled_from([None, "2026-10-20", "2026-10-29", "2026-11", "2026-11-10"]))
    period = {"start": start, **({"end": end} if end else {})}
    resource = {"resourceType": "MedicationStatement", "id": "fuzz-gcsf", "status": status,
                "subject": SUBJECT, "medicationCodeableConcept": {"text": "filgrastim"},
                "effectivePeriod": period}
    ignored = status in ("not-taken", "entered-in-error")
    # may the course reach into [LABS - 14 days, LABS]? (ongoing, unknown end, a partial end
    # that may fall in it, a status that leaves it open)
    may_reach = not ignored and (status in ("active", "on-hold", "intended", "unknown")
                                 or end is None or end >= "2026-10-29" or end == "2026-11")
    return resource, may_reach


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(support_course())
def test_a_support_course_that_may_reach_the_window_never_leaves_ic9_0_met(case):
    resource, may_reach = case
    verdict, outcomes = screened(with_entries({"resource": resource}))
    if may_reach:
        assert outcomes.get("IC9.0") != "met" and verdict != "eligible", resource


@st.composite
def history(draw) -> tuple[dict, bool]:
    """The base's AST in a history Bundle, with later versions of random kinds and orders:
    the newest version decides."""
    ast = next(e for e in BASE["entry"] if e["resource"]["id"] == "ql-lms-001-observation-22")
    kinds = draw(st.lists(st.sampled_from(["same", "entered-in-error", "delete", "modifier",
                                           "high"]), min_size=1, max_size=3))
    versions = [("same", 1)] + [(k, n + 2) for n, k in enumerate(kinds)]
    order = draw(st.permutations(versions))
    use_ids = draw(st.booleans())
    if not use_ids:  # no versionId: the history's order (newest first) must be kept
        order = sorted(versions, key=lambda v: -v[1])
    entries = []
    for kind, number in order:
        url = f"Observation/{ast['resource']['id']}"
        item: dict = {"fullUrl": ast["fullUrl"], "request": {
            "method": "DELETE" if kind == "delete" else "PUT", "url": url}}
        if kind != "delete":
            resource = copy.deepcopy(ast["resource"])
            if use_ids:
                resource["meta"] = {"versionId": str(number)}
            if kind == "entered-in-error":
                resource["status"] = "entered-in-error"
            if kind == "modifier":
                resource["modifierExtension"] = MOD
            if kind == "high":
                resource["valueQuantity"] = {**resource["valueQuantity"], "value": 500}
            item["resource"] = resource
        elif use_ids:
            item["response"] = {"status": "204", "etag": f'W/"{number}"'}
        entries.append(item)
    newest = max(versions, key=lambda v: v[1])[0]
    bundle = copy.deepcopy(BASE)
    bundle["type"] = "history"
    bundle["entry"] = [e for e in bundle["entry"] if e is not ast and e["resource"]["id"]
                       != ast["resource"]["id"]] + entries
    return bundle, newest != "same"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(history())
def test_only_the_newest_version_of_a_history_counts(case):
    bundle, changed = case
    verdict, outcomes = screened(bundle)
    if changed:  # deleted, entered in error, set aside or too high: AST is never met
        assert outcomes.get("IC9.2-AST") != "met" and verdict != "eligible"
    else:
        assert outcomes.get("IC9.2-AST") == "met"
