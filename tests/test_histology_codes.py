"""Histology and metastasis codes kept as data (terminology-histology.ttl, terminology-sites.ttl):
every ICD-O-3 code of the eight protocol histologies and their sub-types is one of them,
cancers that are not sarcomas are other histologies, codes that name no histology decide
nothing, and every FHIR coding added outside the shared reference cites its public source."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef

from ql1706kg.inputs.fhir.disease_observations import (
    disease_codes,
    find_disease_term,
    m_category,
    stage_iv,
)
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.resources import ontology_files
from ql1706kg.protocol.terminology import terminology

from .conftest import BASE, outcomes, record

DCTERMS_SOURCE = URIRef("http://purl.org/dc/terms/source")
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
SCT = "http://snomed.info/sct"

# ICD-O-3 morphology codes under the eight protocol histologies, by the class they belong to
# (sources: the shared reference, and the NCI GDC dictionary / OncoTree cited in the ontology).
PROTOCOL_ICDO3 = [
    ("8805/3", "UndifferentiatedSarcoma"), ("8801/3", "UndifferentiatedSpindleCellSarcoma"),
    ("8803/3", "UndifferentiatedRoundCellSarcoma"), ("8890/3", "Leiomyosarcoma"),
    ("8891/3", "EpithelioidLeiomyosarcoma"), ("8896/3", "MyxoidLeiomyosarcoma"),
    ("8811/3", "Myxofibrosarcoma"), ("9581/3", "AlveolarSoftPartSarcoma"),
    ("8830/3", "UndifferentiatedPleomorphicSarcoma"),
    ("8802/3", "UndifferentiatedPleomorphicSarcoma"),
    ("9251/3", "UndifferentiatedPleomorphicSarcomaWithGiantCells"),
    ("9370/3", "Chordoma"), ("9371/3", "ChondroidChordoma"), ("9372/3", "DedifferentiatedChordoma"),
    ("9120/3", "Angiosarcoma"), ("9130/3", "Angiosarcoma"),
    ("8858/3", "DedifferentiatedLiposarcoma"),
    ("8890/6", "Leiomyosarcoma"), ("9120/9", "Angiosarcoma"),  # metastatic / uncertain site
]
OTHER = [  # cancers that are not one of the eight: IC3.3 not_met
    (ICDO3, "8500/3"), (ICDO3, "8140/3"), (ICDO3, "8046/3"), (ICDO3, "9823/3"),
    (ICDO3, "9861/3"), (ICDO3, "8720/3"), (ICDO3, "8520/2"), (ICDO3, "8804/3"),
    (SCT, "82711006"), (SCT, "1187332001"), (SCT, "77284006"), (SCT, "92814006"),
    (SCT, "277571004"), (SCT, "91861009"), (SCT, "254637007"), (SCT, "408643008"),
    (SCT, "372244006"), (SCT, "109989006"), (SCT, "63211008"),
]
UNDECIDED = [  # malignant, but the code does not say which histology: IC3.3 unknown
    (ICDO3, "8000/3"), (ICDO3, "8004/3"), (ICDO3, "8800/3"), (ICDO3, "8850/3"),
    (ICDO3, "8895/3"), (ICDO3, "8894/3"), (ICDO3, "9170/3"),
    (SCT, "363346000"), (SCT, "254837009"), (SCT, "353431000119107"), (SCT, "1240414004"),
    (SCT, "1187396000"), (SCT, "93870000"),
]
SNOMED_PROTOCOL = [
    ("1163022006", "Leiomyosarcoma"), ("88195001", "AlveolarSoftPartSarcoma"),
    ("863926008", "Angiosarcoma"), ("39000009", "Angiosarcoma"),
    ("34360000", "UndifferentiatedPleomorphicSarcoma"), ("447389009", "UterineLeiomyosarcoma"),
    ("447730004", "Chordoma"), ("109844006", "HepaticAngiosarcoma"),
    ("400175006", "Myxofibrosarcoma"),
]


@pytest.mark.parametrize(("code", "name"), PROTOCOL_ICDO3)
def test_icdo3_codes_of_the_protocol_histologies(code, name):
    term = terminology()
    hit = find_disease_term(term, "ICD-O-3", code, QL.Neoplasm)
    assert hit == QL[name]
    assert term.is_a(hit, QL.ProtocolHistology)


@pytest.mark.parametrize(("code", "name"), SNOMED_PROTOCOL)
def test_snomed_codes_of_the_protocol_histologies(code, name):
    assert find_disease_term(terminology(), SCT, code, QL.Neoplasm) == QL[name]


@pytest.mark.parametrize(("system", "code"), OTHER)
def test_cancers_that_are_not_sarcomas_of_the_eight_are_other_histologies(system, code):
    term = terminology()
    hit = find_disease_term(term, system, code, QL.Neoplasm)
    assert hit is not None and term.is_a(hit, QL.NonProtocolHistology), (code, hit)


@pytest.mark.parametrize(("system", "code"), UNDECIDED)
def test_codes_that_name_no_histology_decide_nothing(system, code):
    term = terminology()
    hit = find_disease_term(term, system, code, QL.Neoplasm)
    assert hit is not None, code
    assert not term.is_a(hit, QL.ProtocolHistology)
    assert not term.is_a(hit, QL.NonProtocolHistology)


@pytest.mark.parametrize(("histology", "outcome"), [
    ({"system": "ICD-O-3", "code": "9371/3"}, "met"),
    ({"system": "ICD-O-3", "code": "8801/3"}, "met"),
    ({"system": "ICD-O-3", "code": "8803/3"}, "met"),
    ({"system": "SNOMED-CT", "code": "1163022006"}, "met"),
    ({"system": "ICD-O-3", "code": "8500/3"}, "not_met"),
    ({"system": "SNOMED-CT", "code": "92814006"}, "not_met"),
    ({"system": "ICD-O-3", "code": "9999/3"}, "not_met"),  # another ICD-O-3 morphology
    ({"system": "ICD-O-3", "code": "8850/3"}, "unknown"),  # liposarcoma NOS
    ({"system": "SNOMED-CT", "code": "254837009"}, "unknown"),  # breast cancer: a site only
    ({"system": "SNOMED-CT", "code": "1"}, "unknown"),  # not a code the terminology knows
    ("infiltrating duct carcinoma", "not_met"),
    ("chondroid chordoma", "met"),
    ("breast cancer", "unknown"),
])
def test_json_record_histology(histology, outcome):
    rec = record(diagnosis={**BASE["diagnosis"], "histology": histology})
    assert outcomes(rec)["IC3.3"] == outcome


@pytest.mark.parametrize(("system", "code", "site"), [
    (SCT, "94381002", "Liver"), (SCT, "285613005", "Liver"), (SCT, "94222008", "Bone"),
    (SCT, "94225005", "Brain"), (SCT, "94391008", "Lung"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C78.7", "Liver"),
    ("http://hl7.org/fhir/sid/icd-10", "C78.7", "Liver"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C78.02", "Lung"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C77.2", "LymphNode"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C79.31", "Brain"),
    (SCT, "1098951000119108", "Liver"),
])
def test_metastasis_codes_hold_their_site(system, code, site):
    term = terminology()
    hit = find_disease_term(term, system, code)
    assert disease_codes().sites.get(hit) == QL[site]


@pytest.mark.parametrize(("system", "code"), [
    (SCT, "128462008"), ("http://hl7.org/fhir/sid/icd-10-cm", "C79.9"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C78.89"), (SCT, "1287652008"),
])
def test_metastasis_codes_without_a_site_are_never_read_as_liver(system, code):
    hit = find_disease_term(terminology(), system, code)
    assert hit is not None and hit not in disease_codes().sites


def test_primary_cancer_icd10_codes_are_not_metastases():
    hit = find_disease_term(terminology(), "http://hl7.org/fhir/sid/icd-10-cm", "C50.9")
    assert hit == QL.MalignantNeoplasmOfBreast and hit not in disease_codes().sites


@pytest.mark.parametrize(("value", "category"), [
    ({"coding": [{"system": SCT, "code": "1229903009",
                  "display": "American Joint Committee on Cancer cM1 (qualifier value)"}]}, "M1"),
    ({"coding": [{"system": "https://www.uicc.org/resources/tnm", "code": "M1c"}]}, "M1"),
    ({"coding": [{"system": SCT, "code": "1229901006",
                  "display": "American Joint Committee on Cancer cM0 (qualifier value)"}]}, "M0"),
    ({"text": "pM1a"}, "M1"), ({"text": "cM0(i+)"}, "M0"), ({"text": "MX"}, None),
    ({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                  "code": "not-applicable", "display": "Not Applicable"}]}, None),
    ({"text": "Malignant melanoma"}, None), ({"text": "cM0 then cM1"}, None),
])
def test_tnm_m_category_from_its_notation(value, category):
    assert m_category(value) == category


@pytest.mark.parametrize(("value", "is_iv"), [
    ({"coding": [{"display": "American Joint Committee on Cancer stage IV"}]}, True),
    ({"coding": [{"display": "AJCC stage IVB (qualifier value)"}]}, True),
    ({"coding": [{"system": "https://www.uicc.org/resources/tnm", "code": "IVA"}]}, True),
    ({"coding": [{"display": "American Joint Committee on Cancer stage IIIC (qualifier value)"}]},
     False),
    ({"text": "stage I"}, False), ({"text": "unstaged"}, None),
])
def test_stage_group_iv(value, is_iv):
    assert stage_iv(value) is is_iv


def test_every_fhir_coding_of_the_disease_terminology_cites_its_source():
    graph = Graph()
    for path in ontology_files():
        if path.name in ("terminology-histology.ttl", "terminology-sites.ttl"):
            graph.parse(path, format="turtle")
    coded = set(graph.subjects(QL.fhirCoding, None))
    assert len(coded) > 50
    for subject in coded:
        sources = list(graph.objects(subject, DCTERMS_SOURCE))
        assert sources and all(str(s).startswith("https://github.com/") for s in sources), subject
        for token in graph.objects(subject, QL.fhirCoding):
            system, _, code = str(token).rpartition("|")
            assert system.startswith(("http://", "https://")) and code.strip() == code, token


def test_a_code_is_never_read_as_two_terms():
    graph = Graph()
    for path in ontology_files():
        if path.name in ("terminology-histology.ttl", "terminology-sites.ttl"):
            graph.parse(path, format="turtle")
    seen: dict[str, URIRef] = {}
    for subject, token in graph.subject_objects(QL.fhirCoding):
        assert seen.setdefault(str(token), subject) == subject, token
