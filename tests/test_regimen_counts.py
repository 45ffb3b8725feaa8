"""Counts of prior regimens by setting (protocol/regimen_counts.py, pipeline/derive/regimens.py):
the declaration read from an ontology, the check's refusals, and the derived count, a point
when every regimen is decided and an interval when one is not (so a limit is never met on data
the record does not hold). The declared count is built here, as a protocol folder would."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from ql1706kg.pipeline.assessment import Assessment
from ql1706kg.pipeline.derive.regimens import RegimenDeriver
from ql1706kg.pipeline.graph import PatientGraph
from ql1706kg.pipeline.uncertain import interval_of
from ql1706kg.protocol.namespaces import PROV, QL, RDF, XSD
from ql1706kg.protocol.regimen_counts import (
    RegimenCount,
    build_regimen_counts,
    count_problems,
)
from ql1706kg.protocol.terminology import terminology

EX = "https://example.org/p#"
COUNT = URIRef(EX + "advancedRegimens")
P = URIRef("https://example.org/patient/1")
CYTO, UNKNOWN, SUPPORT = (URIRef(EX + n) for n in ("cyto", "unrecognised", "antiemetic"))
METASTATIC = RegimenCount(COUNT, (QL.SystemicAntiCancerDrug,), frozenset({QL.MetastaticSetting}),
                          QL.SameStartDay, QL.hasMetastasis, QL.MetastaticSetting)
ADJUVANT = RegimenCount(COUNT, (QL.SystemicAntiCancerDrug,), frozenset({QL.AdjuvantSetting}),
                        QL.SameStartDay, QL.hasMetastasis, QL.MetastaticSetting)
DECLARED = f"""
@prefix ql: <{QL}> . @prefix ex: <{EX}> .
ex:advancedRegimens a ql:RegimenCount ; ql:countsDrugClass ql:SystemicAntiCancerDrug ;
    ql:countsSetting ql:MetastaticSetting ; ql:regimenGrouping ql:SameStartDay ;
    ql:settingBeginsWith ql:hasMetastasis ; ql:dateMarksSetting ql:MetastaticSetting .
"""


def _day(text: str) -> Literal:
    return Literal(text, datatype=XSD.gYearMonth if len(text) == 7 else XSD.date)


def _count(therapies, metastases=("2024-01-10",), count=METASTATIC, recorded=True):
    """The derived count of a patient with these therapies: (start, drug, setting) each."""
    g = PatientGraph()
    if recorded:
        g.add((P, QL.priorTherapyRecorded, Literal(True)))
    g.add((CYTO, RDF.type, QL.SystemicAntiCancerDrug))
    g.add((UNKNOWN, RDF.type, QL.UnrecognisedDrug))
    g.add((SUPPORT, RDF.type, QL.Drug))
    for i, met in enumerate(metastases):
        node = URIRef(f"{P}/metastasis/{i}")
        g.add((P, QL.hasMetastasis, node))
        if met:
            g.add((node, QL.effectiveDate, _day(met)))
    for i, (start, drug, setting) in enumerate(therapies):
        node = URIRef(f"{P}/therapy/{i}")
        g.add((P, QL.hadPriorTherapy, node))
        g.add((node, RDFS.label, Literal(f"therapy {i}")))
        g.add((node, QL.includesDrug, drug))
        if start:
            g.add((node, QL.startDate, _day(start)))
        if setting:
            g.add((node, QL.therapySetting, setting))
    term = SimpleNamespace(regimen_counts=(count,))
    RegimenDeriver(g, P, Assessment(date(2026, 6, 1)), term).derive_regimen_counts()  # type: ignore[arg-type]
    node = g.value(P, COUNT)
    if node is None:
        return None, g
    value = interval_of(g.value(node, QL.countValue))
    assert value is not None
    return (int(value.lo), int(value.hi)), g


AFTER, BEFORE = "2024-03-01", "2023-06-01"


@pytest.mark.parametrize("therapies, metastases, count, expected", [
    ([], ("2024-01-10",), METASTATIC, (0, 0)),  # history recorded empty: none
    ([(AFTER, CYTO, None)], ("2024-01-10",), METASTATIC, (1, 1)),
    ([("2024-01-10", CYTO, None)], ("2024-01-10",), METASTATIC, (1, 1)),  # on the day: after
    ([("2024-01-09", CYTO, None)], ("2024-01-10",), METASTATIC, (0, 0)),  # a day before
    ([(AFTER, CYTO, None), (AFTER, CYTO, None)], ("2024-01-10",), METASTATIC, (1, 1)),
    ([(AFTER, CYTO, None), ("2024-03-02", CYTO, None)], ("2024-01-10",), METASTATIC, (2, 2)),
    ([(AFTER, SUPPORT, None)], ("2024-01-10",), METASTATIC, (0, 0)),  # not a counted class
    ([(AFTER, UNKNOWN, None)], ("2024-01-10",), METASTATIC, (0, 1)),  # unrecognised: may
    ([(BEFORE, CYTO, QL.MetastaticSetting)], ("2024-01-10",), METASTATIC, (0, 0)),  # date wins
    ([(BEFORE, CYTO, None)], (), METASTATIC, (0, 1)),  # no metastasis, no setting: may
    ([(BEFORE, CYTO, QL.MetastaticSetting)], (), METASTATIC, (1, 1)),  # recorded decides
    ([(BEFORE, CYTO, QL.AdjuvantSetting)], (), METASTATIC, (0, 0)),
    ([(None, CYTO, None)], ("2024-01-10",), METASTATIC, (0, 1)),  # undated: may
    ([(AFTER, CYTO, None)], ("",), METASTATIC, (0, 1)),  # undated metastasis: may
    ([("2024-01", CYTO, None)], ("2024-01-10",), METASTATIC, (0, 1)),  # month straddles
    ([(AFTER, CYTO, None), ("2024-03", CYTO, None)], ("2024-01-10",), METASTATIC, (1, 2)),
    ([(BEFORE, CYTO, QL.AdjuvantSetting)], ("2024-01-10",), ADJUVANT, (1, 1)),
    ([(BEFORE, CYTO, None)], ("2024-01-10",), ADJUVANT, (0, 1)),  # before: adjuvant or not
    ([(AFTER, CYTO, QL.AdjuvantSetting)], ("2024-01-10",), ADJUVANT, (0, 0)),  # date wins
])
def test_count(therapies, metastases, count, expected):
    assert _count(therapies, metastases, count)[0] == expected


def test_no_history_no_value():
    assert _count([(AFTER, CYTO, None)], recorded=False)[0] is None


def test_an_undecided_regimen_is_named_in_words():
    (lo, hi), g = _count([(AFTER, CYTO, None), (None, CYTO, None)])
    node = g.value(P, COUNT)
    assert (lo, hi) == (1, 2)
    assert (node, PROV.wasDerivedFrom, URIRef(f"{P}/therapy/1")) in g
    notes = " ".join(str(n) for n in g.objects(node, QL.uncertaintyNote))
    assert "therapy 1" in notes and "start date and its setting are not recorded" in notes


def test_declaration_read_from_an_ontology_and_settings_from_the_bundled_one():
    counts, _ = build_regimen_counts(Graph().parse(data=DECLARED, format="turtle"))
    assert counts == (METASTATIC,)
    settings = terminology().settings
    assert settings.by_key["adjuvant"] == QL.AdjuvantSetting
    assert settings.by_code[("http://snomed.info/sct", "363676003")] == QL.MetastaticSetting


@pytest.mark.parametrize("extra, words", [
    ("ex:c2 a ql:RegimenCount ; ql:countsDrugClass ql:Drug ; ql:countsSetting "
     "ql:MetastaticSetting ; ql:regimenGrouping ex:byCarePlan .", "does not implement"),
    ("ex:c3 a ql:RegimenCount ; ql:countsDrugClass ql:Drug ; ql:countsSetting "
     "ql:MetastaticSetting ; ql:settingBeginsWith ql:hasMetastasis .", "without"),
    ("ex:other a ql:RegimenCount ; ql:countsSetting ql:MetastaticSetting .", "no drug class"),
])
def test_what_the_engine_cannot_count_is_refused(extra, words):
    g = Graph().parse(data=DECLARED + f"@prefix ex: <{EX}> . @prefix ql: <{QL}> .\n" + extra,
                      format="turtle")
    problems = count_problems(build_regimen_counts(g)[0])
    assert any(words in p for p in problems), problems


def test_the_protocol_check_refuses_a_count_it_cannot_compute():
    from ql1706kg.protocol.check import ProtocolRefused, _regimen_counts

    g = Graph().parse(data=DECLARED + f"@prefix ex: <{EX}> . @prefix ql: <{QL}> .\n"
                      "ex:c2 a ql:RegimenCount ; ql:countsDrugClass ql:Drug ; ql:countsSetting "
                      "ql:MetastaticSetting ; ql:regimenGrouping ex:byCarePlan .",
                      format="turtle")
    with pytest.raises(ProtocolRefused, match=r"counts\.ttl: the regimen count c2"):
        _regimen_counts(g, {Path("ontology/counts.ttl"): g})
    _regimen_counts(Graph().parse(data=DECLARED, format="turtle"), {})  # accepted
