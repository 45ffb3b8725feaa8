"""Registry-ready publication: RDF exports, ontology metadata, HTML docs, registry records."""

from __future__ import annotations

import json
import logging
from functools import cache

import pytest
from fhir.resources.R4B import get_fhir_model_class
from rdflib import BNode, Graph
from rdflib.compare import to_isomorphic

from ql1706kg.protocol.terminology import load_ontology, terminology
from ql1706kg.semweb import publish

PARSE_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "xml": "xml", "nt": "nt"}
PREFIXES = """
PREFIX ql: <https://w3id.org/ql1706kg#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX vann: <http://purl.org/vocab/vann/>
"""
# Where each code system's skos:exactMatch IRIs live (see the code properties' rdfs:comment).
EXACT_MATCH_IRIS = """
VALUES (?p ?base ?tail) {
  (ql:ncitCode "http://purl.obolibrary.org/obo/NCIT_" "")
  (ql:snomedCode "http://snomed.info/id/" "")
  (ql:atcCode "http://purl.bioontology.org/ontology/ATC/" "")
  (ql:rxnormCode "http://purl.bioontology.org/ontology/RXNORM/" "")
  (ql:loincCode "http://loinc.org/rdf/" "")
}
"""
# A code counts as marked unverified when an editorial note names it as a whole token.
UNVERIFIED = """
?s skos:editorialNote ?note .
FILTER(REGEX(STR(?note), CONCAT("(^|[^A-Za-z0-9])", STR(?code), "([^A-Za-z0-9/.-]|$)")))
"""


@cache
def ontology() -> Graph:
    return load_ontology()


@cache
def reference_hash(what: str) -> int:
    """Canonical hash of the bundled graph (computed once: it is the slow part)."""
    return to_isomorphic(publish.publication_graph(what)).internal_hash()


# ------------------------------------------------------------------------------------ export


# Every syntax for the whole publication; each part in Turtle (the serializers do not depend
# on the part, and the canonical hash of a graph with the shapes' lists is the slow part).
ROUND_TRIPS = [("all", fmt) for fmt in PARSE_FORMATS] + [
    (what, "ttl") for what in publish.WHATS if what != "all"]


@pytest.mark.parametrize(("what", "fmt"), ROUND_TRIPS)
def test_export_round_trips_to_an_isomorphic_graph(what, fmt):
    text = publish.export(what, fmt)
    parsed = Graph().parse(data=text, format=PARSE_FORMATS[fmt])
    assert len(parsed) == len(publish.publication_graph(what))
    # rdflib.compare: the same canonical hash as rdflib.compare.isomorphic computes.
    assert to_isomorphic(parsed).internal_hash() == reference_hash(what)


def test_export_all_is_ontology_plus_shapes():
    graphs = {what: publish.publication_graph(what) for what in publish.WHATS}
    # Both parts declare the annotation properties they share (OWL 2 DL): one triple in "all".
    shared = {t for t in graphs["ontology"] if not any(isinstance(n, BNode) for n in t)}
    shared &= set(graphs["shapes"])
    assert shared, "the shapes restate no declaration of the ontology"
    assert len(graphs["all"]) == len(graphs["ontology"]) + len(graphs["shapes"]) - len(shared)


def test_jsonld_export_embeds_its_context():
    document = json.loads(publish.export("ontology", "jsonld"))
    context = document["@context"]
    assert isinstance(context, dict)
    assert context["ql"] == "https://w3id.org/ql1706kg#"
    assert all(isinstance(value, str) for value in context.values())  # prefixes, no imports
    assert "@graph" in document


def test_turtle_export_keeps_lexical_forms():
    # rdflib's shorthand would turn "1"^^xsd:decimal into 1.0, another RDF term.
    assert 'ql:ordinalRank "1"^^xsd:decimal' in publish.export("ontology", "ttl")


def test_export_rejects_unknown_arguments():
    with pytest.raises(ValueError, match="what must be one of"):
        publish.export("terminology", "ttl")
    with pytest.raises(ValueError, match="fmt must be one of"):
        publish.export("ontology", "owl")


# ---------------------------------------------------------------------------------- metadata

METADATA_ASKS = {
    "dcterms:title": "?o dcterms:title ?v . FILTER(isLiteral(?v) && STRLEN(STR(?v)) > 0)",
    "dcterms:description": "?o dcterms:description ?v . FILTER(STRLEN(STR(?v)) > 100)",
    "dcterms:creator": "?o dcterms:creator ?v .",
    "dcterms:license": "?o dcterms:license ?v . FILTER(isIRI(?v))",
    "dcterms:created": "?o dcterms:created ?v . FILTER(DATATYPE(?v) = xsd:date)",
    "dcterms:modified": "?o dcterms:created ?c ; dcterms:modified ?v . "
                        "FILTER(DATATYPE(?v) = xsd:date && ?v >= ?c)",
    "owl:versionIRI": "?o owl:versionIRI ?v ; owl:versionInfo ?i . "
                      "FILTER(isIRI(?v) && STRENDS(STR(?v), STR(?i)))",
    "owl:versionInfo": "?o owl:versionInfo ?v . FILTER(REGEX(STR(?v), '^[0-9]+[.][0-9]+'))",
    "vann:preferredNamespacePrefix": "?o vann:preferredNamespacePrefix 'ql' .",
    "vann:preferredNamespaceUri": "?o vann:preferredNamespaceUri ?v . "
                                  "FILTER(STR(?v) = 'https://w3id.org/ql1706kg#')",
}


@pytest.mark.parametrize("item", list(METADATA_ASKS))
def test_ontology_has_registry_metadata(item):
    query = f"{PREFIXES} ASK {{ ?o a owl:Ontology . {METADATA_ASKS[item]} }}"
    assert ontology().query(query).askAnswer, f"the ontology header lacks a valid {item}"


def test_every_ql_class_and_property_has_label_and_definition():
    rows = ontology().query(PREFIXES + """
        SELECT ?term ?type WHERE {
          VALUES ?type { owl:Class owl:ObjectProperty owl:DatatypeProperty
                         owl:AnnotationProperty }
          ?term a ?type .
          FILTER(STRSTARTS(STR(?term), "https://w3id.org/ql1706kg#"))
          FILTER(NOT EXISTS { ?term rdfs:label ?label . FILTER(STRLEN(STR(?label)) > 0) }
                 || NOT EXISTS { ?term skos:definition ?d . FILTER(STRLEN(STR(?d)) > 10) })
        } ORDER BY ?term""")
    offenders = [f"{row.term} ({row.type})" for row in rows]
    assert not offenders, "missing rdfs:label or skos:definition: " + ", ".join(offenders)


def test_every_verified_code_has_its_exact_match():
    rows = ontology().query(PREFIXES + f"""
        SELECT ?s ?p ?code WHERE {{
          {EXACT_MATCH_IRIS}
          ?s ?p ?code .
          FILTER NOT EXISTS {{ ?s skos:exactMatch ?m .
                               FILTER(STR(?m) = CONCAT(?base, STR(?code), ?tail)) }}
          FILTER NOT EXISTS {{ {UNVERIFIED} }}
        }} ORDER BY ?s""")
    offenders = [f"{row.s} {row.p} {row.code}" for row in rows]
    assert not offenders, "codes without skos:exactMatch: " + ", ".join(offenders)


def test_unverified_codes_have_no_exact_match():
    rows = ontology().query(PREFIXES + f"""
        SELECT ?s ?code WHERE {{
          {EXACT_MATCH_IRIS}
          ?s ?p ?code . {UNVERIFIED}
          ?s skos:exactMatch ?m . FILTER(STR(?m) = CONCAT(?base, STR(?code), ?tail))
        }}""")
    assert not [f"{row.s} {row.code}" for row in rows]
    unverified = ontology().query(PREFIXES + f"""
        SELECT ?code WHERE {{ {EXACT_MATCH_IRIS} ?s ?p ?code . {UNVERIFIED} }}""")
    assert len(unverified) >= 1  # the check above is not vacuous


def test_every_exact_match_comes_from_a_code():
    rows = ontology().query(PREFIXES + f"""
        SELECT ?s ?m WHERE {{
          ?s skos:exactMatch ?m .
          FILTER(STRSTARTS(STR(?s), "https://w3id.org/ql1706kg#"))
          FILTER NOT EXISTS {{ {EXACT_MATCH_IRIS} ?s ?p ?code .
                               FILTER(STR(?m) = CONCAT(?base, STR(?code), ?tail)) }}
        }}""")
    assert not [f"{row.s} {row.m}" for row in rows]


@pytest.mark.parametrize("prop", ["icdO3Morphology", "oncotreeCode"])
def test_code_systems_without_iris_say_so(prop):
    query = PREFIXES + f"""ASK {{ ql:{prop} rdfs:comment ?c .
                                  FILTER(CONTAINS(STR(?c), "no standard IRI")) }}"""
    assert ontology().query(query).askAnswer


# -------------------------------------------------------------------------------------- docs


def test_docs_writes_browsable_html(tmp_path):
    pytest.importorskip("pylode", reason="pyLODE is the optional 'docs' extra")
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    target = publish.docs(tmp_path / "site")
    assert (root.level, root.handlers) == (level, handlers)  # pyLODE's basicConfig undone
    assert target == tmp_path / "site" / "index.html"
    html = target.read_text(encoding="utf-8")
    (row,) = ontology().query(PREFIXES + "SELECT ?t { ?o a owl:Ontology ; dcterms:title ?t }")
    assert str(row.t) in html
    assert "Leiomyosarcoma" in html or "leiomyosarcoma" in html
    assert "<script src=\"http" not in html  # no remote resources: it works offline


# ------------------------------------------------------------------------- registry records


def test_medical_trial_lists_the_28_criteria_in_protocol_order():
    trial = publish.medical_trial_jsonld()
    assert trial["@context"] == "https://schema.org"
    assert trial["@type"] == "MedicalTrial"
    (criteria,) = trial["subjectOf"]
    lines = criteria["text"].split("\n")
    assert [f"{part['identifier']}: {part['text']}" for part in criteria["hasPart"]] == lines
    assert [part["position"] for part in criteria["hasPart"]] == list(range(1, 29))
    expected = [f"{cid}: {c['text']}" for cid, c in terminology().criteria.items()]
    assert len(lines) == 28
    assert lines == expected
    assert lines[0].startswith("IC1: ") and lines[-1].startswith("IC11: ")


def test_medical_trial_comes_from_the_ontology():
    trial = publish.medical_trial_jsonld()
    assert trial["name"].startswith("Efficacy and Safety of QL1706")
    assert trial["code"] == [{"@type": "MedicalCode", "name": "Phase II", "codeValue": "phase-2",
                              "codingSystem": publish.PHASE_SYSTEM}]
    assert {d["name"] for d in trial["trialDesign"]} == {"single-centre", "open-label",
                                                         "single-arm"}
    assert {"https://schema.org/OpenTrial", "https://schema.org/SingleCenterTrial"} <= {
        d.get("@id") for d in trial["trialDesign"]}
    conditions = {c["name"]: c for c in trial["healthCondition"]}
    assert set(conditions) == {"bone sarcoma", "soft-tissue sarcoma"}
    assert "http://purl.obolibrary.org/obo/NCIT_C9306" in conditions["soft-tissue sarcoma"][
        "sameAs"]
    (drug,) = trial["studySubject"]
    assert drug["name"] == "QL1706" and drug["administrationRoute"] == "intravenous"
    schedule = drug["doseSchedule"]
    assert (schedule["doseValue"], schedule["doseUnit"]) == (5, "mg/kg")
    assert schedule["frequency"] == "every 21 days"
    json.dumps(trial)  # plain JSON


def test_research_study_validates_as_fhir_r4():
    resource = publish.research_study_fhir()
    model = get_fhir_model_class("ResearchStudy").model_validate(resource)
    assert model.status == "active"
    assert model.phase.coding[0].system == publish.PHASE_SYSTEM
    assert model.phase.coding[0].code == "phase-2"
    assert model.enrollment[0].reference == "#eligibility"
    assert {c.text for c in model.condition} == {"bone sarcoma", "soft-tissue sarcoma"}
    assert "5 mg/kg" in model.arm[0].description and "21 days" in model.arm[0].description


def test_research_study_group_has_one_characteristic_per_criterion():
    resource = publish.research_study_fhir(status="approved")
    assert resource["status"] == "approved"
    (group,) = resource["contained"]
    get_fhir_model_class("Group").model_validate(group)
    assert group["id"] == "eligibility" and group["actual"] is False
    characteristics = group["characteristic"]
    assert len(characteristics) == 28
    assert all(c["valueBoolean"] is True and c["exclude"] is False for c in characteristics)
    texts = [c["code"]["text"] for c in characteristics]
    assert [t.split(":", 1)[0] for t in texts] == list(terminology().criteria)
    assert texts[16] == ("IC9.2-AST: Aspartate aminotransferase (AST) ≤2.5 × ULN; "
                         "with liver metastasis ≤5 × ULN.")
