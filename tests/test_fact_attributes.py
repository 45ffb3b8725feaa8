"""Attributes of a fact, declared (protocol/fact_attributes.py): read from FHIR at every coded
element path FHIR R4 defines for Procedure, ImagingStudy, DiagnosticReport, Observation and
MedicationStatement (tests/data/fhir-r4/coded-elements.json, from the R4 StructureDefinitions)
and from extensions by URL, from the JSON record and from table columns; a selection that needs
an attribute a fact does not say is undecided (unknown), never decided. SARC028's EX4, IN2.4,
IN4.1 and IN4.2 on variants of its example patients, all screened in one run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import Graph

from ql1706kg.cli import main
from ql1706kg.errors import InputError
from ql1706kg.inputs.fhir.attributes import read_attributes
from ql1706kg.inputs.records import SourcedRecord
from ql1706kg.inputs.tables import read_table
from ql1706kg.protocol.fact_attributes import Attribute, attribute_filters, build_attributes
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.resources import protocol
from ql1706kg.protocol.terminology import terminology

DATA = Path(__file__).parent / "data"
FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
R4 = json.loads((DATA / "fhir-r4" / "coded-elements.json").read_text())["types"]
EXAMPLES = DATA / "fhir-packages"
S = "http://example.org/cs"
ATTRIBUTE = Attribute(key="k", label="test attribute", values=(((S, "a"), "alpha"),
                                                                ((S, "b"), "beta")),
                      texts=((r"\bCT\b", "alpha"),), labels=frozenset({"alpha", "beta"}))
VALUES = {"CodeableConcept": {"coding": [{"system": S, "code": "a"}]},
          "Coding": {"system": S, "code": "a"}, "code": "a"}


def _at(element: dict, value: object) -> dict:
    """A resource holding ``value`` at the element's path, as a list where a step repeats."""
    steps = element["path"].split(".")[1:]
    for step, repeats in reversed(list(zip(steps, element["repeats"], strict=True))):
        value = {step: [value] if repeats != "1" else value}
    return value  # type: ignore[return-value]


CODED = [(rtype, element, kind) for rtype, rows in R4.items() for element in rows
         for kind in element["types"] if kind in VALUES]


@pytest.mark.parametrize(("rtype", "element", "kind"), CODED,
                         ids=[f"{e['path']}:{k}" for _t, e, k in CODED])
def test_every_coded_element_of_r4_is_read_at_its_path(rtype, element, kind):
    attribute = Attribute(**{**ATTRIBUTE.__dict__,
                             "elements": (element["path"].split(".", 1)[1],)})
    data = {"resourceType": rtype} | _at(element, VALUES[kind])
    assert read_attributes((attribute,), data) == {"k": "alpha"}
    assert read_attributes((attribute,), {"resourceType": rtype}) == {}


EXTENSION = "http://example.org/StructureDefinition/intent"


@pytest.mark.parametrize(("value", "said"), [
    ({"valueCodeableConcept": VALUES["CodeableConcept"]}, {"k": "alpha"}),
    ({"valueCoding": VALUES["Coding"]}, {"k": "alpha"}),
    ({"valueCode": "b"}, {"k": "beta"}),
    ({"valueCodeableConcept": {"coding": [{"system": S, "code": "zz"}]}}, {}),
    ({"valueString": "alpha"}, {}),  # not a coded value
], ids=["CodeableConcept", "Coding", "code", "unknown-code", "string"])
def test_an_extension_by_url(value, said):
    attribute = Attribute(**{**ATTRIBUTE.__dict__, "extensions": (EXTENSION,)})
    assert read_attributes((attribute,), {"extension": [{"url": EXTENSION} | value]}) == said
    other = {"extension": [{"url": EXTENSION + "-other"} | value]}
    assert read_attributes((attribute,), other) == {}


@pytest.mark.parametrize(("category", "said"), [
    ({"concept": VALUES["CodeableConcept"]}, {"k": "alpha"}),  # R5 CodeableReference
    ({"text": "contrast CT of the chest"}, {"k": "alpha"}),  # text only: its words
    ({"coding": [{"system": S, "code": "zz", "display": "CT"}]}, {"k": "alpha"}),
    ([VALUES["CodeableConcept"], {"coding": [{"system": S, "code": "b"}]}], {}),  # two values
    ([VALUES["CodeableConcept"], {"text": "something else"}], {}),  # one unreadable
    ({"coding": [{"system": S, "code": "a"}, {"system": "http://other", "code": "x"}]},
     {"k": "alpha"}),  # a second coding of another system does not disagree
    ({"coding": [{"system": "http://other", "code": "a"}]}, {}),  # the code of another system
    ("a", {"k": "alpha"}),  # a bare code matches the code of any system
    (42, {}), ({"coding": "a"}, {}),  # the wrong JSON type reads as nothing
], ids=["reference", "text", "display", "conflict", "unreadable", "two-systems",
        "other-system", "bare-code", "number", "bad-coding"])
def test_what_an_element_says(category, said):
    attribute = Attribute(**{**ATTRIBUTE.__dict__, "elements": ("category",)})
    assert read_attributes((attribute,), {"category": category}) == said


def _resource(path: Path, rid: str | None = None) -> dict:
    data = json.loads(path.read_text())
    if data["resourceType"] == "Bundle":
        data = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == rid)
    return data


@pytest.mark.parametrize(("source", "rid", "attribute", "said"), [
    # mCODE STU4's radiotherapy course summary: its procedure-intent extension (SARC028's own
    # declaration, below) and its coded body site
    ("hl7.fhir.us.mcode/Bundle-mcode-patient-bundle-jenny-m.json",
     "radiotherapy-treatment-summary-chest-wall-jenny-m", "intent", {"intent": "curative"}),
    ("hl7.fhir.us.mcode/Bundle-mcode-patient-bundle-jenny-m.json",
     "radiotherapy-treatment-summary-chest-wall-jenny-m",
     Attribute("site", "site", elements=("bodySite",),
               values=((("http://snomed.info/sct", "78904004"), "chest wall"),),
               labels=frozenset({"chest wall"})), {"site": "chest wall"}),
    # FHIR R4's ImagingStudy example: the series' modality, a Coding (DICOM CT)
    ("hl7.fhir.r4.examples/ImagingStudy-example.json", None,
     Attribute("modality", "modality", elements=("series.modality",),
               values=((("http://dicom.nema.org/resources/ontology/DCM", "CT"), "ct"),
                       (("http://dicom.nema.org/resources/ontology/DCM", "MR"), "mri")),
               labels=frozenset({"ct", "mri"})), {"modality": "ct"}),
    # FHIR R4's MedicationStatement example: the dosage's route (SNOMED CT oral)
    ("hl7.fhir.r4.examples/MedicationStatement-example001.json", None,
     Attribute("route", "route", elements=("dosage.route",),
               values=((("http://snomed.info/sct", "26643006"), "oral"),),
               labels=frozenset({"oral"})), {"route": "oral"}),
], ids=["mcode-intent", "mcode-body-site", "r4-imaging-modality", "r4-route"])
def test_public_examples(source, rid, attribute, said):
    if attribute == "intent":
        with protocol(FOLDER):
            attribute = terminology().fact_kinds["radiotherapy"].attribute("intent")
    data = _resource(EXAMPLES / source, rid)
    assert read_attributes((attribute,), data) == said


def test_the_sarc028_declarations_name_r4_elements():
    """Every element path an attribute of the SARC028 folder reads exists in FHIR R4 for the
    kind's resource types, and holds a CodeableConcept, Coding or code."""
    coded = {row["path"] for rows in R4.values() for row in rows}
    with protocol(FOLDER):
        kinds = [k for k in terminology().fact_kinds.values() if k.attributes]
    assert kinds
    for kind in kinds:
        for attribute in kind.attributes:
            for path in attribute.elements:
                for rtype in kind.fhir_types:
                    assert f"{rtype}.{path}" in coded, (kind.key, path)


def test_declarations_and_selections_are_parsed():
    g = Graph().parse(format="turtle", data="""
        @prefix ql: <https://w3id.org/ql1706kg#> . @prefix : <http://example.org/> .
        :k ql:hasAttribute [ ql:attributeKey "route" ; ql:fhirElement "dosage.route" ;
            ql:fhirExtension "http://x/ext" ; ql:valueCoding [ ql:fhirCode "http://sct|1" ;
            ql:fhirCodeText "by mouth" ; ql:valueLabel "Oral" ] , [ ql:valueLabel "IV" ] ] ,
          [ ql:fhirElement "no key: ignored" ] .
        :s ql:selectsAttribute [ ql:attributeKey "route" ; ql:attributeValue "ORAL", "iv" ] .
    """)
    from rdflib import URIRef
    (attribute,) = build_attributes(g, URIRef("http://example.org/k"))
    assert attribute.elements == ("dosage.route",) and attribute.extensions == ("http://x/ext",)
    assert attribute.labels == {"oral", "iv"} and attribute.label_of("http://sct", "1") == "oral"
    assert attribute_filters(g, URIRef("http://example.org/s")) == (
        ("route", frozenset({"oral", "iv"})),)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["coding", "system", "code", "text",
                                                        "concept", "category", "url"]),
                                       inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(category=_json, extension=_json)
def test_the_reader_never_fails_and_says_only_declared_values(category, extension):
    attribute = Attribute(**{**ATTRIBUTE.__dict__, "elements": ("category",),
                             "extensions": (EXTENSION,)})
    said = read_attributes((attribute,), {"category": category, "extension": extension})
    assert set(said) <= {"k"} and set(said.values()) <= attribute.labels


@settings(max_examples=100, deadline=None)
@given(codes=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=4),
       as_list=st.booleans())
def test_one_value_is_read_and_two_are_not(codes, as_list):
    concepts = [{"coding": [{"system": S, "code": c}]} for c in codes]
    attribute = Attribute(**{**ATTRIBUTE.__dict__, "elements": ("category",)})
    data = {"category": concepts if as_list else {"coding": [c["coding"][0] for c in concepts]}}
    said = read_attributes((attribute,), data)
    labels = {"a": "alpha", "b": "beta"}
    assert said == ({"k": labels[codes[0]]} if len(set(codes)) == 1 else {})


# -- tables: a column per attribute ------------------------------------------------------------
def test_table_columns_are_attributes_and_a_bad_value_names_its_column(tmp_path):
    path = tmp_path / "rt.csv"
    path.write_text("patient,element,value,date,end,field-extent,intent\n"
                    "A,radiotherapy,,2027-02-06,2027-02-12,Limited,palliative\n"
                    "B,radiotherapy,,2027-02-06,2027-02-12,narrow,\n")
    with protocol(FOLDER):
        found = list(read_table(path))
    (good,) = [r for r in found if isinstance(r, SourcedRecord)]
    (bad,) = [r for r in found if isinstance(r, InputError)]
    assert good.record.facts[0].attributes == {"field-extent": "limited", "intent": "palliative"}
    assert bad.record == "B" and bad.field == "row 3: field-extent" and "rt.csv:3" in str(bad)
    assert "narrow" in bad.detail and "limited, wide" in bad.detail


# -- SARC028 on variants of its example patients, one screening --------------------------------
RT = "eligible-dedifferentiated-chondrosarcoma-adult.json"  # S28-03: ICF 2027-03-01
LMS = "eligible-lms-adult-three-metastatic-lines.json"  # S28-01


def _course(record: dict) -> dict:
    return next(f for f in record["facts"] if f["kind"] == "radiotherapy")


def _json_variants() -> dict[str, tuple[str, dict]]:
    out: dict[str, tuple[str, dict]] = {}
    rt = json.loads((FOLDER / "records" / RT).read_text())
    lms = json.loads((FOLDER / "records" / LMS).read_text())

    def variant(name, base, change):
        record = copy.deepcopy(base) | {"id": name}
        change(record)
        out[name] = (name, record)

    variant("rt-as-is", rt, lambda r: None)
    variant("rt-no-intent", rt, lambda r: _course(r)["attributes"].pop("intent"))
    variant("rt-curative", rt, lambda r: _course(r)["attributes"].update(intent="curative"))
    variant("rt-wide", rt, lambda r: _course(r)["attributes"].update({"field-extent": "wide"}))
    variant("rt-no-extent", rt, lambda r: _course(r)["attributes"].pop("field-extent"))
    variant("rt-undeclared", rt,
            lambda r: _course(r)["attributes"].update({"field-extent": "narrow"}))
    variant("rt-13-days", rt, lambda r: _course(r).update(end="2027-02-16"))
    variant("rt-14-days", rt, lambda r: _course(r).update(end="2027-02-15"))
    variant("rt-after-icf", rt, lambda r: _course(r).update(end="2027-03-05"))
    variant("rt-29-days-wide", rt, lambda r: _course(r).update(
        end="2027-01-31", attributes={"field-extent": "wide"}))
    variant("rt-not-recovered", rt, lambda r: next(
        f for f in r["facts"] if f["kind"] == "radiotherapy-toxicity-recovered").update(
            value=False))
    variant("rt-no-recovery", rt, lambda r: r.update(facts=[
        f for f in r["facts"] if f["kind"] != "radiotherapy-toxicity-recovered"]))
    variant("rt-no-list", lms, lambda r: r["facts_complete"].remove("radiotherapy"))
    for name, code in (("sarcoma-nos", "8800/3"), ("liposarcoma-nos", "8850/3"),
                       ("chondrosarcoma-nos", "9220/3"), ("myxoid-liposarcoma", "8852/3"),
                       ("round-cell-liposarcoma", "8853/3"), ("unknown-code", "8999/3"),
                       ("low-grade-central-os", "9187/3"), ("myxofibrosarcoma", "8811/3"),
                       ("clear-cell-chondrosarcoma", "9242/3"), ("epithelioid-lms", "8891/3")):
        variant(name, lms, lambda r, code=code: r["diagnosis"].update(
            histology={"system": "ICD-O-3", "code": code}))
    variant("conventional-chondrosarcoma", lms, lambda r: r["diagnosis"].update(
        histology="conventional chondrosarcoma"))
    variant("caliper-only", lms, lambda r: r["lesions"][0].update(method="caliper"))
    variant("ct-too-small", lms, lambda r: r["lesions"][0].update(longest_diameter_mm=9))
    variant("mri-node", lms, lambda r: r["lesions"][0].update(
        kind="lymph_node", method="MRI", short_axis_mm=15, longest_diameter_mm=None))
    variant("imaging-31-days", lms, lambda r: r["lesions"][0].update(date="2027-02-13"))
    variant("imaging-30-days", lms, lambda r: r["lesions"][0].update(date="2027-02-14"))
    return out


def _fhir_variants() -> dict[str, dict]:
    out = {}
    for name, category in (("fhir-rt-no-extent", None), ("fhir-rt-wide", "wide")):
        bundle = json.loads((FOLDER / "patients" / RT).read_text())
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                resource["identifier"][0]["value"] = resource["id"] = name
            if resource["resourceType"] == "Procedure":
                if category is None:
                    del resource["category"]
                else:
                    resource["category"]["coding"][0]["code"] = f"{category}-field-radiotherapy"
        out[name] = bundle
    bundle = json.loads((FOLDER / "patients" / LMS).read_text())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = resource["id"] = "fhir-provisional"
        if "8890/3" in json.dumps(resource.get("code")) and resource["resourceType"] == \
                "Condition":
            resource["verificationStatus"]["coding"][0]["code"] = "provisional"
    bundle["entry"] = [e for e in bundle["entry"]  # no pathology report: a provisional diagnosis
                       if e["resource"]["resourceType"] != "DiagnosticReport"]
    out["fhir-provisional"] = bundle
    return out


@pytest.fixture(scope="module")
def screened(tmp_path_factory) -> dict[str, dict[str, dict]]:
    folder = tmp_path_factory.mktemp("variants")
    for name, (_n, record) in _json_variants().items():
        (folder / f"{name}.json").write_text(json.dumps(record))
    for name, bundle in _fhir_variants().items():
        (folder / f"{name}.json").write_text(json.dumps(bundle))
    result = CliRunner().invoke(main, ["screen", str(folder), "--protocol", str(FOLDER),
                                       "--as-of", "2027-03-15", "--format", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    return {p["id"]: {c["id"]: c for c in p["criteria"]}
            for p in json.loads(result.stdout)["patients"]}


@pytest.mark.parametrize(("patient", "criterion", "outcome"), [
    ("rt-as-is", "EX4", "met"),  # limited field, palliative, 17 days: allowed
    ("rt-no-intent", "EX4", "unknown"),
    ("rt-curative", "EX4", "unknown"),  # limited but not palliative: neither clause (R8)
    ("rt-wide", "EX4", "not_met"),
    ("rt-no-extent", "EX4", "unknown"),
    ("rt-undeclared", "EX4", "unknown"),  # a value the kind does not declare says nothing
    ("rt-13-days", "EX4", "not_met"),  # d < 14 whatever the field
    ("rt-14-days", "EX4", "met"),  # d = 14, limited palliative
    ("rt-after-icf", "EX4", "not_met"),
    ("rt-29-days-wide", "EX4", "met"),
    ("rt-not-recovered", "EX4", "not_met"),
    ("rt-no-recovery", "EX4", "unknown"),
    ("rt-no-list", "EX4", "unknown"),
    ("fhir-rt-no-extent", "EX4", "unknown"),
    ("fhir-rt-wide", "EX4", "not_met"),
    ("sarcoma-nos", "IN2.4", "unknown"), ("liposarcoma-nos", "IN2.4", "unknown"),
    ("chondrosarcoma-nos", "IN2.4", "unknown"), ("unknown-code", "IN2.4", "unknown"),
    ("myxoid-liposarcoma", "IN2.4", "not_met"), ("round-cell-liposarcoma", "IN2.4", "not_met"),
    ("myxofibrosarcoma", "IN2.4", "not_met"), ("clear-cell-chondrosarcoma", "IN2.4", "not_met"),
    ("conventional-chondrosarcoma", "IN2.4", "not_met"),
    ("low-grade-central-os", "IN2.4", "met"), ("epithelioid-lms", "IN2.4", "met"),
    ("sarcoma-nos", "IN2.1", "unknown"), ("myxoid-liposarcoma", "IN2.1", "met"),
    ("fhir-provisional", "IN2.1", "unknown"), ("fhir-provisional", "IN2.4", "unknown"),
    ("caliper-only", "IN4.1", "unknown"), ("caliper-only", "IN4.2", "unknown"),
    ("ct-too-small", "IN4.1", "not_met"), ("mri-node", "IN4.1", "met"),
    ("imaging-31-days", "IN4.2", "unknown"), ("imaging-30-days", "IN4.2", "met"),
])
def test_sarc028_variants(screened, patient, criterion, outcome):
    assert screened[patient][criterion]["outcome"] == outcome, \
        screened[patient][criterion]["explanation"]


def test_an_undecided_attribute_is_said(screened):
    assert "field extent or intent not recorded" in screened["rt-no-intent"]["EX4"][
        "explanation"]
    assert QL.selectsAttribute  # the schema names it (ontology/ql1706kg.ttl)


@pytest.mark.parametrize(("selects", "problem"), [
    ('[ ql:attributeKey "intent" ; ql:attributeValue "palliative" ]', None),
    ('[ ql:attributeKey "intnet" ; ql:attributeValue "palliative" ]', "none of its kinds"),
    ('[ ql:attributeKey "intent" ; ql:attributeValue "paliative" ]', "not one of its values"),
], ids=["declared", "misspelt-key", "misspelt-value"])
def test_the_check_refuses_a_selection_its_kinds_cannot_say(selects, problem):
    from ql1706kg.protocol.fact_attributes import attribute_problems
    from ql1706kg.protocol.fact_kinds import build_fact_kinds

    g = Graph().parse(format="turtle", data=f"""
        @prefix ql: <https://w3id.org/ql1706kg#> . @prefix : <http://example.org/> .
        :Rt a ql:FactKind ; ql:recordKey "rt" ; ql:hasAttribute [ ql:attributeKey "intent" ;
            ql:valueCoding [ ql:valueLabel "palliative" ] ] .
        :sel a ql:FactSelection ; ql:selectsKind :Rt ; ql:selectsAttribute {selects} .""")
    kinds, selections = build_fact_kinds(g)
    found = attribute_problems(kinds.values(), selections)
    assert (found == []) if problem is None else (problem in found[0] and "sel" in found[0])
