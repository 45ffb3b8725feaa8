"""What would change the verdict: change_needed, valid_until, eligible_from (issue 14).

valid_until is checked by screening again: on valid_until the verdict is unchanged, the day
after it is not. eligible_from is checked the same way: labs drawn on day 14 after a G-CSF
dose leave IC9.0 not met, labs drawn on eligible_from (day 15) meet it.
"""

from __future__ import annotations

import copy
import json
import pickle
from datetime import date, timedelta
from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib.namespace import XSD

from ql1706kg import screen
from ql1706kg.outputs.rdf_stream import render as render_rdf
from ql1706kg.outputs.render import render_json, render_text, screening_run, verdict_graph
from ql1706kg.protocol.namespaces import QL

from .conftest import AS_OF, BASE, record, with_observation
from .reference_compare import FORMS, screened

LABS = "2026-11-12"  # the base record's laboratory date; its LVEF is of 2026-11-05


def one(rec: dict, as_of: str = AS_OF, window_days: int = 28):
    result = screen([rec], as_of=as_of, window_days=window_days)
    assert not result.errors, result.errors
    (patient,) = result.patients
    return patient


def day(text: str, plus: int = 0) -> date:
    return date.fromisoformat(text) + timedelta(days=plus)


def criterion(patient, cid: str):
    return next(c for c in patient.criteria if c.id == cid)


# -- valid_until -------------------------------------------------------------------------
@pytest.mark.parametrize(("window", "expected"), [
    (28, "2026-12-03"),  # the LVEF of 2026-11-05 is the first result to leave
    (20, "2026-11-25"),
    (15, "2026-11-20"),  # its last day in the window is the as-of date itself
])
def test_valid_until_of_an_eligible_verdict_is_the_last_day_of_its_oldest_result(window,
                                                                                  expected):
    patient = one(BASE, window_days=window)
    assert patient.verdict == "eligible"
    assert patient.valid_until == day(expected)
    assert one(BASE, expected, window).verdict == "eligible"
    later = one(BASE, str(day(expected, 1)), window)
    assert later.verdict == "incomplete"
    assert criterion(later, "IC9.6-LVEF").outcome == "unknown"


def test_valid_until_follows_the_result_the_verdict_rests_on():
    rec = with_observation(BASE, "LVEF", 60, "%", date="2026-11-18")
    patient = one(rec)
    # the labs of 2026-11-12 now leave first
    assert patient.valid_until == day(LABS, 28)
    assert one(rec, "2026-12-10").verdict == "eligible"
    assert one(rec, "2026-12-11").verdict == "incomplete"


def test_valid_until_of_an_ineligible_verdict_on_a_lab_value():
    rec = with_observation(BASE, "ANC", 1.2, "10*9/L")
    patient = one(rec)
    assert patient.verdict == "ineligible" and patient.valid_until == day(LABS, 28)
    assert one(rec, "2026-12-10").verdict == "ineligible"
    after = one(rec, "2026-12-11")
    assert after.verdict == "incomplete" and after.outcome("IC9.1-ANC") == "unknown"


def test_an_ineligible_verdict_on_undated_data_has_no_valid_until():
    rec = with_observation(record(diagnosis={**BASE["diagnosis"], "histology":
                                             "synovial sarcoma"}), "ANC", 1.2, "10*9/L")
    patient = one(rec)
    assert patient.verdict == "ineligible" and patient.valid_until is None


# Issue 24: a verdict not met on IC10 lasts as long as what makes IC10 not met: a lactation
# status is not a screening result and never leaves the window; a positive pregnancy test does.
FEMALE = {"childbearing_potential": True, "contraception_agreed": True}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("lactating", "test", "expected"), [
    (True, "negative", None),                    # lactating: the test leaving changes nothing
    (True, "positive", None),
    (True, None, None),
    (False, "positive", "2026-12-15"),           # the test of 2026-11-17, + 28 days
])
def test_valid_until_of_a_verdict_not_met_on_ic10(form, lactating, test, expected, tmp_path):
    rec = record(sex="female", reproductive={**FEMALE, "lactating": lactating})
    if test:
        rec = with_observation(rec, "pregnancy test", test, date="2026-11-17")
    patient = screened(rec, form, tmp_path)
    assert patient.outcome("IC10") == "not_met" and patient.verdict == "ineligible"
    assert patient.valid_until == (day(expected) if expected else None)
    last = expected or "2026-12-31"  # long after every result has left the window
    assert screened(rec, form, tmp_path, as_of=last).verdict == "ineligible"
    if expected:
        assert screened(rec, form, tmp_path, as_of=str(day(expected, 1))).verdict != \
            "ineligible"


def test_an_incomplete_verdict_has_no_valid_until():
    rec = with_observation(BASE, "LVEF", None)
    patient = one(rec)
    assert patient.verdict == "incomplete" and patient.valid_until is None


def test_either_or_criterion_holds_while_one_alternative_holds():
    # creatinine 1.55 ×ULN (over 1.5) but a clearance ≥50 by Cockcroft-Gault: the weight of
    # 2026-11-16 and the creatinine of 2026-11-12 both carry it; the LVEF is made late
    rec = with_observation(BASE, "creatinine", 170, "umol/L", uln=110)
    rec = with_observation(rec, "weight", 100, "kg", date="2026-11-16")
    rec = with_observation(rec, "LVEF", 60, "%", date="2026-11-18")
    patient = one(rec)
    assert patient.outcome("IC9.3-CR") == "met"
    assert patient.valid_until == day(LABS, 28)
    assert one(rec, "2026-12-10").verdict == "eligible"
    assert one(rec, "2026-12-11").outcome("IC9.3-CR") == "unknown"


# -- eligible_from -----------------------------------------------------------------------
def gcsf(days_before_labs: int, labs: str = LABS) -> dict:
    rec = copy.deepcopy(BASE)
    given = day(labs, -days_before_labs)
    rec["supportive_care"] = [{"product": "G-CSF", "date": str(given)}]
    return rec


def labs_on(rec: dict, when: str) -> dict:
    rec = copy.deepcopy(rec)
    for obs in rec["observations"]:
        if obs["date"] == LABS:
            obs["date"] = when
    return rec


@pytest.mark.parametrize(("days", "outcome"), [
    (0, "not_met"), (1, "not_met"), (13, "not_met"), (14, "not_met"), (15, "met"), (16, "met"),
])
def test_ic9_0_waiting_period_boundary(days, outcome):
    patient = one(gcsf(days))
    assert patient.outcome("IC9.0") == outcome
    if outcome == "not_met":
        given = day(LABS, -days)
        assert patient.eligible_from == given + timedelta(days=15)
        assert "needs more than 14 days" in criterion(patient, "IC9.0").change_needed
    else:
        assert patient.eligible_from is None


def test_eligible_from_is_day_15_after_a_gcsf_dose():
    rec = gcsf(14)  # G-CSF on 2026-10-29, labs drawn on day 14
    patient = one(rec)
    assert patient.verdict == "ineligible"
    assert patient.eligible_from == day("2026-10-29", 15) == day("2026-11-13")
    # labs drawn on day 14 after the dose: still not met; on eligible_from: met
    assert one(labs_on(rec, "2026-11-12")).outcome("IC9.0") == "not_met"
    again = one(labs_on(rec, str(patient.eligible_from)))
    assert again.outcome("IC9.0") == "met" and again.verdict == "eligible"
    assert again.eligible_from is None


def test_no_eligible_from_when_the_wait_is_not_the_only_obstacle():
    low = with_observation(gcsf(10), "ANC", 1.2, "10*9/L")
    assert one(low).eligible_from is None
    missing = with_observation(gcsf(10), "LVEF", None)
    assert one(missing).eligible_from is None


# -- change_needed ------------------------------------------------------------------------
@pytest.mark.parametrize(("test", "value", "unit", "uln", "cid", "expected"), [
    # a lower limit
    ("ANC", 1.2, "10*9/L", None, "IC9.1-ANC",
     "absolute neutrophil count 1.2 ×10⁹/L on 2026-11-12; needs ≥1.5 ×10⁹/L "
     "(a rise of at least 0.3 ×10⁹/L)"),
    # converted first: the limit is in the test's canonical unit
    ("haemoglobin", 8.5, "g/dL", None, "IC9.1-HB",
     "haemoglobin 85 g/L on 2026-11-12; needs ≥90 g/L (a rise of at least 5 g/L)"),
    # an upper limit
    ("INR", 1.8, "{INR}", None, "IC9.4-INR",
     "international normalised ratio 1.8 on 2026-11-12; needs ≤1.5 (a fall of at least 0.3)"),
    # a limit relative to the ULN, also in the result's unit
    ("AST", 130, "U/L", 40, "IC9.2-AST",
     "aspartate aminotransferase 130 U/L on 2026-11-12 = 3.25×ULN; needs ≤2.5×ULN "
     "(≤100 U/L, a fall of at least 30 U/L) (the limit because no liver metastasis on record)"),
])
def test_change_needed_lines(test, value, unit, uln, cid, expected):
    patient = one(with_observation(BASE, test, value, unit, uln))
    result = criterion(patient, cid)
    assert result.outcome == "not_met"
    assert result.change_needed == expected


def test_change_needed_says_which_conditional_limit_applies():
    rec = record(metastases=[{"site": "liver", "date": "2025-02-01"}])
    patient = one(with_observation(rec, "AST", 250, "U/L", uln=40))
    line = criterion(patient, "IC9.2-AST").change_needed
    assert line == ("aspartate aminotransferase 250 U/L on 2026-11-12 = 6.25×ULN; needs ≤5×ULN "
                    "(≤200 U/L, a fall of at least 50 U/L) (the limit because liver metastasis "
                    "on record)")
    # at 4.5 ×ULN the 5 ×ULN limit holds: nothing to change
    met = one(with_observation(rec, "AST", 180, "U/L", uln=40))
    assert met.outcome("IC9.2-AST") == "met" and criterion(met, "IC9.2-AST").change_needed is None


def test_change_needed_of_a_strict_limit():
    rec = record(conditions=["Gilbert syndrome"])
    patient = one(with_observation(rec, "total bilirubin", 63, "umol/L", uln=21))
    assert criterion(patient, "IC9.2-TBIL").change_needed == (
        "total bilirubin 63 µmol/L on 2026-11-12 = 3×ULN; needs <3×ULN (<63 µmol/L, a fall of "
        "more than 0 µmol/L) (the limit because Gilbert syndrome on record)")


def test_unknown_with_a_value_names_the_value_and_the_missing_alternative():
    rec = with_observation(BASE, "urine protein dipstick", "2+")
    result = criterion(one(rec), "IC9.5-UPRO")
    assert result.outcome == "unknown" and result.to_collect
    assert result.change_needed.startswith("urine protein dipstick: urine protein 2+ on "
                                           "2026-11-12; needs ≤urine protein 1+; or 24-hour")
    assert "(not on record)" in result.change_needed


# Issue 24: an unknown criterion with a value on record says what would decide it.
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("creatinine", "expected"), [
    # above 1.5 × ULN, no weight for Cockcroft-Gault: a creatinine at the limit, or a weight
    ((200, "umol/L", 110), ["creatinine 200 µmol/L on 2026-11-12 = 1.818×ULN; needs ≤1.5×ULN "
                            "(≤165 µmol/L, a fall of at least 35 µmol/L)",
                            "creatinine clearance ≥50", "(not on record)", "body weight"]),
    # no upper limit of normal: the ratio cannot be taken
    ((200, "umol/L", None), ["creatinine 200 µmol/L on 2026-11-12 (its ratio to ULN is not "
                             "known); needs ≤1.5×ULN", "body weight",
                             "upper limit of normal"]),
])
def test_change_needed_of_an_unknown_ic9_3_with_a_value(form, creatinine, expected, tmp_path):
    value, unit, uln = creatinine
    rec = with_observation(with_observation(BASE, "creatinine", value, unit, uln=uln),
                           "weight", None)
    crit = criterion(screened(rec, form, tmp_path), "IC9.3-CR")
    assert crit.outcome == "unknown"
    assert all(part in crit.change_needed for part in expected), crit.change_needed
    assert crit.change_needed.endswith(f"to decide, collect {crit.to_collect}")


def test_an_unknown_criterion_without_a_value_says_what_to_collect_and_met_ones_nothing():
    patient = one(with_observation(BASE, "ANC", None))
    anc = criterion(patient, "IC9.1-ANC")
    assert anc.outcome == "unknown"
    assert anc.change_needed == f"to decide, collect {anc.to_collect}"
    assert all(c.change_needed is None for c in patient.criteria if c.outcome == "met")


# -- every output carries them ---------------------------------------------------------------
def _screened():
    rec = with_observation(gcsf(10), "ANC", 1.2, "10*9/L")
    eligible = copy.deepcopy(BASE)
    waiting = gcsf(14)
    waiting["id"] = "WAIT-1"
    rec["id"] = "LOW-1"
    return screen([eligible, rec, waiting], as_of=AS_OF)


def test_json_carries_the_new_fields_and_keeps_the_old():
    document = json.loads(render_json(_screened()))
    base, low, waiting = document["patients"]
    assert list(base)[:5] == ["id", "source", "verdict", "counts", "criteria"]
    assert base["valid_until"] == "2026-12-03" and base["eligible_from"] is None
    assert low["eligible_from"] is None and low["valid_until"] == "2026-12-10"
    assert waiting["eligible_from"] == "2026-11-13"
    anc = next(c for c in low["criteria"] if c["id"] == "IC9.1-ANC")
    assert list(anc)[:8] == ["id", "outcome", "explanation", "text", "evidence", "limits",
                             "to_collect", "violated_shapes"]
    assert anc["change_needed"].startswith("absolute neutrophil count 1.2")


def test_text_carries_the_what_if_lines():
    text = render_text(_screened())
    assert "What would change the verdict:" in text
    assert "IC9.1-ANC: absolute neutrophil count 1.2" in text
    assert "Valid until: 2026-12-03" in text
    assert "new screening\n      laboratory tests may be drawn from 2026-11-13" in text or (
        "may be drawn from 2026-11-13" in " ".join(text.split()))


def _what_if_triples(graph: Graph) -> set:
    return {(str(s), str(p), str(o)) for p in (QL.validUntil, QL.eligibleFrom, QL.changeNeeded)
            for s, o in graph.subject_objects(p)}


@pytest.mark.parametrize("fmt", ["turtle", "nquads", "jsonld"])
def test_rdf_carries_them_in_every_format_as_rdflib_does(fmt):
    screening = _screened()
    expected = verdict_graph(screening, include_patients=False)
    found = _what_if_triples(expected)
    assert len([t for t in found if t[1] == str(QL.validUntil)]) == 3
    assert len([t for t in found if t[1] == str(QL.eligibleFrom)]) == 1
    assert any(t[2].startswith("absolute neutrophil count 1.2") for t in found)
    assert Literal("2026-11-13", datatype=XSD.date) in set(expected.objects(None,
                                                                            QL.eligibleFrom))
    text = render_rdf(screening.patients, screening_run(screening), fmt)
    graph = Graph()
    if fmt == "nquads":
        from rdflib import Dataset

        dataset = Dataset()
        dataset.parse(data=text, format="nquads")
        for s, p, o, _g in dataset.quads((None, None, None, None)):
            graph.add((s, p, o))
    else:
        graph.parse(data=text, format="json-ld" if fmt == "jsonld" else fmt)
    assert _what_if_triples(graph) == found


def test_results_keep_them_across_processes():
    patient = _screened().patients[2]
    again = pickle.loads(pickle.dumps(patient))
    assert again.eligible_from == patient.eligible_from == date(2026, 11, 13)
    assert again.valid_until == patient.valid_until
    assert criterion(again, "IC9.0").change_needed == criterion(patient, "IC9.0").change_needed


# -- a criterion's own window (a fact selection's ql:withinDaysBefore) ------------------------
SARC028 = Path(__file__).resolve().parents[1] / "examples" / "protocols" / "sarc028"
S28_AS_OF = "2027-03-15"
DAY1 = date(2027, 3, 16)  # the planned first dose of the SARC028 example records


def s28_record(name: str, kind: str, when: date) -> dict:
    """A SARC028 example record with the date of its fact of ``kind`` set to ``when``."""
    rec = json.loads((SARC028 / "records" / name).read_text())
    (fact,) = [f for f in rec["facts"] if f["kind"] == kind]
    fact["date"] = when.isoformat()
    return rec


def s28(rec: dict, as_of: str = S28_AS_OF, folder: Path = SARC028):
    from ql1706kg.protocol.resources import use_protocol

    use_protocol(folder)
    return one(rec, as_of=as_of)


@pytest.mark.parametrize(("days_before", "verdict", "until"), [
    (15, "incomplete", None),  # a day before the 14-day window opens: IN7 unknown
    (14, "eligible", DAY1),  # the window's first day: read until Day 1 itself
    (13, "eligible", DAY1 + timedelta(days=1)),
])
def test_valid_until_ends_with_a_selections_own_window(days_before, verdict, until):
    """IN7 reads the organ-function judgement within 14 days before the planned Day 1: an
    eligible verdict is valid no later than that judgement's date + 14 days (before: the
    screening window's 2027-04-07), whatever the record's other results."""
    rec = s28_record("eligible-lms-adult-three-metastatic-lines.json",
                     "organ-function-adequate", DAY1 - timedelta(days=days_before))
    patient = s28(rec)
    assert (patient.verdict, patient.valid_until) == (verdict, until)


@pytest.mark.parametrize(("days_before", "verdict", "until"), [
    (31, "eligible", date(2027, 3, 22)),  # outside the window: not read (IN7's ends)
    (30, "ineligible", DAY1),
    (29, "ineligible", DAY1 + timedelta(days=1)),
])
def test_not_met_on_a_windowed_fact_ends_with_its_window(days_before, verdict, until):
    """EX16 (a live vaccine within 30 days before Day 1) is not met while the vaccine lies in
    that window for a Day 1 on or after the as-of date: until its date + 30 days."""
    rec = s28_record("ineligible-live-vaccine-20-days-before-first-dose.json",
                     "live-vaccine", DAY1 - timedelta(days=days_before))
    patient = s28(rec)
    assert (patient.verdict, patient.valid_until) == (verdict, until)


@pytest.fixture
def moving_window(monkeypatch) -> Path:
    """SARC028 with IN7's window anchored on the assessment date (it moves with as-of): the
    loaded protocol's selection changed in place, not a second protocol loaded (6 s)."""
    import dataclasses

    from ql1706kg.protocol.resources import use_protocol
    from ql1706kg.protocol.terminology import terminology

    use_protocol(SARC028)
    term = terminology()
    moved = tuple(dataclasses.replace(s, anchor=QL.AssessmentAnchor)
                  if s.max_days == 14 and s.anchor is not None else s for s in term.selections)
    assert moved != term.selections
    monkeypatch.setattr(term, "selections", moved)
    return SARC028


@pytest.mark.parametrize(("plus", "verdict"), [(-1, "eligible"), (0, "eligible"),
                                               (1, "incomplete")])
def test_valid_until_of_a_moving_window_is_checked_by_screening_again(moving_window, plus,
                                                                      verdict):
    """Anchored on the assessment date, the judgement of 2027-03-08 is read until
    2027-03-22: screened again on that day the verdict holds, the day after it does not."""
    rec = json.loads((SARC028 / "records" /
                      "eligible-lms-adult-three-metastatic-lines.json").read_text())
    first = s28(rec, folder=moving_window)
    assert (first.verdict, first.valid_until) == ("eligible", date(2027, 3, 22))
    again = s28(rec, as_of=str(first.valid_until + timedelta(days=plus)), folder=moving_window)
    assert again.verdict == verdict


@pytest.mark.parametrize(("icf", "outcome"), [(None, "unknown"), ("2027-03-10", "met"),
                                              ("2027-03-25", "unknown")])
def test_a_window_on_the_icf_decides_nothing_without_the_icf(monkeypatch, icf, outcome):
    """IN7's 14 days counted back from the ICF instead: with no ICF date the judgement of
    2027-03-08 is undecided (the ICF could fall on any day), never read as in the window of
    a guessed date; with one it is decided (in the window of 2027-03-10, not of 2027-03-25)."""
    import dataclasses

    from ql1706kg.protocol.resources import use_protocol
    from ql1706kg.protocol.terminology import terminology

    use_protocol(SARC028)
    term = terminology()
    moved = tuple(dataclasses.replace(s, anchor=QL.ConsentAnchor)
                  if s.max_days == 14 and s.anchor is not None else s for s in term.selections)
    monkeypatch.setattr(term, "selections", moved)
    rec = json.loads((SARC028 / "records" /
                      "eligible-lms-adult-three-metastatic-lines.json").read_text())
    rec["consent"] = {"able_to_comply": True, **({"icf_signed": icf} if icf else {})}
    assert criterion(s28(rec), "IN7").outcome == outcome
