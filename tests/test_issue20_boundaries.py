"""Boundary tables for issue 20's intervals and bounds in the JSON record: at each limit and one
unit either side, a bound decides only when every value it allows does; a partial date decides
only when every day it allows does. Limits are read from the shapes (pipeline/limits.py), never
written here; the rows are built from them.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ql1706kg.pipeline.limits import protocol_limits
from ql1706kg.pipeline.validate import shapes
from ql1706kg.protocol.namespaces import QL, SH
from ql1706kg.protocol.terminology import terminology

from .conftest import BASE, explain, outcomes, record

LAB_DAY = "2026-11-12"  # the base record's screening labs
ULN = Decimal(40)


def _single_limits():
    """(criterion, test label, unit, comparison) for each limit shape that one result decides
    alone in the base record (conditional limits that apply only with a condition left out)."""
    term, index = terminology(), shapes()
    by_property = {i.screening_property: i for i in term.tests.values() if i.screening_property}
    rows = []
    for iri, comparisons in protocol_limits(index).comparisons.items():
        info = index.info[iri]
        if len(comparisons) != 1 or info.applies_when is not None:
            continue
        (comparison,) = comparisons
        test = by_property.get(comparison.path[0])
        if test is None or comparison.path[-1] == QL.ordinalRank:
            continue
        rows.append((info.criterion, test, comparison))
    return sorted(rows, key=lambda row: (row[0], str(row[2].path)))  # one order in every worker


def _bound_rows():
    """A value written as a bound at and one unit either side of each limit, and what it gives.

    For a lower limit L (value ≥ L): '<L' is below it whatever it is (not met); '<=L' may be L
    (unknown); '>=L' always reaches it (met); '>L-d' may be below (unknown) and '<=L-d' never
    reaches it (not met). Upper limits mirror it, and a strict limit moves the equal case."""
    out = []
    for criterion, test, comparison in _single_limits():
        limit, step = comparison.limit, Decimal("0.1")
        op = comparison.op
        if op == SH.minInclusive:
            cases = [("<", limit, "not_met"), ("<=", limit, "unknown"), (">=", limit, "met"),
                     (">", limit - step, "unknown"), ("<=", limit - step, "not_met"),
                     (">", limit, "met"), ("<", limit + step, "unknown")]
        elif op == SH.maxInclusive:
            cases = [(">", limit, "not_met"), (">=", limit, "unknown"), ("<=", limit, "met"),
                     ("<", limit + step, "unknown"), (">=", limit + step, "not_met"),
                     ("<", limit, "met"), (">", limit - step, "unknown")]
        elif op == SH.maxExclusive:
            cases = [(">=", limit, "not_met"), ("<", limit, "met"), ("<=", limit, "unknown"),
                     (">", limit - step, "unknown")]
        else:
            cases = [("<=", limit, "not_met"), (">", limit, "met"), (">=", limit, "unknown")]
        for comparator, value, expected in cases:
            out.append(pytest.param(criterion, test, comparison.path[-1], comparator, value,
                                    expected, id=f"{criterion}-{comparator}{value}"))
    return out


@pytest.mark.parametrize(("criterion", "test", "compared", "comparator", "value", "expected"),
                         _bound_rows())
def test_a_bound_decides_only_when_every_value_it_allows_does(criterion, test, compared,
                                                              comparator, value, expected):
    rec = record()
    rec["observations"] = [o for o in rec["observations"]
                           if getattr(terminology().test_for(o["test"]), "iri", None) != test.iri]
    obs = {"test": test.label, "date": LAB_DAY, "comparator": comparator}
    if compared == QL.ratioToULN:
        obs.update(value=float(value * ULN), uln=float(ULN), unit=test.canonical_unit)
    else:
        obs.update(value=float(value))
        if test.canonical_unit:
            obs["unit"] = test.canonical_unit
    rec["observations"].append(obs)
    assert outcomes(rec)[criterion] == expected, explain(rec, criterion)


@pytest.mark.parametrize(("written", "expected"), [
    ("<2", "met"), ("<=1", "met"), ("<=2", "unknown"), (">1", "not_met"), (">=1", "unknown"),
    (">=2", "not_met"), ("<1", "met")])
def test_an_ordinal_bound_reads_the_grades_of_its_scale(written, expected):
    rec = record()
    for obs in rec["observations"]:
        if obs["test"] == "ECOG":
            obs["value"] = written
    assert outcomes(rec)["IC8.1"] == expected


# -- IC2: a birth date that is a year or a month ------------------------------------------------

def _age_rows():
    """Birth years around each age limit (18 and 75 as the shape states them): a year gives two
    ages on the ICF date, which decide only when both are inside or both outside."""
    index = shapes()
    (shape,) = [s for s in index.by_criterion("IC2") if s.outcome == "not_met"]
    graph = index.graph
    low = int(graph.value(shape.iri, SH.minInclusive))
    high = int(graph.value(shape.iri, SH.maxInclusive))
    signed = date.fromisoformat(BASE["consent"]["icf_signed"])
    year = signed.year
    return [
        (str(year - low + 1), "not_met"), (str(year - low), "unknown"),
        (str(year - low - 1), "met"), (str(year - high), "met"),
        (str(year - high - 1), "unknown"), (str(year - high - 2), "not_met"),
        # a month: born in the ICF's month, some day of it before or after the ICF day
        (f"{year - high - 1}-{signed.month:02d}", "unknown"),
        (f"{year - high - 1}-{signed.month + 1:02d}", "met"),
        (f"{year - high - 1}-{signed.month - 1:02d}", "not_met"),
    ]


@pytest.mark.parametrize(("born", "expected"), _age_rows())
def test_a_partial_birth_date_decides_the_age_only_when_every_day_does(born, expected):
    assert outcomes(record(birth_date=born))["IC2"] == expected


# -- IC9.0: courses and partial dates against the waiting period ---------------------------------

def _lookback() -> int:
    (period,) = [w for w in protocol_limits(shapes()).waiting if w.outcome == "not_met"]
    return period.days


def _day(offset: int) -> str:
    return (date.fromisoformat(LAB_DAY) - timedelta(days=offset)).isoformat()


@pytest.mark.parametrize(("course", "expected"), [
    ({"start": _day(60), "end": _day(_lookback() - 1)}, "not_met"),
    ({"start": _day(60), "end": _day(_lookback())}, "not_met"),      # day 14 included
    ({"start": _day(60), "end": _day(_lookback() + 1)}, "met"),
    ({"start": _day(60), "ongoing": True}, "not_met"),
    ({"start": _day(60)}, "unknown"),                                 # end not recorded
    ({"start": "2026-11-15", "ongoing": True}, "met"),                # began after the labs
    ({"date": _day(_lookback())}, "not_met"),
    ({"date": _day(_lookback() + 1)}, "met"),
    ({"date": _day(_lookback())[:7]}, "unknown"),                     # some day of that month
    ({"date": "2026-09"}, "met"),                                     # every day of it is older
    ({"end": _day(_lookback() + 1)}, "met"),                          # start unknown, ended before
    ({"ongoing": True}, "unknown"),                                   # start unknown, still going
])
def test_ic9_0_a_course_or_a_partial_date_against_the_lookback(course, expected):
    care = [{"product": "filgrastim", **course}]
    assert outcomes(record(supportive_care=care))["IC9.0"] == expected


# -- the screening window and the order of results ----------------------------------------------

@pytest.mark.parametrize(("results", "expected"), [
    ([("2026-10", 1.0)], "unknown"),                 # may fall before the window (from 10-23)
    ([("2026-11", 3.2)], "unknown"),                 # may fall after the assessment date
    ([("2026-09", 3.2)], "unknown"),                 # wholly before: no screening result
    ([("2026-10", 1.0), ("2026-11-01", 3.2)], "met"),        # the month is certainly older
    ([("2026-11", 1.0), ("2026-11-01", 3.2)], "unknown"),    # it may be the latest
    ([("2026-11", 3.2), ("2026-11-01", 2.0)], "met"),        # both candidates meet the limit
    ([("2026-11-12T09:00:00+01:00", 3.2), ("2026-11-12T08:00:00+01:00", 1.0)], "met"),
    ([("2026-11-12T08:00:00+01:00", 3.2), ("2026-11-12T09:00:00+01:00", 1.0)], "not_met"),
    ([("2026-11-12T23:30:00-05:00", 1.0), ("2026-11-12T08:00:00+01:00", 3.2)], "not_met"),
    ([("2026-11-12T09:00:00", 3.2), ("2026-11-12T08:00:00+01:00", 1.0)], "unknown"),
    ([("2026-11-12", 3.2), ("2026-11-12", 1.0)], "unknown"),
    ([("2026-11-12", 3.2), ("2026-11-12", 2.0)], "met"),
])
def test_which_result_is_the_screening_one(results, expected):
    rec = record()
    rec["observations"] = [o for o in rec["observations"] if o["test"] != "ANC"] + [
        {"test": "ANC", "value": value, "unit": "10*9/L", "date": when}
        for when, value in results]
    assert outcomes(rec)["IC9.1-ANC"] == expected


# -- what holds on the assessment date -----------------------------------------------------------

@pytest.mark.parametrize(("metastasis", "ratio", "expected"), [
    ({}, 3, "met"), ({}, 6, "not_met"),
    ({"resolved": "2026-06-01"}, 3, "not_met"), ({"resolved": "2026-06-01"}, 2, "met"),
    ({"resolved": True}, 3, "not_met"),
    ({"resolved": "2026-11"}, 3, "unknown"), ({"resolved": "2026-11"}, 6, "not_met"),
    ({"resolved": "2026-11"}, 2, "met"),
    ({"resolved": "2026-12-01"}, 3, "met"),          # resolved after as-of: still current
    ({"date": "2026-11"}, 3, "unknown"),             # may have been found after as-of
    ({"date": "2027-01-05"}, 3, "not_met"),          # found after as-of: not known yet
])
def test_ic9_2_the_liver_limit_follows_the_metastasis_on_the_assessment_date(
        metastasis, ratio, expected):
    rec = record(metastases=[{"site": "lung", "date": "2025-02-01"},
                             {"site": "liver", "date": "2025-03-01", **metastasis}])
    for obs in rec["observations"]:
        if obs["test"] == "AST":
            obs.update(value=ratio * 40, uln=40)
    assert outcomes(rec)["IC9.2-AST"] == expected


@pytest.mark.parametrize(("condition", "expected"), [
    ("Gilbert syndrome", "met"),
    ({"condition": "Gilbert syndrome", "date": "2010"}, "met"),
    ({"condition": "Gilbert syndrome", "resolved": "2020"}, "not_met"),
    ({"condition": "Gilbert syndrome", "date": "2026-11"}, "unknown"),
])
def test_ic9_2_a_condition_changes_a_limit_while_it_holds(condition, expected):
    rec = record(conditions=[condition])
    for obs in rec["observations"]:
        if obs["test"] == "total bilirubin":
            obs.update(value=2 * 21, uln=21)   # 2 ×ULN: within <3 only with Gilbert syndrome
    assert outcomes(rec)["IC9.2-TBIL"] == expected


@pytest.mark.parametrize(("pregnancy", "expected"), [
    ({"start": "2026-09", "ongoing": True}, "not_met"),
    ({"start": "2026-09-01", "end": "2026-11-20"}, "not_met"),   # ends on the assessment date
    ({"start": "2026-02-01", "end": "2026-11-19"}, "met"),
    ({"start": "2026-02-01", "end": "2026-11"}, "unknown"),
    ({"date": "2026-11-20"}, "not_met"),
    ({"date": "2026-10-01"}, "unknown"),                          # end not known
    ({"start": "2027-01-01", "ongoing": True}, "met"),            # after as-of: not known yet
])
def test_ic10_a_pregnancy_on_record(pregnancy, expected):
    rec = record(sex="female", reproductive={
        "childbearing_potential": True, "contraception_agreed": True, "lactating": False,
        "pregnancies": [pregnancy]})
    rec["observations"].append({"test": "pregnancy test", "value": "negative",
                                "date": "2026-11-17"})
    assert outcomes(rec)["IC10"] == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("<5", "met"), ("<=5", "met"), ("<10", "unknown"), (">5", "not_met"), (">=5", "unknown")])
def test_ic10_a_quantitative_hcg_bound_against_its_cut_off(value, expected):
    rec = record(sex="female", reproductive={
        "childbearing_potential": True, "contraception_agreed": True, "lactating": False})
    rec["observations"].append({"test": "pregnancy test", "value": value, "unit": "[IU]/L",
                                "uln": 5, "date": "2026-11-17"})
    assert outcomes(rec)["IC10"] == expected


@pytest.mark.parametrize(("signed", "expected"), [
    ("2026-11", "unknown"),      # may be after the assessment date 2026-11-20
    ("2026-10", "met"), ("2026-11-20", "met"), ("2026-11-21", "unknown")])
def test_ic1_an_icf_date_that_is_a_month(signed, expected):
    rec = record(consent={"icf_signed": signed, "able_to_comply": True})
    assert outcomes(rec)["IC1"] == expected
