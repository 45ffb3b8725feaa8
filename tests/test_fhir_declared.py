"""Declared fact kinds read from FHIR (inputs/fhir/declared.py): by a coding of the kind, or,
for a resource that says it in text only, by the kind's words (ql:fhirCodeText); the date of a
Specimen is its collection's (Specimen.collection.collected[x], FHIR R4)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rdflib import URIRef

from ql1706kg.inputs.fhir.declared import declared_facts
from ql1706kg.inputs.fhir.entries import Entry
from ql1706kg.protocol.fact_kinds import FactKind

KIND = FactKind(iri=URIRef("urn:x:TumourSpecimen"), key="tumour-specimen", label="tumour",
                value_type="presence", dated=True, fhir_types=("Specimen",),
                code_elements=("type",), codes=frozenset({("http://snomed.info/sct", "119376003")}),
                text_patterns=("tumou?r", "FFPE"))
TERM = SimpleNamespace(fact_kinds={KIND.key: KIND}, code_systems={})  # no system aliases


def specimen(kind: dict | None, collection: dict | None = None, rtype: str = "Specimen") -> Entry:
    data: dict = {"resourceType": rtype, "id": "s1", "status": "available"}
    if kind is not None:
        data["type"] = kind
    if collection is not None:
        data["collection"] = collection
    return Entry(source="test.json", data=data)


@pytest.mark.parametrize("kind, collection, code, day", [
    ({"text": "Archival FFPE block"}, {"collectedDateTime": "2025-07-21T10:00:00Z"},
     "Archival FFPE block", "2025-07-21"),
    ({"coding": [{"system": "urn:x", "code": "1", "display": "Tumor tissue"}]},
     {"collectedPeriod": {"start": "2024-02-03", "end": "2024-02-04"}}, "Tumor tissue",
     "2024-02-03"),
    ({"coding": [{"system": "http://snomed.info/sct", "code": "119376003"}], "text": "block"},
     None, {"system": "http://snomed.info/sct", "code": "119376003"}, None),
], ids=["text", "display-and-period", "coding-first"])
def test_a_specimen_of_the_kind_is_read_with_its_collection_date(kind, collection, code, day):
    facts = declared_facts(TERM, specimen(kind, collection))
    assert [(f["kind"], f["code"], f.get("date"), f["status"]) for f in facts] == [
        ("tumour-specimen", code, day, "available")]


@pytest.mark.parametrize("kind, rtype", [
    ({"text": "whole blood"}, "Specimen"),  # no word of the kind
    ({"coding": [{"system": "urn:x", "code": "tumour"}]}, "Specimen"),  # a code is not text
    (None, "Specimen"),  # no type at all
    ({"text": "tumour tissue"}, "Observation"),  # a type the kind does not name
], ids=["other-text", "code-not-text", "no-type", "other-resource-type"])
def test_a_resource_the_kind_does_not_name_gives_no_fact(kind, rtype):
    assert declared_facts(TERM, specimen(kind, rtype=rtype)) == []


def test_a_set_aside_resource_that_trips_the_reader_holds_back_every_kind_of_its_type(
        monkeypatch):
    """What a set-aside resource would have said is what keeps criteria from being met; if
    reading it as a declared kind fails, it may be any kind declared on its type."""
    from ql1706kg.inputs.fhir import aside

    def trips(_term, _entry):
        raise ValueError("unreadable")

    monkeypatch.setattr(aside, "declared_facts", trips)
    assert aside._declared_kinds(TERM, specimen({"text": "tumour"})) == [
        ("facts", "tumour-specimen")]
    assert aside._declared_kinds(TERM, specimen({"text": "tumour"}, rtype="Observation")) == []
