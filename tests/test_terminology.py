"""The terminology: codes from the shared reference only, classes as criteria.md reads them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib.namespace import RDFS

from ql1706kg.protocol.namespaces import QL, SKOS
from ql1706kg.protocol.terminology import closure_graph, terminology

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "codes.csv"
SYSTEM_OF = {QL.icdO3Morphology: "ICD-O-3", QL.ncitCode: "NCIt", QL.oncotreeCode: "OncoTree",
             QL.snomedCode: "SNOMED-CT", QL.atcCode: "ATC", QL.rxnormCode: "RxNorm",
             QL.loincCode: "LOINC"}


def reference_rows() -> dict[tuple[str, str], dict]:
    with REFERENCE.open(newline="") as handle:
        return {(row["system"], row["code"]): row for row in csv.DictReader(handle)}


def test_every_code_in_the_ontology_is_in_the_shared_reference():
    """No invented codes: each (system, code) comes from docs/reference/codes.csv."""
    rows = reference_rows()
    graph = closure_graph()
    found = {(system, str(code)) for prop, system in SYSTEM_OF.items()
             for code in graph.objects(None, prop)}
    assert found, "the terminology carries no codes"
    assert sorted(found - set(rows)) == []


def test_unverified_codes_carry_an_editorial_note_and_no_exact_match():
    rows = reference_rows()
    graph = closure_graph()
    for prop, system in SYSTEM_OF.items():
        for subject, code in graph.subject_objects(prop):
            if rows[(system, str(code))]["verified"] == "yes":
                continue
            notes = " ".join(str(n) for n in graph.objects(subject, SKOS.editorialNote))
            assert str(code) in notes, (subject, code)
            assert not any(str(code) in str(m) for m in graph.objects(subject, SKOS.exactMatch))


@pytest.mark.parametrize(("system", "code", "term"), [
    ("ICD-O-3", "8830/3", "UndifferentiatedPleomorphicSarcoma"),
    ("ICD-O-3", "8802/3", "UndifferentiatedPleomorphicSarcoma"),
    ("ICD-O-3", "8890/3", "Leiomyosarcoma"),
    ("ICD-O-3", "9372/3", "DedifferentiatedChordoma"),
    ("OncoTree", "DDLS", "DedifferentiatedLiposarcoma"),
    ("NCIt", "C3750", "AlveolarSoftPartSarcoma"),
    ("SNOMED-CT", "403977003", "Angiosarcoma"),
    ("ATC", "L01XC18", "Pembrolizumab"),
    ("ATC", "L01FF13", "Toripalimab"),
    ("RxNorm", "3639", "Doxorubicin"),
    ("NCIt", "C162774", "QL1706"),
    ("LOINC", "26499-4", "AbsoluteNeutrophilCount"),
    ("SNOMED-CT", "116863004", "RedBloodCellTransfusion"),
])
def test_codes_find_their_terms(system, code, term):
    assert terminology().find_code(system, code) == QL[term]


EIGHT = ["UndifferentiatedSarcoma", "Leiomyosarcoma", "Myxofibrosarcoma", "AlveolarSoftPartSarcoma",
         "UndifferentiatedPleomorphicSarcoma", "Chordoma", "Angiosarcoma",
         "DedifferentiatedLiposarcoma"]
SUBTYPES = ["UndifferentiatedSpindleCellSarcoma", "UterineLeiomyosarcoma", "ConventionalChordoma",
            "DedifferentiatedChordoma", "CutaneousAngiosarcoma"]


@pytest.mark.parametrize("histology", EIGHT + SUBTYPES)
def test_protocol_histologies_and_their_subtypes(histology):
    term = terminology()
    assert term.is_a(QL[histology], QL.ProtocolHistology)
    assert not term.is_a(QL[histology], QL.NonProtocolHistology)


@pytest.mark.parametrize("histology", ["Sarcoma", "SoftTissueSarcoma", "Liposarcoma"])
def test_unspecific_parents_are_neither_protocol_nor_other(histology):
    """'Sarcoma NOS' cannot decide IC3.3 either way: it stays unknown."""
    term = terminology()
    assert not term.is_a(QL[histology], QL.ProtocolHistology)
    assert not term.is_a(QL[histology], QL.NonProtocolHistology)


@pytest.mark.parametrize(("name", "cls", "expected"), [
    ("pegylated liposomal doxorubicin", "Anthracycline", True),
    ("pirarubicin", "Anthracycline", True),
    ("amrubicin", "Anthracycline", True),
    ("mitoxantrone", "Anthracycline", False),
    ("pixantrone", "Anthracycline", False),
    ("nab-paclitaxel", "PaclitaxelBasedDrug", True),
    ("liposomal paclitaxel", "PaclitaxelBasedDrug", True),
    ("docetaxel", "PaclitaxelBasedDrug", False),
    ("QL1706", "PD1OrPDL1Inhibitor", True),
    ("ivonescimab", "PD1OrPDL1Inhibitor", True),
    ("nivolumab and relatlimab", "PD1OrPDL1Inhibitor", True),
    ("ipilimumab", "PD1OrPDL1Inhibitor", False),
    ("G-CSF", "HaematologicSupportProduct", True),
    ("rhTPO", "HaematologicSupportProduct", True),
    ("IL-11", "HaematologicSupportProduct", True),
    ("iron sucrose", "HaematologicSupportProduct", True),
    ("folic acid", "HaematologicSupportProduct", True),
    ("cryoprecipitate", "HaematologicSupportProduct", True),
    ("fresh frozen plasma", "HaematologicSupportProduct", True),
    ("gemcitabine", "HaematologicSupportProduct", False),
])
def test_drug_classes_as_criteria_md_reads_them(name, cls, expected):
    term = terminology()
    hit = term.find(name, QL.Drug)
    assert hit is not None, name
    assert term.is_a(hit, QL[cls]) is expected


PD1_PDL1 = ["toripalimab", "sintilimab", "camrelizumab", "tislelizumab", "penpulimab",
            "serplulimab", "zimberelimab", "envafolimab", "sugemalimab", "adebrelimab",
            "nivolumab", "pembrolizumab", "atezolizumab", "durvalumab", "avelumab", "cemiplimab",
            "dostarlimab", "cadonilimab"]
SARCOMA_AGENTS = ["doxorubicin", "epirubicin", "ifosfamide", "cyclophosphamide", "gemcitabine",
                  "docetaxel", "paclitaxel", "dacarbazine", "temozolomide", "trabectedin",
                  "eribulin", "pazopanib", "anlotinib", "apatinib", "regorafenib", "imatinib",
                  "sunitinib", "axitinib", "cabozantinib"]


@pytest.mark.parametrize("name", PD1_PDL1)
def test_every_pd1_or_pdl1_inhibitor_named_in_criteria_md(name):
    term = terminology()
    assert term.is_a(term.find(name, QL.Drug), QL.PD1OrPDL1Inhibitor)


@pytest.mark.parametrize("name", SARCOMA_AGENTS)
def test_every_sarcoma_agent_named_in_criteria_md_is_classified(name):
    term = terminology()
    assert term.is_a(term.find(name, QL.Drug), QL.SystemicAntiCancerDrug)


def test_a_word_shared_by_two_value_sets_resolves_by_context():
    term = terminology()
    assert term.find("negative", QL.DipstickGrade) == QL.UrineProteinNegative
    assert term.find("negative", QL.QualitativeResult) == QL.Negative


@pytest.mark.parametrize(("phrase", "site"), [
    ("liver segment VII", "Liver"), ("left lower lobe, lung", "Lung"),
    ("retroperitoneal lymph node", "LymphNode"), ("sacrum (S1-S3)", "Bone"),
])
def test_sites_are_found_inside_longer_phrases(phrase, site):
    assert terminology().find_in_phrase(phrase, QL.AnatomicalSite) == QL[site]


def test_drug_names_are_never_read_from_a_longer_phrase():
    """'nivolumab and relatlimab' is its own product, not nivolumab."""
    term = terminology()
    assert term.find("nivolumab and relatlimab", QL.Drug) == QL.NivolumabRelatlimab
    assert term.find("nivolumab biosimilar X", QL.Drug) is None


def test_every_coded_term_has_exactly_one_english_label():
    graph = closure_graph()
    coded = {s for prop in SYSTEM_OF for s in graph.subjects(prop)}
    for subject in coded:
        labels = list(graph.objects(subject, RDFS.label))
        assert len(labels) == 1 and labels[0].language == "en", subject


def test_every_fhir_coding_outside_the_shared_reference_cites_its_source():
    """Codes outside docs/reference/codes.csv are kept as ql:fhirCoding on terms; each term that
    has one cites where the code and its meaning were checked (dcterms:source), so no code is
    invented (the shared reference's own rule, for the codes it does not hold)."""
    from rdflib import Namespace

    dcterms = Namespace("http://purl.org/dc/terms/")
    graph = closure_graph()
    carriers = set(graph.subjects(QL.fhirCoding, None))
    assert carriers, "no ql:fhirCoding at all: the check would prove nothing"
    unsourced = sorted(str(s) for s in carriers if graph.value(s, dcterms.source) is None)
    assert unsourced == []
    tokens = [str(o) for o in graph.objects(None, QL.fhirCoding)]
    assert all("|" in token and token.split("|", 1)[1] for token in tokens)
