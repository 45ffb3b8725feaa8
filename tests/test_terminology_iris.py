"""Each code system's IRIs in the form its owner registers, checked against the registries
themselves (tests/data/registries: HL7 Terminology's NamingSystems, which register IRI stems,
and the Bioregistry's entries), one test per system, and the FHIR R4 RDF forms kept as declared
equivalents so that a graph using either joins ours.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SKOS

from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.terminology import load_ontology
from ql1706kg.semweb.publish import CODE_SYSTEMS

REGISTRIES = Path(__file__).parent / "data" / "registries"
FHIR_R4_LOINC = "http://loinc.org/rdf#"


@cache
def ontology() -> Graph:
    return load_ontology()


@cache
def bioregistry(prefix: str) -> dict:
    return json.loads((REGISTRIES / "bioregistry-entries.json").read_text())[prefix]


def naming_system(name: str) -> dict[str, list[str]]:
    """An HL7 Terminology NamingSystem's unique ids by type (an id without a type, as THO
    gives LOINC's IRI stem, is filed under ``iri-stem`` when it is one)."""
    resource = json.loads((REGISTRIES / f"NamingSystem-{name}.json").read_text())
    out: dict[str, list[str]] = {}
    for unique in resource["uniqueId"]:
        kind = unique.get("type") or ("iri-stem" if unique["value"].endswith(("/", "#"))
                                      else "other")
        out.setdefault(kind, []).append(unique["value"])
    return out


def verified_codes(prop: URIRef) -> list[tuple[URIRef, str]]:
    """(term, code) of each code of ``prop`` that no editorial note marks unverified."""
    graph = ontology()
    out = []
    for term, code in graph.subject_objects(prop):
        notes = " ".join(str(n) for n in graph.objects(term, SKOS.editorialNote))
        if str(code) not in notes:
            out.append((term, str(code)))
    assert out, f"no verified {prop} code: the test would be vacuous"
    return sorted(out)


def rdf_stem(prefix: str) -> set[str]:
    """The IRI stems of RDF concept IRIs the Bioregistry records for ``prefix`` (its own RDF
    format, Wikidata's, Biolink's, the OBO Foundry's, OLS's, and its providers')."""
    entry = bioregistry(prefix)
    formats = [entry.get("rdf_uri_format"),
               entry.get("wikidata.property", {}).get("uri_format_rdf"),
               entry.get("biolink.resource", {}).get("uri_format"),
               entry.get("obofoundry", {}).get("uri_format_rdf"),
               entry.get("ols", {}).get("uri_format")]
    formats += [p["uri_format"] for p in entry.get("providers") or ()]
    return {f.removesuffix("$1") for f in formats if f and f.endswith("$1")}


def matches(term: URIRef) -> set[str]:
    return {str(m) for m in ontology().objects(term, SKOS.exactMatch)}


def test_loinc_iris_are_the_registered_form_with_fhir_r4_forms_equivalent():
    (stem,) = naming_system("v3-loinc")["iri-stem"]
    assert stem == "http://loinc.org/rdf/"
    assert bioregistry("loinc")["wikidata.property"]["uri_format_rdf"] == stem + "$1"
    graph = ontology()
    for term, code in verified_codes(QL.loincCode):
        assert stem + code in matches(term), (term, code)
        assert not any(m.startswith(FHIR_R4_LOINC) for m in matches(term)), term
        assert (URIRef(stem + code), SKOS.exactMatch, URIRef(FHIR_R4_LOINC + code)) in graph


@pytest.mark.parametrize("form", ["http://loinc.org/rdf/", FHIR_R4_LOINC])
def test_a_graph_using_either_loinc_form_joins_the_terminology(form):
    theirs = Graph()
    theirs.add((URIRef("http://example.org/obs/1"), URIRef("http://example.org/code"),
                URIRef(form + "1920-8")))
    joined = (ontology() + theirs).query("""
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?term WHERE { ?obs <http://example.org/code> ?iri .
                             ?term skos:exactMatch/skos:exactMatch? ?iri .
                             FILTER(STRSTARTS(STR(?term), "https://w3id.org/ql1706kg#")) }""")
    assert {row.term for row in joined} == {QL.AspartateAminotransferase}


def test_snomed_ct_iris_are_snomed_internationals_concept_iris():
    # HL7 Terminology registers only the system (and an OID) for SNOMED CT; SNOMED
    # International's URI standard, as the Bioregistry records it (Wikidata's RDF format, OLS,
    # Biolink), is http://snomed.info/id/{sctid}, the form FHIR R4 RDF uses too (sct:).
    assert "iri-stem" not in naming_system("v3-snomed-CT")
    assert "http://snomed.info/id/" in rdf_stem("snomedct")
    for term, code in verified_codes(QL.snomedCode):
        assert "http://snomed.info/id/" + code in matches(term), (term, code)


def test_icd_o_3_has_no_registered_concept_iri_so_none_is_written():
    # No IRI stem in HL7 Terminology, and the Bioregistry's only URL is a search page: the code
    # is the identifier, under the FHIR system HL7 Terminology registers.
    registered = naming_system("icd-o-3")
    assert "iri-stem" not in registered
    assert registered["uri"] == [CODE_SYSTEMS[QL.icdO3Morphology][0]]
    assert rdf_stem("icdo") == set()
    for term, code in verified_codes(QL.icdO3Morphology):
        assert not any(code in m for m in matches(term)), (term, code)


def test_atc_iris_are_the_concept_purls_the_registry_lists():
    # The WHO (the owner) registers a web page per code (Wikidata's uri_format, not an RDF IRI);
    # the only concept IRIs the Bioregistry lists are BioPortal's PURLs.
    entry = bioregistry("atc")
    assert "uri_format_rdf" not in entry["wikidata.property"]
    assert rdf_stem("atc") == {"http://purl.bioontology.org/ontology/ATC/"}
    for term, code in verified_codes(QL.atcCode):
        assert "http://purl.bioontology.org/ontology/ATC/" + code in matches(term), term


@pytest.mark.parametrize(("prefix", "prop", "stem"), [
    ("ncit", QL.ncitCode, "http://purl.obolibrary.org/obo/NCIT_"),
    ("rxnorm", QL.rxnormCode, "http://purl.bioontology.org/ontology/RXNORM/"),
])
def test_ncit_and_rxnorm_iris_are_their_registered_rdf_forms(prefix, prop, stem):
    assert stem in rdf_stem(prefix)
    for term, code in verified_codes(prop):
        assert stem + code in matches(term), (term, code)


def test_ucum_units_are_codes_of_the_registered_system():
    # HL7 Terminology registers UCUM's system http://unitsofmeasure.org and no concept IRI
    # stem; the Bioregistry records no RDF form (its URL is a web page). So a unit is written
    # as its UCUM code (ql:canonicalUnit, qudt:ucumCode), and FHIR quantities carry that
    # system; every code parses as UCUM.
    from ucumvert import PintUcumRegistry

    registered = naming_system("v3-ucum")
    assert "iri-stem" not in registered and registered["uri"] == ["http://unitsofmeasure.org"]
    assert rdf_stem("ucum") == set()
    from ql1706kg.inputs.fhir.values import UCUM

    assert UCUM == "http://unitsofmeasure.org"
    units = {str(u) for u in ontology().objects(None, QL.canonicalUnit)}
    assert units
    registry = PintUcumRegistry()
    for unit in sorted(units):
        registry.from_ucum(unit)  # raises on a code that is not UCUM
    graph = ontology()
    for term, unit in graph.subject_objects(QL.canonicalUnit):
        assert isinstance(unit, Literal)
        assert any(str(u) == str(unit) for u in graph.objects(
            term, URIRef("http://qudt.org/schema/qudt/ucumCode"))), term
