"""FHIR's status elements decide for a resource of a declared fact kind as for the built-in
types (ql1706kg/inputs/fhir/elements.json; builder.take): for each resource type a protocol's
kind may name and each code of each of its status elements, the resource is taken (its status
given to the selection as written), set aside (no criterion reading the kind is met on it) or
not read (entered in error, refuted, not done, cancelled, only planned). And the protocol check
refuses a kind on a type the table does not cover."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from ql1706kg.inputs.fhir.builder import RecordBuilder
from ql1706kg.inputs.fhir.elements import element_table
from ql1706kg.inputs.fhir.entries import Entry
from ql1706kg.inputs.fhir.pool import USED_TYPES, Pool, read_types
from ql1706kg.inputs.fhir.semantics import status_of
from ql1706kg.pipeline import protocol_check
from ql1706kg.protocol.check import ProtocolRefused
from ql1706kg.protocol.fact_kinds import FactKind
from ql1706kg.protocol.namespaces import QL, RDF
from ql1706kg.protocol.terminology import terminology

SYSTEM, CODE = "urn:test:kinds", "x"
T, A, N = "taken", "set aside", "not read"
REQUEST_STATUS = {"draft": N, "active": T, "on-hold": T, "revoked": N, "completed": T,
                  "entered-in-error": N, "unknown": A}
REQUEST_INTENT = {"order": T, "original-order": T, "reflex-order": T, "filler-order": T,
                  "instance-order": T, "proposal": N, "plan": N, "directive": N, "option": N}
# type -> (the element a kind reads its code from, a list of them?, the statuses that count)
TYPES = {
    "AllergyIntolerance": ("code", False, {"clinicalStatus": "active",
                                           "verificationStatus": "confirmed"}),
    "Immunization": ("vaccineCode", False, {"status": "completed"}),
    "Specimen": ("type", False, {"status": "available"}),
    "Appointment": ("serviceType", True, {"status": "booked"}),
    "ImagingStudy": ("procedureCode", True, {"status": "available"}),
    "FamilyMemberHistory": ("relationship", False, {"status": "completed"}),
    "ServiceRequest": ("code", False, {"status": "active", "intent": "order"}),
    "CarePlan": ("category", True, {"status": "active", "intent": "plan"}),
    "Encounter": ("type", True, {"status": "finished"}),
    "ClinicalImpression": ("code", False, {"status": "completed"}),
    "DeviceUseStatement": ("reasonCode", True, {"status": "completed"}),
    "NutritionOrder": ("foodPreferenceModifier", True, {"status": "active", "intent": "order"}),
    "RiskAssessment": ("code", False, {"status": "final"}),
    "AdverseEvent": ("event", False, {"actuality": "actual"}),
}
# What FHIR R4's codes mean for a fact (written from the R4 value set definitions).
OUTCOMES = {
    "AllergyIntolerance.clinicalStatus": {"active": T, "inactive": T, "resolved": T},
    "AllergyIntolerance.verificationStatus": {"confirmed": T, "unconfirmed": A, "refuted": N,
                                              "entered-in-error": N},
    "Immunization.status": {"completed": T, "not-done": N, "entered-in-error": N},
    "Immunization.isSubpotent": {"true": A, "false": T},
    "Specimen.status": {"available": T, "unavailable": T, "unsatisfactory": T,
                        "entered-in-error": N},
    "Appointment.status": {"proposed": T, "pending": T, "booked": T, "arrived": T,
                           "checked-in": T, "fulfilled": T, "waitlist": A, "cancelled": N,
                           "noshow": N, "entered-in-error": N},
    "ImagingStudy.status": {"available": T, "registered": N, "cancelled": N,
                            "entered-in-error": N, "unknown": A},
    "FamilyMemberHistory.status": {"completed": T, "partial": T, "health-unknown": A,
                                   "entered-in-error": N},
    "ServiceRequest.status": REQUEST_STATUS,
    "ServiceRequest.intent": REQUEST_INTENT,
    "ServiceRequest.doNotPerform": {"true": N, "false": T},
    # revoked: ended early, its activities may have been done (each says so itself)
    "CarePlan.status": REQUEST_STATUS | {"revoked": T},
    "CarePlan.intent": {"plan": T, "order": T, "proposal": N, "option": N},
    "Encounter.status": {"planned": N, "arrived": T, "triaged": T, "in-progress": T,
                         "onleave": T, "finished": T, "cancelled": N, "entered-in-error": N,
                         "unknown": A},
    "ClinicalImpression.status": {"completed": T, "in-progress": A, "entered-in-error": N},
    "DeviceUseStatement.status": {"active": T, "on-hold": T, "completed": T, "stopped": T,
                                  "intended": N, "entered-in-error": N},
    "NutritionOrder.status": REQUEST_STATUS,
    "NutritionOrder.intent": REQUEST_INTENT,
    "RiskAssessment.status": {"final": T, "amended": T, "corrected": T, "registered": N,
                              "preliminary": A, "cancelled": N, "entered-in-error": N,
                              "unknown": A},
    "AdverseEvent.actuality": {"actual": T, "potential": N},
}
CASES = [(path, code, want) for path, codes in OUTCOMES.items() for code, want in codes.items()]


@pytest.fixture(scope="module")
def term():
    """The bundled terminology with one declared kind on each type."""
    kinds = {f"kind-{rtype}": FactKind(
        iri=URIRef(f"urn:test:{rtype}"), key=f"kind-{rtype}", label=rtype,
        value_type="presence", dated=True, fhir_types=(rtype,), code_elements=(element,),
        codes=frozenset({(SYSTEM, CODE)})) for rtype, (element, _many, _ok) in TYPES.items()}
    return dataclasses.replace(terminology(), fact_kinds=kinds)


def _resource(rtype: str, element: str, value: str) -> dict:
    code_element, many, counting = TYPES[rtype]
    concept = {"coding": [{"system": SYSTEM, "code": CODE}]}
    data: dict = {"resourceType": rtype, "id": "r1",
                  code_element: [concept] if many else concept}
    for name, code in {**counting, element: value}.items():
        row = element_table().row(f"{rtype}.{name}")
        assert row is not None
        if row.types == ("CodeableConcept",):
            data[name] = {"coding": [{"code": code}]}
        elif row.types == ("boolean",):
            data[name] = code == "true"
        else:
            data[name] = code
    return data


def _outcome(term, data: dict) -> tuple[str, dict]:
    patient = Entry("t.json", {"resourceType": "Patient", "id": "p1", "gender": "female"})
    builder = RecordBuilder(patient, Pool(), term)
    used, _why = builder.take(Entry("t.json", data))
    facts = builder.rec.get("facts", [])
    aside = [a for a in builder.rec.get("set_aside", []) if a.get("kind")]
    assert not (facts and aside)
    if used:
        assert [f["kind"] for f in facts] == [f"kind-{data['resourceType']}"]
        return T, facts[0]
    return (A if aside else N), {}


@pytest.mark.parametrize("path, code, want", CASES, ids=[f"{p}={c}" for p, c, _ in CASES])
def test_each_status_code_of_each_declarable_type(term, path, code, want):
    rtype, element = path.split(".", 1)
    got, fact = _outcome(term, _resource(rtype, element, code))
    assert got == want
    if got == T and element in ("status", "clinicalStatus"):  # what ql:selectsStatus compares
        assert fact["status"] == code


def test_the_table_and_these_outcomes_cover_the_same_codes():
    """Every top-level status element of the types above, each of its codes, is listed here
    (a code added to the table without an outcome fails)."""
    table = element_table()
    listed = {(path, code) for path, code, _ in CASES}
    in_table = {(row.path, code) for rtype in TYPES for row in table.status_rows(rtype)
                if "." not in row.element for code in row.values}
    assert in_table == listed


@pytest.mark.parametrize("code, category", [
    ("completed", "counts"), ("amended", "counts"), ("in-progress", "uncertain"),
    ("stopped", "uncertain"), ("entered-in-error", "removed")])
def test_a_questionnaire_response_is_read_by_its_status(code, category):
    """QuestionnaireResponse has no coded element of its own (its answers are items), so its
    status is checked at the semantics layer: unfinished or abandoned answers are set aside."""
    assert status_of("QuestionnaireResponse", {"status": code}).category == category


@pytest.mark.parametrize("element", ["modifierExtension", "implicitRules"])
def test_a_declared_resource_with_an_unknown_modifier_is_set_aside(term, element):
    data = _resource("Immunization", "status", "completed")
    data[element] = ([{"url": "urn:test:unknown", "valueBoolean": True}]
                     if element == "modifierExtension" else "urn:test:rules")
    assert _outcome(term, data)[0] == A


def test_the_types_a_protocol_declares_are_read_and_no_others(term):
    """A kind on Encounter makes the reader keep Encounters (they were dropped when indexed as
    a type no reader uses); the bundled protocol declares none, so it reads what it read."""
    assert read_types(term) == USED_TYPES | set(TYPES)
    assert read_types(terminology()) == USED_TYPES


class _Pool(Pool):
    """Resources by 'Type/id' (one scope)."""

    def __init__(self, *resources: dict) -> None:
        super().__init__()
        self.entries = {f"{r['resourceType']}/{r['id']}": Entry("t.json", r) for r in resources}

    def by_url(self, scope: object, url: str) -> Entry | None:
        return None

    def by_key(self, scope: object, key: str) -> Entry | None:
        return self.entries.get(key)


@pytest.mark.parametrize("status, extra, want", [
    ("completed", {}, T), ("in-progress", {}, T), ("entered-in-error", {}, N),
    ("not-done", {}, N), ("preparation", {}, N), ("unknown", {}, A),
    ("completed", {"modifierExtension": [{"url": "urn:test:unknown", "valueBoolean": True}]},
     A)])
def test_a_list_member_of_a_kind_known_by_its_list_is_read_by_its_status(status, extra, want):
    """A kind with no code of its own is known by its List's members: a member entered in
    error, not done or only in preparation is no member; one whose status is unknown, or with
    a modifier the reader does not know, is set aside for the kind."""
    kind = FactKind(iri=URIRef("urn:test:Listed"), key="listed", label="listed",
                    value_type="presence", dated=True, fhir_types=("Procedure",),
                    list_codes=frozenset({(SYSTEM, "listed")}))
    term = dataclasses.replace(terminology(), fact_kinds={"listed": kind})
    member = {"resourceType": "Procedure", "id": "m1", "status": status,
              "code": {"text": "stereotactic radiosurgery"},
              "performedDateTime": "2026-05-01", **extra}
    listed = {"resourceType": "List", "id": "l1", "status": "current", "mode": "snapshot",
              "code": {"coding": [{"system": SYSTEM, "code": "listed"}]},
              "entry": [{"item": {"reference": "Procedure/m1"}}]}
    patient = Entry("t.json", {"resourceType": "Patient", "id": "p1"})
    builder = RecordBuilder(patient, _Pool(member), term)
    used, _why = builder.take(Entry("t.json", listed))
    assert used and builder.rec["facts_complete"] == ["listed"]
    facts = builder.rec.get("facts", [])
    aside = [a for a in builder.rec.get("set_aside", []) if a.get("kind") == "listed"]
    got = T if facts else A if aside else N
    assert got == want
    if facts:
        assert facts[0]["status"] == status


def _ontology(rtype: str) -> Graph:
    graph = Graph()
    kind = URIRef("urn:test:Kind")
    graph.add((kind, RDF.type, QL.FactKind))
    graph.add((kind, QL.recordKey, Literal("test-kind")))
    graph.add((kind, QL.fhirResourceType, Literal(rtype)))
    return graph


@pytest.mark.parametrize("rtype, refused", [
    ("Encounter", False), ("AllergyIntolerance", False), ("QuestionnaireResponse", False),
    ("Device", True), ("Goal", True), ("Patient", True), ("List", True), ("Bundle", True),
    ("Allergyintolerance", True)])
def test_the_check_refuses_a_kind_on_a_type_the_table_does_not_cover(tmp_path, rtype, refused):
    (tmp_path / "ontology").mkdir()
    graph = _ontology(rtype)
    graph.serialize(tmp_path / "ontology" / "kinds.ttl", format="turtle")
    if not refused:
        protocol_check.declared_types_covered(tmp_path, graph)
        return
    with pytest.raises(ProtocolRefused) as caught:
        protocol_check.declared_types_covered(tmp_path, graph)
    message = str(caught.value)
    assert "test-kind" in message and f"'{rtype}'" in message
    assert str(tmp_path / "ontology" / "kinds.ttl") in message


def test_check_protocol_applies_it_before_screening_anyone(tmp_path, monkeypatch):
    """The check runs between the folder's static checks and the probe patients."""
    (tmp_path / "ontology").mkdir()
    graph = _ontology("Device")
    graph.serialize(tmp_path / "ontology" / "kinds.ttl", format="turtle")
    monkeypatch.setattr(protocol_check, "static_check",
                        lambda folder: ([], {"ontology": graph, "shapes": Graph()}))
    monkeypatch.setattr(protocol_check, "folder_files", lambda folder: [])
    monkeypatch.setattr(protocol_check, "read_cache", lambda *a, **k: None)

    def probe(*_args):
        raise AssertionError("probed a folder the check should refuse")

    monkeypatch.setattr(protocol_check.protocol_probe, "probe", probe)
    with pytest.raises(ProtocolRefused, match="Device"):
        protocol_check.check_protocol(tmp_path)


def test_the_example_protocols_name_covered_types_only():
    folder = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
    graph = Graph().parse(folder / "ontology" / "sarc028.ttl", format="turtle")
    protocol_check.declared_types_covered(folder, graph)
