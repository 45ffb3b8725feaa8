"""Property tests of issue 20's rule: no patient is ever eligible, and no criterion ever met or
not met, on a bound or a date the data cannot decide, nor met on a fact set aside.

Hypothesis makes the base record uncertain in one or two places (a result written as a bound, a
date cut to its month or year, a course without an end, an untrusted fact set aside). The
record is screened; then each reading of the uncertainty (a value the bound allows, a day the
date allows, an end of the course) is screened as an ordinary record. Whatever the uncertain
record decides (met, not met), every reading must decide the same: unknown is the only other
answer it may give.
"""

from __future__ import annotations

import copy
import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ql1706kg import screen
from ql1706kg.inputs.records import parse_record
from ql1706kg.pipeline.lift.person import SECTION_LINKS
from ql1706kg.pipeline.reads import criterion_reads
from ql1706kg.pipeline.validate import shapes
from ql1706kg.protocol.terminology import terminology

from .conftest import AS_OF, BASE

# quantitative results (an ordinal scale such as ECOG takes only its grades: a reading of 1.09
# is no ECOG grade)
NUMERIC = [i for i, o in enumerate(BASE["observations"]) if isinstance(o["value"], int | float)
           and terminology().test_for(o["test"]).canonical_unit]
DATED = [("observations", i) for i in range(len(BASE["observations"]))] + [
    ("consent", None), ("metastases", 0), ("prior_therapies", 0), ("lesions", 0)]


def _screen(rec: dict) -> dict[str, str] | None:
    """Outcomes of one record; None when a reading is not a record we screen (set aside as
    implausible, or refused)."""
    parsed = parse_record(rec, "t")
    if isinstance(parsed, Exception) or len(parsed.record.set_aside) != len(
            rec.get("set_aside", [])):
        return None
    result = screen([rec], as_of=AS_OF)
    if result.errors:
        return None
    (patient,) = result.patients
    return {c.id: c.outcome for c in patient.criteria} | {"verdict": patient.verdict}


@st.composite
def bound(draw):
    """(path, uncertain value, readings): a numeric result written as a bound."""
    index = draw(st.sampled_from(NUMERIC))
    value = Decimal(str(BASE["observations"][index]["value"]))
    scale = draw(st.sampled_from(["0.5", "0.9", "1", "1.1", "2"]))
    limit = (value * Decimal(scale)).normalize()
    comparator = draw(st.sampled_from(["<", "<=", ">", ">="]))
    step = max(limit * Decimal("0.001"), Decimal("0.0001"))
    inside = {"<": [limit - step, limit / 2], "<=": [limit, limit / 2],
              ">": [limit + step, limit * 2], ">=": [limit, limit * 2]}[comparator]
    return (("observations", index, "value"), f"{comparator}{limit}",
            [float(v) for v in inside])


@st.composite
def partial_date(draw):
    """A date cut to its month or year, with days it allows as readings."""
    section, index = draw(st.sampled_from(DATED))
    item = BASE[section] if index is None else BASE[section][index]
    key = "icf_signed" if section == "consent" else ("start" if section == "prior_therapies"
                                                     else "date")
    day = date.fromisoformat(item[key])
    shift = draw(st.integers(min_value=-40, max_value=40))
    day = day + timedelta(days=shift)
    if draw(st.booleans()):
        written = day.isoformat()[:7]
        first = day.replace(day=1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    else:
        written = str(day.year)
        first, last = date(day.year, 1, 1), date(day.year, 12, 31)
    middle = first + (last - first) / 2
    readings = sorted({first, last, middle, min(max(date.fromisoformat(AS_OF), first), last)})
    return ((section, index, key), written, [d.isoformat() for d in readings])


@st.composite
def course(draw):
    """A support product given as a course whose end is not recorded."""
    start = date.fromisoformat("2026-11-12") - timedelta(days=draw(st.integers(0, 60)))
    ends = sorted({start, min(start + timedelta(days=15), date.fromisoformat(AS_OF)),
                   date.fromisoformat(AS_OF)})
    return (("supportive_care", None, None), {"product": "filgrastim",
                                              "start": start.isoformat()},
            [{"product": "filgrastim", "start": start.isoformat(), "end": e.isoformat()}
             for e in ends])


def _put(rec: dict, path: tuple, value) -> None:
    section, index, key = path
    if section == "supportive_care":
        rec["supportive_care"] = [value]
        return
    item = rec[section] if index is None else rec[section][index]
    item[key] = value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(bound(), partial_date(), course()), min_size=1, max_size=2,
                unique_by=lambda u: u[0]))
def test_a_decided_outcome_holds_for_every_reading_of_the_uncertain_data(uncertain):
    rec = copy.deepcopy(BASE)
    rec["id"] = "PROP"
    for path, value, _readings in uncertain:
        _put(rec, path, value)
    got = _screen(rec)
    if got is None:
        return
    for reading in itertools.product(*(r for _p, _v, r in uncertain)):
        concrete = copy.deepcopy(rec)
        for (path, _value, _r), value in zip(uncertain, reading, strict=True):
            _put(concrete, path, value)
        seen = _screen(concrete)
        if seen is None:
            continue
        for criterion, outcome in got.items():
            if criterion == "verdict":
                assert outcome != "eligible" or seen[criterion] == "eligible", (uncertain,
                                                                                 reading)
            elif outcome in ("met", "not_met"):
                assert seen[criterion] == outcome, (criterion, outcome, seen[criterion],
                                                    uncertain, reading)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(s for s in SECTION_LINKS if SECTION_LINKS[s])),
       st.one_of(st.none(), st.sampled_from(sorted({o["test"] for o in BASE["observations"]}))))
def test_no_criterion_reading_a_fact_set_aside_is_met(section, test):
    fact = {"section": section, "source": "x.json#R/1", "field": "modifierExtension",
            "reason": "an unknown modifier extension"}
    if section == "observations" and test is not None:
        fact["test"] = test
    got = _screen({**copy.deepcopy(BASE), "id": "ASIDE", "set_aside": [fact]}) or {}
    reads = criterion_reads(shapes(), terminology())
    info = terminology().test_for(test) if section == "observations" and test else None
    links = ({info.screening_property} if info is not None and info.screening_property
             else set(SECTION_LINKS[section]))
    blocked = {cid for cid, read in reads.items() if read & links}
    assert blocked, section
    for criterion in blocked:
        assert got[criterion] != "met", (section, test, criterion)
    # a criterion that does not apply stays so (a set-aside tumour measurement and IC5.2 of a
    # leiomyosarcoma): the verdict is eligible only when no criterion reading the fact counts
    assert got["verdict"] != "eligible" or all(got[c] == "not_applicable" for c in blocked)
