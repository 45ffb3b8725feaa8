"""The FHIR semantics layer (inputs/fhir/semantics.py, timing.py, bundles.py, versions.py,
patients.py) on the shapes FHIR allows, read from public packages where they show one: time as
intervals, values as bounds, statuses as categories, modifiers, Bundle histories and
transactions, FHIR releases, birth dates that say they are not exact."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ql1706kg.inputs.fhir.bundles import plan
from ql1706kg.inputs.fhir.entries import entries_of
from ql1706kg.inputs.fhir.patients import birth_date, not_a_candidate
from ql1706kg.inputs.fhir.semantics import (
    Bound,
    interpretation_conflict,
    modifier_problem,
    quantity_bound,
    read,
    status_of,
    string_bound,
    unreadable_value,
)
from ql1706kg.inputs.fhir.timing import age_span, between, record_date, timing, when
from ql1706kg.inputs.fhir.versions import structure

DATA = Path(__file__).parent / "data" / "fhir-issue20"
AU, R4B = DATA / "hl7.fhir.au.base", DATA / "hl7.fhir.r4b.examples"
R5 = DATA / "hl7.fhir.r5.examples"
GENOMICS = DATA / "hl7.fhir.uv.genomics-reporting"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# -- time -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "first", "last", "written"), [
    ("2023", "2023-01-01", "2023-12-31", "2023"),
    ("2024-02", "2024-02-01", "2024-02-29", "2024-02"),
    ("2023-02", "2023-02-01", "2023-02-28", "2023-02"),
    ("2023-05-04", "2023-05-04", "2023-05-04", "2023-05-04"),
    ("2023-05-04T23:30:00+10:00", "2023-05-04", "2023-05-04", "2023-05-04"),
    ("2023-05-04T10:00:00.123Z", "2023-05-04", "2023-05-04", "2023-05-04"),
])
def test_a_date_is_the_interval_of_days_it_names(text, first, last, written):
    found = when(text)
    assert (found.first, found.last) == (day(first), day(last))
    assert record_date(found) == written


@pytest.mark.parametrize("text", ["", "2023-13", "2023-02-30", "23-05-04", "May 2023", None, 2023])
def test_what_is_no_date_dates_nothing(text):
    assert when(text) is None


def test_an_interval_is_written_as_the_smallest_partial_date_that_holds_it():
    assert between(day("2023-05-03"), day("2023-05-29")).text == "2023-05"
    assert between(day("2023-01-03"), day("2023-11-29")).text == "2023"
    assert between(day("2023-12-03"), day("2024-01-29")) is None  # no partial date holds it


def test_a_statement_still_running_is_ongoing_whatever_its_start():
    """AU Base MedicationStatement example0: active, effectivePeriod with a start only."""
    data = load(AU / "MedicationStatement-example0.json")
    reading = read("MedicationStatement", data)
    assert reading.status.category == "ongoing"
    assert reading.span.start.text == "2018-06-25" and reading.span.end is None
    assert reading.span.ongoing


@pytest.mark.parametrize(("status", "ongoing"), [("active", True), ("on-hold", True),
                                                 ("completed", False), ("stopped", False)])
def test_an_open_period_is_ongoing_only_while_the_status_says_so(status, ongoing):
    reading = read("MedicationStatement", {"status": status,
                                           "effectivePeriod": {"start": "2019"}})
    assert reading.span.ongoing is ongoing
    assert reading.span.start.text == "2019"


@pytest.mark.parametrize(("bounds", "start", "end"), [
    ({"boundsPeriod": {"start": "2020-01-02", "end": "2020-03"}}, "2020-01-02", "2020-03"),
    ({"boundsDuration": {"value": 10, "unit": "days", "system": "http://unitsofmeasure.org",
                         "code": "d"}}, "2020-01-02", "2020-01-12"),
    ({"boundsRange": {"low": {"value": 1, "code": "wk"}, "high": {"value": 3, "code": "wk"}}},
     "2020-01-02", "2020-01"),
])
def test_a_timing_bounds_the_course(bounds, start, end):
    span = timing({"event": ["2020-01-02"], "repeat": bounds})
    assert record_date(span.start) == start
    assert record_date(span.end) == end


def test_a_request_is_dated_by_its_dosage_timing():
    """R4B MedicationRequest medrx0303 (prednisone): boundsDuration 10 days, no event: its
    course has no start of its own, so the authoring date stands in (the reader's fallback)."""
    data = load(R4B / "MedicationRequest-medrx0303.json")
    reading = read("MedicationRequest", data)
    assert reading.status.category == "ongoing"
    assert reading.recorded is not None


def test_an_age_is_the_interval_of_dates_it_spans_from_the_birth_date():
    birth = when("1960-03-10")
    span = age_span({"value": 45, "unit": "years", "system": "http://unitsofmeasure.org",
                     "code": "a"}, birth)
    assert (span.first, span.last) == (day("2005-03-10"), day("2006-03-09"))
    assert age_span({"value": 45, "comparator": "<", "code": "a"}, birth) is None


def test_a_condition_of_an_age_and_an_abatement_age_is_over():
    """R4B Condition f202: onsetAge 52 years, abatementAge 54 years, clinicalStatus resolved."""
    data = load(R4B / "Condition-f202.json")
    reading = read("Condition", data, when("1960-03-10"))
    assert reading.status.category == "resolved"
    assert reading.abated
    assert reading.span.start.first == day("2012-03-10")
    assert read("Condition", data).span is None  # no birth date: the age dates nothing


def test_a_string_onset_or_abatement_dates_nothing_but_an_abatement_still_ends_it():
    """R4B Condition example2 (onsetString) and f201 (abatementString)."""
    assert read("Condition", load(R4B / "Condition-example2.json")).span.start is None
    f201 = read("Condition", load(R4B / "Condition-f201.json"))
    assert f201.abated and f201.ended is None


def test_a_procedure_period_is_its_course():
    reading = read("Procedure", load(R4B / "Procedure-f201.json"))
    assert reading.span.start is not None and reading.span.end is not None


def test_a_dispense_runs_for_its_days_supply():
    reading = read("MedicationDispense", {"status": "completed",
                                          "whenHandedOver": "2026-11-01",
                                          "daysSupply": {"value": 10, "code": "d"}})
    assert record_date(reading.span.start) == "2026-11-01"
    assert record_date(reading.span.end) == "2026-11-10"


# -- values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "comparator", "value", "unit"), [
    ("<0.5", "<", "0.5", None), ("≤ 0.5", "<=", "0.5", None), (">=3", ">=", "3", None),
    ("=<2", "<=", "2", None), ("> 1,5 mg/dL", ">", "1.5", "mg/dL"), ("12", "=", "12", None),
    ("0.4 mg/dL", "=", "0.4", "mg/dL"),
])
def test_a_result_written_as_text_is_read_as_its_bound(text, comparator, value, unit):
    bound, written_unit = string_bound(text)
    assert (bound.comparator, bound.value, written_unit) == (comparator, Decimal(value), unit)


@pytest.mark.parametrize("text", ["positive", "<<2", "less than 2", "2-3", "", "< "])
def test_text_that_is_no_number_is_no_bound(text):
    assert string_bound(text) is None


def test_a_quantity_comparator_is_a_bound_not_the_value():
    """R4B Bundle lri-example: an MIC result '<0.06 ug/mL' (Quantity.comparator)."""
    bundle = load(R4B / "Bundle-lri-example.json")
    quantities = [e["resource"]["valueQuantity"] for e in bundle["entry"]
                  if "comparator" in e["resource"].get("valueQuantity", {})]
    assert quantities
    for quantity in quantities:
        bound = quantity_bound(quantity)
        assert bound.comparator == quantity["comparator"] and not bound.exact


def test_values_no_record_can_hold_are_named():
    assert unreadable_value({"valueRatio": {}}) == "valueRatio"
    assert unreadable_value({"valueRange": {"low": {"value": 1}, "high": {"value": 2}}}) \
        == "valueRange"
    assert unreadable_value({"valueRange": {"high": {"value": 2}}}) is None
    assert unreadable_value({"valueQuantity": {"value": 2}}) is None


H = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                  "code": "H"}]}]
N = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                  "code": "N"}]}]


@pytest.mark.parametrize(("value", "interpretation", "contradicts"), [
    (Decimal(45), H, False), (Decimal(40), H, True), (Decimal(30), H, True),
    (Decimal(30), N, False), (Decimal(40), N, False), (Decimal(41), N, True),
])
def test_an_interpretation_that_contradicts_the_value_and_its_range_is_found(
        value, interpretation, contradicts):
    found = interpretation_conflict(Bound("=", value), Decimal(40), Decimal(10), interpretation)
    assert bool(found) is contradicts


def test_a_bound_or_a_result_without_range_is_never_called_contradictory():
    assert interpretation_conflict(Bound("<", Decimal(30)), Decimal(40), None, H) is None
    assert interpretation_conflict(Bound("=", Decimal(30)), None, None, H) is None


# -- status ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "data", "category"), [
    ("Observation", {"status": "preliminary"}, "uncertain"),
    ("Observation", {"status": "final"}, "counts"),
    ("Observation", {"status": "entered-in-error"}, "removed"),
    ("MedicationStatement", {"status": "intended"}, "planned"),
    ("MedicationStatement", {"status": "not-taken"}, "not-given"),
    ("MedicationRequest", {"status": "active", "intent": "proposal"}, "planned"),
    ("MedicationRequest", {"status": "active", "intent": "order", "doNotPerform": True},
     "not-given"),
    ("MedicationDispense", {"status": "in-progress"}, "uncertain"),
    ("Condition", {"clinicalStatus": {"coding": [{"code": "remission"}]}}, "resolved"),
    ("Condition", {"clinicalStatus": {"coding": [{"code": "active"}]},
                   "verificationStatus": {"coding": [{"code": "refuted"}]}}, "removed"),
    ("Condition", {"clinicalStatus": {"coding": [{"code": "somethingelse"}]}}, "uncertain"),
    ("List", {"status": "current", "mode": "changes"}, "uncertain"),
    ("Consent", {"status": "inactive"}, "retired"),
])
def test_status_elements_say_together_whether_a_resource_counts(kind, data, category):
    assert status_of(kind, data).category == category


@pytest.mark.parametrize(("code", "category"), [("A", "removed"), ("V", "uncertain"),
                                                ("Z", "resolved"), ("G", "counts")])
def test_the_german_diagnosis_certainty_qualifies_the_code(code, category):
    data = {"clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"coding": [{
        "system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "C78.7",
        "extension": [{"url": "http://fhir.de/StructureDefinition/icd-10-gm-diagnosesicherheit",
                       "valueCoding": {"code": code}}]}]}}
    expected = "ongoing" if category == "counts" else category
    assert status_of("Condition", data).category == expected


# -- modifiers ------------------------------------------------------------------------------------

MOD = [{"url": "http://example.org/fhir/StructureDefinition/negated", "valueBoolean": True}]


@pytest.mark.parametrize(("kind", "data", "field"), [
    ("Observation", {"modifierExtension": MOD}, "Observation.modifierExtension"),
    ("Observation", {"component": [{}, {"modifierExtension": MOD}]},
     "Observation.component.modifierExtension"),
    ("Observation", {"referenceRange": [{"modifierExtension": MOD}]},
     "Observation.referenceRange.modifierExtension"),
    ("MedicationStatement", {"dosage": [{"timing": {"modifierExtension": MOD}}]},
     "MedicationStatement.dosage.timing.modifierExtension"),
    ("MedicationStatement", {"contained": [{"resourceType": "Medication",
                                            "modifierExtension": MOD}]},
     "MedicationStatement.contained.Medication.modifierExtension"),
    ("Condition", {"implicitRules": "http://example.org/rules"}, "Condition.implicitRules"),
])
def test_a_modifier_on_what_is_read_sets_the_resource_aside(kind, data, field):
    assert modifier_problem(kind, data)[0] == field


@pytest.mark.parametrize(("kind", "data"), [
    ("Patient", {"contact": [{"modifierExtension": MOD}]}),
    ("MedicationAdministration", {"dosage": {"modifierExtension": MOD}}),
    ("Procedure", {"performer": [{"modifierExtension": MOD}]}),
    ("Observation", {"extension": MOD}),  # a plain extension changes no meaning
])
def test_a_modifier_on_what_is_never_read_changes_nothing(kind, data):
    assert modifier_problem(kind, data) is None


# -- patients -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "written"), [
    ("Patient-DateAccuracyIndicatorAAAexample0.json", "1956-08-23"),
    ("Patient-DateAccuracyIndicatorUAAexample2.json", "1978-08"),
    ("Patient-DateAccuracyIndicatorUEAexample3.json", "2004"),
    ("Patient-DateAccuracyIndicatorAAUexample1.json", None),
    ("Patient-DateAccuracyIndicatorUUUexample4.json", None),
])
def test_a_birth_date_is_only_as_exact_as_its_accuracy_extension_says(name, written):
    """AU Base date-accuracy-indicator: D, M, Y each Accurate, Estimated or Unknown."""
    found, note = birth_date(load(AU / name))
    assert (found.text if found else None) == written
    assert (note is None) is (written is not None and len(written) == 10)


def test_an_unknown_extension_or_data_absent_on_birth_date_is_no_exact_date():
    unknown = {"birthDate": "1970-05-04", "_birthDate": {"extension": [
        {"url": "http://example.org/fhir/StructureDefinition/estimated", "valueBoolean": True}]}}
    absent = {"birthDate": "1970-05-04", "_birthDate": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
         "valueCode": "unknown"}]}}
    time = {"birthDate": "1970-05-04", "_birthDate": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
         "valueDateTime": "1970-05-04T10:00:00Z"}]}}
    assert birth_date(unknown)[0] is None
    assert birth_date(absent)[0] is None
    assert birth_date(time)[0].text == "1970-05-04"


@pytest.mark.parametrize(("data", "field"), [
    ({"active": False}, "Patient.active"),
    ({"link": [{"type": "replaced-by", "other": {"reference": "Patient/2"}}]}, "Patient.link"),
    ({"modifierExtension": MOD}, "Patient.modifierExtension"),
])
def test_a_patient_record_not_in_use_is_not_a_candidate(data, field):
    from ql1706kg.inputs.fhir.entries import Entry

    assert not_a_candidate(Entry("x.json", {"resourceType": "Patient", **data}))[0] == field


def test_a_patient_with_a_seealso_link_is_a_candidate():
    from ql1706kg.inputs.fhir.entries import Entry

    assert not_a_candidate(Entry("x.json", load(R4B / "Patient-pat1.json"))) is None


# -- bundles --------------------------------------------------------------------------------------

def entry(resource: dict | None, method: str | None = None, url: str | None = None,
          version: str | None = None, updated: str | None = None, **extra) -> dict:
    item: dict = dict(extra)
    if resource is not None:
        meta = {k: v for k, v in (("versionId", version), ("lastUpdated", updated)) if v}
        item["resource"] = {**resource, **({"meta": meta} if meta else {})}
    if method:
        item["request"] = {"method": method, "url": url or ""}
    return item


AST = {"resourceType": "Observation", "id": "ast", "status": "final"}


def fates(bundle: dict) -> list[str]:
    return [f.fate for f in plan(bundle)]


@pytest.mark.parametrize(("entries", "expected"), [
    # versionId decides, whatever the order
    ([entry(AST, "PUT", "Observation/ast", "1"),
      entry({**AST, "status": "entered-in-error"}, "PUT", "Observation/ast", "2")],
     ["superseded", "read"]),
    # lastUpdated decides when there is no versionId
    ([entry({**AST, "status": "entered-in-error"}, "PUT", "Observation/ast",
            updated="2026-01-02T00:00:00Z"),
      entry(AST, "POST", "Observation", updated="2026-01-01T00:00:00+00:00")],
     ["read", "superseded"]),
    # else the history's own order: newest first
    ([entry({**AST, "status": "entered-in-error"}, "PUT", "Observation/ast"),
      entry(AST, "POST", "Observation")], ["read", "superseded"]),
    # a DELETE as the newest version removes every version
    ([entry(None, "DELETE", "Observation/ast/_history/3"),
      entry(AST, "PUT", "Observation/ast", "2"), entry(AST, "POST", "Observation", "1")],
     ["deleted", "deleted", "deleted"]),
])
def test_a_history_is_read_as_its_newest_version(entries, expected):
    assert fates({"resourceType": "Bundle", "type": "history", "entry": entries}) == expected


def test_a_transaction_deletes_first_then_creates_then_updates():
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        entry(AST, "PUT", "Observation/ast"), entry(None, "DELETE", "Observation/ast")]}
    assert fates(bundle) == ["read", "superseded"]
    bundle["entry"] = [entry(None, "DELETE", "Observation/ast")]
    found = plan(bundle)[0]
    assert (found.fate, found.target, found.effect) == ("request", "Observation/ast", "delete")


def test_the_r4b_transaction_example_keeps_its_requests_apart():
    """R4B Bundle-bundle-transaction: POST, PUT, conditional creates, a DELETE, a conditional
    DELETE and GETs."""
    bundle = load(R4B / "Bundle-bundle-transaction.json")
    found = plan(bundle)
    assert len(found) == len(bundle["entry"])
    deletes = [f for f in found if f.effect == "delete"]
    assert deletes and all(f.target for f in deletes)
    assert any("conditional DELETE" in f.reason for f in found)


def test_a_response_that_failed_or_says_gone_is_no_fact():
    bundle = {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"resource": AST, "response": {"status": "201 Created"}},
        {"resource": {**AST, "id": "b"}, "response": {"status": "400 Bad Request"}},
        {"response": {"status": "410 Gone", "location": "Observation/c/_history/2"}}]}
    assert fates(bundle) == ["read", "failed", "deleted"]


def test_copies_of_one_resource_that_disagree_with_no_order_are_set_aside():
    same = {"resourceType": "Bundle", "type": "collection", "entry": [entry(AST), entry(AST)]}
    assert fates(same) == ["read", "read"]
    differ = {"resourceType": "Bundle", "type": "collection", "entry": [
        entry(AST), entry({**AST, "status": "entered-in-error"})]}
    assert fates(differ) == ["aside", "aside"]


def test_an_entry_modifier_sets_its_resource_aside():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        entry(AST, modifierExtension=MOD)]}
    assert fates(bundle) == ["aside"]


# -- FHIR releases --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["MedicationStatement-example001.json", "Procedure-example.json",
                                  "Consent-consent-example-basic.json"])
def test_r5_resources_are_told_by_their_structure(name):
    assert structure(load(R5 / name))[0] == "5.0"


def test_an_r5_resource_written_as_r4_would_be_is_read_as_r4():
    """R5 Condition example: nothing in it is R5's own (a package.json would tell)."""
    assert structure(load(R5 / "Condition-example.json")) is None


@pytest.mark.parametrize("path", [R4B / "Condition-f202.json", R4B / "Bundle-lri-example.json",
                                  AU / "MedicationStatement-example0.json",
                                  R4B / "MedicationRequest-medrx0303.json"])
def test_r4_and_r4b_resources_are_not_taken_for_another_release(path):
    assert structure(load(path)) is None


def test_an_r5_file_is_one_error_and_its_resources_are_set_aside(tmp_path):
    data = load(R5 / "MedicationStatement-example001.json")
    items = list(entries_of(data, str(tmp_path / "ms.json")))
    errors = [i for i in items if not hasattr(i, "data")]
    assert len(errors) == 1 and "R5" in str(errors[0])
    assert all(i.aside is not None for i in items if hasattr(i, "data"))


def test_a_package_json_declares_the_release_of_its_folder(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"name": "x", "fhirVersions": ["5.0.0"]}))
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.json"
    items = list(entries_of(load(R4B / "Condition-f202.json"), str(path)))
    assert "package.json" in str(items[0])


def test_an_stu3_statement_is_refused_but_a_status_slip_is_left_to_the_model_check():
    assert structure({"resourceType": "MedicationStatement", "taken": "y"})[0] == "3.0"
    assert structure({"resourceType": "Condition", "clinicalStatus": "active"}) is None


def test_the_genomics_transaction_bundle_is_read_as_r4():
    bundle = load(GENOMICS / "Bundle-bundle-oncology-diagnostic.json")
    items = list(entries_of(bundle, str(GENOMICS / "Bundle-bundle-oncology-diagnostic.json")))
    assert all(hasattr(i, "data") and i.aside is None for i in items)
