"""IC4 (chordoma; ASPS without PD-1/PD-L1 inhibitors), IC5 (anthracycline; angiosarcoma)."""

from __future__ import annotations

import pytest

from .conftest import BASE, explain, outcomes, record
from .reference_compare import FORMS, screened


def dx(histology: str) -> dict:
    return {**BASE["diagnosis"], "histology": histology}


def therapy(*drugs, start="2025-03-01", intolerance=False, **extra) -> dict:
    return {"drugs": list(drugs), "start": start, "end": "2025-08-01",
            "intolerance": intolerance, **extra}


@pytest.mark.parametrize(("histology", "therapies", "expected"), [
    ("chordoma", [], "met"),
    ("chordoma", None, "met"),                                       # no history needed
    ("chordoma", [therapy("pembrolizumab")], "met"),                 # whatever the history
    ("alveolar soft part sarcoma", [], "met"),                       # therapy-naive
    ("alveolar soft part sarcoma", [therapy("pazopanib")], "met"),
    ("alveolar soft part sarcoma", [therapy("toripalimab")], "not_met"),
    ("alveolar soft part sarcoma", [therapy("atezolizumab")], "not_met"),   # PD-L1
    ("alveolar soft part sarcoma", [therapy("QL1706")], "not_met"),         # bispecific
    ("alveolar soft part sarcoma", [therapy("cadonilimab")], "not_met"),
    ("alveolar soft part sarcoma", [therapy("ipilimumab")], "met"),         # CTLA-4 only
    ("alveolar soft part sarcoma", [therapy({"system": "ATC", "code": "L01XC18"})],
     "not_met"),                                                            # legacy ATC code
    ("alveolar soft part sarcoma", [therapy("drug-x-123")], "unknown"),     # unclassified
    ("alveolar soft part sarcoma", [therapy("drug-x-123"), therapy("sintilimab")],
     "not_met"),                                                            # known drug decides
    ("alveolar soft part sarcoma", None, "unknown"),                        # history not given
    ("leiomyosarcoma", [therapy("doxorubicin")], "not_applicable"),
])
def test_ic4(histology, therapies, expected):
    rec = record(diagnosis=dx(histology), prior_therapies=therapies)
    assert outcomes(rec)["IC4"] == expected


@pytest.mark.parametrize(("histology", "therapies", "expected"), [
    ("leiomyosarcoma", [therapy("doxorubicin", "ifosfamide")], "met"),
    ("leiomyosarcoma", [therapy("epirubicin")], "met"),
    ("leiomyosarcoma", [therapy("pegylated liposomal doxorubicin")], "met"),
    ("leiomyosarcoma", [therapy("pirarubicin")], "met"),
    ("undifferentiated pleomorphic sarcoma", [therapy({"system": "ATC", "code": "L01DB01"})],
     "met"),
    ("myxofibrosarcoma", [therapy("gemcitabine", "docetaxel")], "not_met"),
    ("dedifferentiated liposarcoma", [therapy("mitoxantrone")], "not_met"),  # anthracenedione
    ("undifferentiated sarcoma", [], "not_met"),                              # naive
    ("undifferentiated sarcoma", None, "unknown"),                            # not recorded
    ("leiomyosarcoma", [therapy("gemcitabine", "mystery-agent")], "unknown"),
    ("leiomyosarcoma", [therapy("mystery-agent"), therapy("doxorubicin")], "met"),
    ("chordoma", [], "not_applicable"),
    ("angiosarcoma", [therapy("paclitaxel")], "not_applicable"),
])
def test_ic5_1(histology, therapies, expected):
    rec = record(diagnosis=dx(histology), prior_therapies=therapies)
    assert outcomes(rec)["IC5.1"] == expected


def sums(*pairs):
    return [{"date": d, "sum_of_diameters_mm": s} for d, s in pairs]


@pytest.mark.parametrize(("therapies", "metastases", "measurements", "expected"), [
    # paclitaxel, then a 10 % rise within 3 months -> met (exactly 1.10 counts)
    ([therapy("paclitaxel")], [], sums(("2026-06-01", 50), ("2026-09-01", 55)), "met"),
    # 9.8 % rise -> no progression; nothing else -> not_met
    ([therapy("paclitaxel")], [], sums(("2026-06-01", 51), ("2026-09-01", 56)), "not_met"),
    # the rise spans 3 months and a day -> not within 3 months
    ([therapy("paclitaxel")], [], sums(("2026-06-01", 50), ("2026-09-02", 60)), "not_met"),
    ([therapy("nab-paclitaxel")], [], sums(("2026-06-01", 50), ("2026-08-01", 60)), "met"),
    ([therapy("doxorubicin")], [], sums(("2026-06-01", 50), ("2026-08-01", 60)), "met"),
    # docetaxel is not paclitaxel-based
    ([therapy("docetaxel")], [], sums(("2026-06-01", 50), ("2026-08-01", 60)), "not_met"),
    # metastasis found after the regimen started
    ([therapy("paclitaxel", start="2025-03-01")], [{"site": "lung", "date": "2025-06-01"}],
     [], "met"),
    # metastasis before the regimen only, no measurements -> cannot tell progression
    ([therapy("paclitaxel", start="2025-03-01")], [{"site": "lung", "date": "2025-01-01"}],
     [], "unknown"),
    # intolerance to that therapy
    ([therapy("paclitaxel", intolerance=True)], [], [], "met"),
    # intolerance not recorded -> unknown
    ([{"drugs": ["paclitaxel"], "start": "2025-03-01"}], [], sums(
        ("2026-06-01", 50), ("2026-08-01", 51)), "unknown"),
    ([], [], [], "not_met"),
    (None, [], [], "unknown"),
])
def test_ic5_2_angiosarcoma(therapies, metastases, measurements, expected):
    rec = record(diagnosis=dx("angiosarcoma"), prior_therapies=therapies,
                 metastases=metastases, tumour_measurements=measurements)
    assert outcomes(rec)["IC5.2"] == expected


def test_ic5_2_explains_the_progression_used():
    rec = record(diagnosis=dx("angiosarcoma"), prior_therapies=[therapy("paclitaxel")],
                 metastases=[], tumour_measurements=sums(("2026-06-01", 60),
                                                          ("2026-08-01", 68)))
    text = explain(rec, "IC5.2")
    assert "60 mm on 2026-06-01 → 68 mm on 2026-08-01" in text
    assert "paclitaxel" in text


def test_unclassified_drug_is_named_in_the_explanation():
    rec = record(diagnosis=dx("alveolar soft part sarcoma"),
                 prior_therapies=[therapy("drug-x-123")])
    assert "drug-x-123 (not in the terminology" in explain(rec, "IC4")


# -- applicability by histology (issue 24): the criterion names the histologies it applies to
# (ql:appliesToHistology); one that can be none of them makes it not applicable, one that may
# still be one leaves it undecided. JSON records and their FHIR twins alike.
AFTER = [{"site": "lung", "date": "2025-06-01"}]  # found after a regimen started 2025-03-01


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("histology", "therapies", "metastases", "expected"), [
    # a liposarcoma, whatever its sub-type, is never chordoma, ASPS or angiosarcoma
    ("liposarcoma", [therapy("toripalimab")], AFTER, ("not_applicable", "unknown",
                                                      "not_applicable")),
    ("liposarcoma", [therapy("doxorubicin")], AFTER, ("not_applicable", "met",
                                                      "not_applicable")),
    ("liposarcoma", [therapy("paclitaxel")], AFTER, ("not_applicable", "unknown",
                                                     "not_applicable")),  # was IC5.2 met
    ("liposarcoma", [], [], ("not_applicable", "unknown", "not_applicable")),
    ("myxoid liposarcoma", [], [], ("not_applicable",) * 3),   # a sub-type, not one of the 8
    ("dedifferentiated liposarcoma", [], [], ("not_applicable", "not_met", "not_applicable")),
    # not specified: may be any of the eight
    ("sarcoma", [], [], ("unknown", "unknown", "unknown")),
    ("sarcoma", [therapy("paclitaxel")], AFTER, ("unknown", "unknown", "met")),
    ("soft tissue sarcoma", [therapy("doxorubicin")], [], ("unknown", "met", "unknown")),
    ("bone sarcoma", [], [], ("unknown", "unknown", "unknown")),
    ("breast cancer", [], [], ("unknown", "unknown", "unknown")),
    ("spindly thing", [], [], ("unknown", "unknown", "unknown")),   # not a known histology
    # may turn out to be one the terminology does not list as a sub-type (ql:mayBe)
    ("myosarcoma", [], [], ("not_applicable", "unknown", "not_applicable")),
    ("lymphangiosarcoma", [], [], ("not_applicable", "not_applicable", "unknown")),
    ("lymphangiosarcoma", [therapy("paclitaxel")], AFTER, ("not_applicable", "not_applicable",
                                                           "met")),
    ("angiomyosarcoma", [], [], ("not_applicable", "unknown", "not_applicable")),
    ("synovial sarcoma", [therapy("toripalimab")], AFTER, ("not_applicable",) * 3),
])
def test_applicability_by_histology(form, histology, therapies, metastases, expected, tmp_path):
    rec = record(diagnosis=dx(histology), prior_therapies=therapies, metastases=metastases)
    patient = screened(rec, form, tmp_path)
    assert tuple(patient.outcome(c) for c in ("IC4", "IC5.1", "IC5.2")) == expected


def test_no_diagnosis_leaves_the_histology_criteria_undecided():
    found = outcomes(record(diagnosis=None, prior_therapies=[]))
    assert [found[c] for c in ("IC4", "IC5.1", "IC5.2")] == ["unknown"] * 3


# -- an unclassified drug decides nothing it cannot change (issue 24) ------------------------
NO_RISE = sums(("2026-06-01", 50), ("2026-08-01", 52))   # sums on record, no 10 % rise
RISE = sums(("2026-06-01", 50), ("2026-08-01", 55))
BEFORE = [{"site": "lung", "date": "2025-01-01"}]       # found before every regimen


# A FHIR MedicationStatement that is completed without a reason says the course was not stopped
# for intolerance: "intolerance not recorded" is a case of the JSON record only.
INTOLERANCE_NOT_RECORDED = ([{"drugs": ["zorblax"], "start": "2025-03-01"}], BEFORE, NO_RISE,
                            "unknown")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("therapies", "metastases", "measurements", "expected"), [
    # whatever it is, no regimen is followed by metastasis, progression or intolerance
    ([therapy("zorblax")], BEFORE, NO_RISE, "not_met"),                    # was unknown
    ([therapy("doxorubicin"), therapy("zorblax")], BEFORE, NO_RISE, "not_met"),
    # its class decides: were it paclitaxel or an anthracycline, IC5.2 would be met
    ([therapy("zorblax")], AFTER, NO_RISE, "unknown"),
    ([therapy("zorblax", intolerance=True)], BEFORE, NO_RISE, "unknown"),
    ([therapy("zorblax")], BEFORE, RISE, "unknown"),
    ([therapy("zorblax")], BEFORE, [], "unknown"),                        # progression?
    # a known regimen with no event does not exclude while the other may qualify
    ([therapy("doxorubicin", start="2025-08-01"), therapy("zorblax")], AFTER, NO_RISE,
     "unknown"),                                                          # was not_met
    # a known regimen decides
    ([therapy("doxorubicin"), therapy("zorblax")], AFTER, NO_RISE, "met"),
    ([therapy("paclitaxel", "zorblax")], AFTER, NO_RISE, "met"),
    # what its INN stem says it is cannot qualify
    ([therapy("novotinib")], AFTER, RISE, "not_met"),                     # a kinase inhibitor
    ([therapy("novelimab", intolerance=True)], AFTER, RISE, "not_met"),   # an antibody
])
def test_ic5_2_with_an_unclassified_drug(form, therapies, metastases, measurements, expected,
                                         tmp_path):
    rec = record(diagnosis=dx("angiosarcoma"), prior_therapies=therapies,
                 metastases=metastases, tumour_measurements=measurements)
    assert screened(rec, form, tmp_path).outcome("IC5.2") == expected


def test_ic5_2_an_unclassified_drug_whose_intolerance_is_not_recorded(tmp_path):
    therapies, metastases, measurements, expected = INTOLERANCE_NOT_RECORDED
    rec = record(diagnosis=dx("angiosarcoma"), prior_therapies=therapies,
                 metastases=metastases, tumour_measurements=measurements)
    assert screened(rec, "json", tmp_path).outcome("IC5.2") == expected


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("histology", "therapies", "criterion", "expected"), [
    ("alveolar soft part sarcoma", [therapy("novotinib")], "IC4", "met"),     # not a PD-1
    ("alveolar soft part sarcoma", [therapy("novelimab")], "IC4", "unknown"),  # may be one
    ("alveolar soft part sarcoma", [therapy("zorblax"), therapy("pembrolizumab")], "IC4",
     "not_met"),
    ("chordoma", [therapy("zorblax")], "IC4", "met"),                           # whatever
    ("leiomyosarcoma", [therapy("novotinib")], "IC5.1", "not_met"),             # not one
    ("leiomyosarcoma", [therapy("novelimab")], "IC5.1", "not_met"),
    ("leiomyosarcoma", [therapy("zorblax")], "IC5.1", "unknown"),
    ("leiomyosarcoma", [therapy("zorblax", "epirubicin")], "IC5.1", "met"),
])
def test_ic4_and_ic5_1_with_an_unclassified_drug(form, histology, therapies, criterion,
                                                 expected, tmp_path):
    rec = record(diagnosis=dx(histology), prior_therapies=therapies)
    assert screened(rec, form, tmp_path).outcome(criterion) == expected
