"""Drugs as records write them (issue 12, class 1): names, codes, displays, stems, regimens.

The reader of ``ql1706kg.protocol.drugs`` is the one lifting uses for every drug of a JSON
record or table and the FHIR reader uses for every medication, so these cases hold for both.
"""

from __future__ import annotations

import json
import time

import pytest

from ql1706kg.protocol.drugs import _shipped_codes, drug_index
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.resources import ontology_files
from ql1706kg.protocol.terminology import terminology

from .conftest import ROOT, explain, outcomes, record

ASPS = {"histology": "alveolar soft part sarcoma", "confirmed_at_this_institution": True,
        "extent": "metastatic", "resectable": False, "date": "2025-01-20"}
ANGIOSARCOMA = {**ASPS, "histology": "angiosarcoma"}


def known(text) -> list[str]:
    term = terminology()
    return [term.label(k) for k in drug_index(term).read(text).known]


def part_classes(text) -> tuple[set[str], set[str]]:
    """(implied, possible) class names of the one unidentified part of a reading."""
    (part,) = drug_index(terminology()).read(text).parts
    local = lambda iris: {str(i).rsplit("#", 1)[1] for i in iris}  # noqa: E731
    return local(part.implied), local(part.possible)


@pytest.mark.parametrize(("text", "drugs"), [
    ("10 ML doxorubicin hydrochloride 2 MG/ML Injection", ["doxorubicin"]),  # RxNorm SCD name
    ("pembrolizumab 25 MG/ML Injectable Solution [Keytruda]", ["pembrolizumab"]),  # SBD name
    ("Keytruda", ["pembrolizumab"]),
    ("NIVOLUMAB 240 MG IV", ["nivolumab"]),
    ("DOXOrubicin", ["doxorubicin"]),  # tall-man lettering
    ("doxorubicin HCl 50 mg", ["doxorubicin"]),
    ("AI (doxorubicin + ifosfamide)", ["doxorubicin", "ifosfamide"]),
    ("ADM + IFO", ["doxorubicin", "ifosfamide"]),  # abbreviations, written in capitals
    ("Gemcitabine/docetaxel chemotherapy", ["gemcitabine", "docetaxel"]),
    ("nab-paclitaxel 125 mg/m2 d1,8,15 q4w", ["nab-paclitaxel"]),
    ("pegylated liposomal doxorubicin 40 mg/m2", ["pegylated liposomal doxorubicin"]),
    ("paclitaxel poliglumex", ["paclitaxel poliglumex"]),  # the longer name wins
    ("Adcetris", ["brentuximab vedotin"]),  # NDC product display
    ("Myleran 2mg tablet, film coated", ["busulfan"]),
    ("Capecitabine 500mg oral tablet (Xeloda)", ["capecitabine"]),
    ("Product containing anastrozole (medicinal product)", ["anastrozole"]),  # SNOMED product
    ("Alemtuzumab 10mg/ml (Lemtrada)", ["alemtuzumab"]),
    ("imatinib mesylate 400 mg PO daily", ["imatinib"]),
    ("doxorubicin 60 mg/m2 in 50 ml 0.9% normal saline", ["doxorubicin"]),
    ("iparomlimab and tuvonralimab", ["QL1706"]),
    ("Opdualag", ["nivolumab and relatlimab"]),
])
def test_names_inside_displays_and_free_text(text, drugs):
    assert known(text) == drugs
    assert not drug_index(terminology()).read(text).parts


def test_an_abbreviation_counts_only_as_written():
    """"ADM" is doxorubicin in a regimen, but "adm" inside a phrase is no drug name."""
    assert known("EPI 90mg/m2") == ["epirubicin"]
    assert known("epi 90mg/m2") == []


@pytest.mark.parametrize(("text", "implied", "possible"), [
    ("zorbatinib 100 mg", {"TyrosineKinaseInhibitor"}, set()),  # -tinib: neither PD-1 nor ...
    ("novelimab", {"MonoclonalAntibody"}, {"PossiblePD1OrPDL1Inhibitor",
                                           "PossibleHaematologicSupportProduct"}),
    ("xyzrubicin", {"Anthracycline"}, set()),  # -rubicin: an anthracycline
    ("newtaxel", {"Taxane"}, {"PossiblePaclitaxelBasedDrug"}),
    ("xyzgrastim", {"ColonyStimulatingFactor"}, set()),  # a G-CSF: IC9.0
    ("atorvastatin", {"OtherMedicine"}, set()),
    ("paracetamol 500 mg", set(), {"PossiblePD1OrPDL1Inhibitor", "PossibleAnthracycline",
                                   "PossiblePaclitaxelBasedDrug",
                                   "PossibleHaematologicSupportProduct"}),
    ("chemotherapy", {"CytotoxicChemotherapy"}, {"PossibleAnthracycline",
                                                 "PossiblePaclitaxelBasedDrug"}),
    # negations, alternatives and placebo: nothing is taken from the text
    ("doxorubicin or placebo", set(), {"PossiblePD1OrPDL1Inhibitor", "PossibleAnthracycline",
                                       "PossiblePaclitaxelBasedDrug",
                                       "PossibleHaematologicSupportProduct"}),
])
def test_an_unidentified_drug_is_narrowed_by_its_stem_or_class(text, implied, possible):
    assert part_classes(text) == (implied, possible)


def test_a_regimen_with_an_unknown_drug_keeps_both():
    reading = drug_index(terminology()).read("doxorubicin + zalifrelimab")
    assert [terminology().label(k) for k in reading.known] == ["doxorubicin"]
    assert [p.stem for p in reading.parts] == ["-mab"]


@pytest.mark.parametrize(("coding", "drugs"), [
    (("RxNorm", "1790099", None), ["doxorubicin"]),  # a clinical drug code without display
    (("http://www.nlm.nih.gov/research/umls/rxnorm", "309311", None), ["cisplatin"]),
    (("SNOMED-CT", "108774000", None), ["anastrozole"]),
    (("http://snomed.info/sct", "108761006", None), ["capecitabine"]),
    (("ATC", "L01FF02", None), ["pembrolizumab"]),
    (("RxNorm", "3639", None), ["doxorubicin"]),
    # a code nobody knows is read by its display
    (("http://hl7.org/fhir/sid/ndc", "51144-050-01", "Adcetris"), ["brentuximab vedotin"]),
])
def test_codes_below_the_ingredient_level(coding, drugs):
    assert known(coding) == drugs


def test_an_atc_group_code_narrows_an_unknown_drug():
    reading = drug_index(terminology()).read(("ATC", "L01FF99", None))
    (part,) = reading.parts
    assert part.implied == (QL.PD1OrPDL1Inhibitor,)


def test_every_shipped_code_names_drugs_of_the_terminology():
    term = terminology()
    document = json.loads((ROOT / "ql1706kg" / "protocol" / "data" / "drug-codes.json")
                          .read_text("utf-8"))
    provenance = document["provenance"]
    assert {"sources", "built", "tool", "licence", "method"} <= set(provenance)
    assert all(s["licence"] == "CC0-1.0" and s["tarball_sha1"] for s in provenance["sources"])
    for system, codes in _shipped_codes().items():
        assert system in ("RxNorm", "SNOMED-CT")
        for code, names in codes.items():
            assert names and all(term.find(n, QL.Drug) is not None for n in names), code
            assert term.find_code(system, code) is None  # not a second home for a code


def test_every_stem_and_rule_names_classes_of_the_ontology():
    term = terminology()
    facts = term.drug_facts
    assert len(facts["stemSuffix"]) >= 25
    for _, cls in facts["stemImpliesClass"]:
        assert QL.Drug in term.types[cls]
    for _, decisive in facts["possibilityOf"]:
        assert decisive in (QL.PD1OrPDL1Inhibitor, QL.Anthracycline, QL.PaclitaxelBasedDrug,
                            QL.HaematologicSupportProduct)
    text = "".join(p.read_text("utf-8") for p in ontology_files())
    assert "WHO/EMP/RHT/TSN/2018.1" in text  # the stems' source is cited


def test_reading_is_cheap():
    index = drug_index(terminology())
    names = [f"drug{i} 10 mg + doxorubicin HCl {i} mg IV" for i in range(2000)]
    start = time.perf_counter()
    for name in names:
        index.read(name)
    assert time.perf_counter() - start < 2.0  # ~0.1 ms a reading here


# -- the JSON record path: the same reader in lifting -------------------------------------------

def therapy(*drugs, **extra) -> dict:
    return {"drugs": list(drugs), "start": "2025-03-01", "end": "2025-08-01", **extra}


@pytest.mark.parametrize(("drugs", "outcome"), [
    (["pembrolizumab 25 MG/ML Injectable Solution [Keytruda]"], "not_met"),
    (["NIVOLUMAB 240 MG IV"], "not_met"),
    ([{"system": "ATC", "code": "L01FF99"}], "not_met"),  # an ATC PD-1/PD-L1 group code
    (["novelimab 200 mg"], "unknown"),  # an unknown antibody may be a PD-1 inhibitor
    (["zorbatinib 100 mg"], "met"),  # an unknown TKI is not
    (["AI (doxorubicin + ifosfamide)"], "met"),
    (["doxorubicin + novelimab"], "unknown"),
    (["chemotherapy"], "met"),  # a cytotoxic drug is no PD-1 inhibitor
    (["paracetamol"], "unknown"),  # listed as a prior therapy: never assumed harmless
])
def test_ic4_for_asps_from_names(drugs, outcome):
    assert outcomes(record(diagnosis=ASPS, prior_therapies=[therapy(*drugs)]))["IC4"] == outcome


@pytest.mark.parametrize(("drugs", "outcome"), [
    (["AI (doxorubicin + ifosfamide)"], "met"),
    (["DOXOrubicin 75 mg/m2"], "met"),
    ([{"system": "RxNorm", "code": "1790099"}], "met"),
    (["xyzrubicin"], "met"),  # by its stem, an anthracycline
    (["gemcitabine + docetaxel"], "not_met"),
    (["gemcitabine + zorbatinib"], "not_met"),  # a TKI is no anthracycline
    # "chemotherapy" beside a named drug describes it: the regimen is gemcitabine alone
    (["gemcitabine + chemotherapy"], "not_met"),
])
def test_ic5_1_from_names(drugs, outcome):
    assert outcomes(record(prior_therapies=[therapy(*drugs)]))["IC5.1"] == outcome


def test_ic5_1_unknown_for_an_unspecified_chemotherapy():
    assert outcomes(record(prior_therapies=[therapy("chemotherapy")]))["IC5.1"] == "unknown"


def test_the_unidentified_drug_is_named_in_the_explanation():
    text = explain(record(diagnosis=ASPS, prior_therapies=[therapy("novelimab 200 mg")]), "IC4")
    assert "novelimab 200 mg" in text and "may be a PD-1 or PD-L1 inhibitor" in text


@pytest.mark.parametrize(("product", "outcome"), [
    ("filgrastim 300 mcg SC", "not_met"),
    ("xyzgrastim", "not_met"),  # a G-CSF by its stem
    ("zorbatinib", "met"),  # a TKI is no haematologic support product
    ("product-x-123", "unknown"),
])
def test_ic9_0_products_from_names(product, outcome):
    care = [{"product": product, "date": "2026-11-01"}]
    assert outcomes(record(supportive_care=care))["IC9.0"] == outcome
