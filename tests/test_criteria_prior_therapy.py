"""IC4 (chordoma; ASPS without PD-1/PD-L1 inhibitors), IC5 (anthracycline; angiosarcoma)."""

from __future__ import annotations

import pytest

from .conftest import BASE, explain, outcomes, record


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
