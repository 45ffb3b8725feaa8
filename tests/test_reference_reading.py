"""The engine against an independent reading of criteria.md (tests/reference_reading.py) on a
sample of edge-case patients, and the rule for facts the terminology cannot classify.

The full comparison (thousands of patients, FHIR twins, ``compare`` under amended limits) is
bench/reference_check.py; here a sample keeps the suite cheap.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ql1706kg import screen
from ql1706kg.inputs.synthetic import patients as synthetic_patients

from .reference_compare import Tally, compare_patient, fhir_carries, fhir_twin
from .reference_patients import AS_OF, LAB_DAY, patient, patients

SAMPLE = [*patients(90, seed=2406), *({**r, "id": f"SYN-{i}"}
                                       for i, r in enumerate(synthetic_patients(20, seed=24)))]


@pytest.fixture(scope="module")
def sample_results():
    result = screen(SAMPLE, as_of=AS_OF, keep_graphs=False)
    assert not result.errors, [e.as_dict() for e in result.errors]
    return {p.id: p for p in result.patients}


def test_every_outcome_and_what_if_line_agrees_with_the_reading(sample_results):
    tally = Tally()
    for rec in SAMPLE:
        compare_patient(tally, rec, sample_results[rec["id"]], AS_OF)
    assert tally.checks["outcome"] == 28 * len(SAMPLE)
    assert tally.total_wrong == 0, tally.report()


def test_the_comparison_fails_when_the_reading_differs(sample_results, monkeypatch):
    """The check can fail: read with the ANC limit at 3.3 instead of 1.5, the base record's
    ANC (3.2) is not met, and the engine's results disagree."""
    from . import reference_reading

    monkeypatch.setitem(reference_reading.LIMITS, "anc", Fraction("3.3"))
    tally = Tally()
    for rec in SAMPLE[:20]:
        compare_patient(tally, rec, sample_results[rec["id"]], AS_OF, what_if=False)
    assert tally.wrong and all("IC9.1-ANC" in kind or kind == "verdict"
                               for kind in tally.wrong)


def test_fhir_twins_agree_with_the_reading(tmp_path):
    records = [rec for rec in SAMPLE[:45] if fhir_carries(rec, AS_OF)]
    path = tmp_path / "twins.ndjson"  # one bulk export of every twin's resources
    path.write_text("".join(json.dumps(entry["resource"]) + "\n" for rec in records
                            for entry in fhir_twin(rec)["entry"]))
    result = screen([path], as_of=AS_OF, keep_graphs=False)
    assert not result.errors, [e.as_dict() for e in result.errors]
    tally = Tally()
    by_id = {rec["id"]: rec for rec in records}
    for found in result.patients:
        compare_patient(tally, by_id[found.id], found, AS_OF, what_if=False)
    assert len(records) > 25 and tally.total_wrong == 0, tally.report()


# -- unclassified facts: what could they be? ---------------------------------------------------
# An unclassified drug or product is one of the classes its name leaves open ("worlds"): the
# outcome with it must be the outcome every world gives, else unknown. So an outcome never
# moves from decided to unknown, nor from met to not_met, when a fact that cannot matter to
# that criterion is added (every world gives the outcome without it).
WORLDS = {
    "zorblax": ("doxorubicin", "paclitaxel", "toripalimab", "gemcitabine"),  # may be anything
    "novelimab": ("toripalimab", "ipilimumab"),        # -mab: an antibody, maybe an anti-PD-1
    "novotinib": ("pazopanib",),                        # -tinib: a kinase inhibitor
}
PRODUCT_WORLDS = {"zorblax": ("filgrastim", "dexamethasone")}
PRODUCT_DAYS = [None, 13, 14, 15, 60, -1, -9]  # days before the labs (-9: after the as-of date)


@st.composite
def with_unclassified(draw):
    """A record, and how to add one fact to it under a given name: a drug into a regimen (or
    a new one), or a support product."""
    seed = draw(st.integers(0, 10**6))
    rec = patient(seed, random.Random(seed))
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(WORLDS)))
        therapies = rec.get("prior_therapies") or []
        where = draw(st.integers(0, len(therapies)))
        start = draw(st.sampled_from(["2025-03-01", "2026-01-15", None]))
        intolerance = draw(st.sampled_from([True, False, None]))

        def add(drug: str) -> dict:
            out = copy.deepcopy(rec)
            regimens = out.setdefault("prior_therapies", []) or []
            if where < len(regimens):
                regimens[where]["drugs"].append(drug)
            else:
                new = {"drugs": [drug], **({"start": start} if start else {}),
                       **({"intolerance": intolerance} if intolerance is not None else {})}
                regimens.append(new)
            out["prior_therapies"] = regimens
            return out

        return rec, name, WORLDS[name], add, rec.get("prior_therapies") is not None
    days = draw(st.sampled_from(PRODUCT_DAYS))

    def give(product: str) -> dict:
        out = copy.deepcopy(rec)
        item = {"product": product}
        if days is not None:
            item["date"] = (LAB_DAY - dt.timedelta(days=days)).isoformat()
        out["supportive_care"] = [*(out.get("supportive_care") or []), item]
        return out

    return rec, "zorblax", PRODUCT_WORLDS["zorblax"], give, rec.get("supportive_care") is not None


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(with_unclassified())
def test_an_unclassified_fact_decides_only_what_every_class_it_may_have_decides(case):
    rec, name, worlds, add, comparable = case
    records = [add(name), *(add(world) for world in worlds), rec]
    for index, one in enumerate(records):
        one["id"] = f"W{index}"
    result = screen(records, as_of=AS_OF, keep_graphs=False)
    assert not result.errors, [e.as_dict() for e in result.errors]
    found = [{c.id: c.outcome for c in p.criteria} for p in result.patients]
    unclassified, each_world, without = found[0], found[1:-1], found[-1]
    for cid, outcome in unclassified.items():
        given_by_worlds = {world[cid] for world in each_world}
        expected = given_by_worlds.pop() if len(given_by_worlds) == 1 else "unknown"
        assert outcome == expected, (cid, name, outcome, [w[cid] for w in each_world])
        if comparable and all(world[cid] == without[cid] for world in each_world):
            # it cannot matter to this criterion: nothing moves
            assert not (without[cid] != "unknown" and outcome == "unknown"), cid
            assert not (without[cid] == "met" and outcome == "not_met"), cid
