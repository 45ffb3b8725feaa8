"""IC1 (consent, compliance) and IC2 (age 18-75 at ICF signing): every outcome, every boundary."""

from __future__ import annotations

import pytest

from .conftest import explain, outcomes, record


def test_base_record_is_eligible(base):
    result = outcomes(base)
    assert {k: v for k, v in result.items() if v not in {"met", "not_applicable"}} == {}


@pytest.mark.parametrize(("consent", "expected"), [
    ({"icf_signed": "2026-11-10", "able_to_comply": True}, "met"),
    ({"icf_signed": "2026-11-20", "able_to_comply": True}, "met"),       # signed on as_of
    ({"icf_signed": "2026-11-21", "able_to_comply": True}, "unknown"),   # signed after as_of
    ({"able_to_comply": True}, "unknown"),                               # no ICF on record
    ({"icf_signed": "2026-11-10"}, "unknown"),                           # compliance not judged
    ({"icf_signed": "2026-11-10", "able_to_comply": False}, "not_met"),
    ({"able_to_comply": False}, "not_met"),                              # denial decides
])
def test_ic1(consent, expected):
    assert outcomes(record(consent=consent))["IC1"] == expected


@pytest.mark.parametrize(("birth_date", "expected"), [
    ("2008-11-10", "met"),        # 18th birthday on the ICF date
    ("2008-11-11", "not_met"),    # one day short of 18
    ("1950-11-11", "met"),        # 75, the day before the 76th birthday
    ("1950-11-10", "not_met"),    # 76th birthday on the ICF date
    ("1951-01-01", "met"),
    ("2000-02-29", "met"),
])
def test_ic2_age_at_icf(birth_date, expected):
    assert outcomes(record(birth_date=birth_date))["IC2"] == expected


def test_ic2_leap_day_birthday_counts_from_first_of_march():
    rec = record(birth_date="2008-02-29", consent={"icf_signed": "2026-02-28",
                                                   "able_to_comply": True})
    assert outcomes(rec, as_of="2026-03-01")["IC2"] == "not_met"   # 17 on 28 Feb 2026


def test_ic2_without_icf_uses_age_on_as_of_and_says_so():
    rec = record(consent={"able_to_comply": True}, birth_date="2008-11-20")
    assert outcomes(rec)["IC2"] == "met"
    assert "no ICF date is on record" in explain(rec, "IC2")


def test_ic2_without_birth_date_is_unknown():
    rec = record(birth_date=None)
    assert outcomes(rec)["IC2"] == "unknown"
    assert "date of birth" in explain(rec, "IC2")
