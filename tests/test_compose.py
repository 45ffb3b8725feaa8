"""The three-valued logic between criteria (pipeline/compose.py), as pure functions: every row
of the Kleene tables and of the applicability table the docs give
(docs/encoding-a-protocol.md, "Conditions, compositions, applicability"), and the possible
outcomes of a composition over undecided members."""

from __future__ import annotations

from itertools import product

import pytest

from ql1706kg.pipeline import compose
from ql1706kg.pipeline.compose import MET, NA, NOT_MET, UNKNOWN
from ql1706kg.protocol.conditions import ConditionInfo, Expr, Logic

THREE = (MET, NOT_MET, UNKNOWN)
FOUR = (*THREE, NA)


@pytest.mark.parametrize(("a", "b", "any_", "all_"), [
    (MET, MET, MET, MET),
    (MET, NOT_MET, MET, NOT_MET),
    (MET, UNKNOWN, MET, UNKNOWN),
    (NOT_MET, MET, MET, NOT_MET),
    (NOT_MET, NOT_MET, NOT_MET, NOT_MET),
    (NOT_MET, UNKNOWN, UNKNOWN, NOT_MET),
    (UNKNOWN, MET, MET, UNKNOWN),
    (UNKNOWN, NOT_MET, UNKNOWN, NOT_MET),
    (UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN),
    # a member that is not applicable holds neither way: as unknown
    (NA, MET, MET, UNKNOWN),
    (NA, NOT_MET, UNKNOWN, NOT_MET),
])
def test_kleene_or_and(a, b, any_, all_):
    assert compose.any_of((a, b)) == any_
    assert compose.all_of((a, b)) == all_
    assert compose.none_of((a, b)) == {MET: NOT_MET, NOT_MET: MET, UNKNOWN: UNKNOWN}[any_]


@pytest.mark.parametrize(("value", "negated"), [(MET, NOT_MET), (NOT_MET, MET),
                                                (UNKNOWN, UNKNOWN), (NA, UNKNOWN)])
def test_negation(value, negated):
    assert compose.negate(value) == negated
    assert compose.none_of((value,)) == negated


def test_empty_lists_never_decide():
    assert compose.any_of(()) == UNKNOWN
    assert compose.all_of(()) == UNKNOWN


@pytest.mark.parametrize(("condition", "own", "expected"), [
    (MET, MET, MET), (MET, NOT_MET, NOT_MET), (MET, UNKNOWN, UNKNOWN), (MET, NA, NA),
    (NOT_MET, MET, NA), (NOT_MET, NOT_MET, NA), (NOT_MET, UNKNOWN, NA), (NOT_MET, NA, NA),
    # applicability unknown: met only if met wherever it applies, never eligible on nothing
    (UNKNOWN, MET, MET), (UNKNOWN, NOT_MET, UNKNOWN), (UNKNOWN, UNKNOWN, UNKNOWN),
    (UNKNOWN, NA, NA),
])
def test_applies_when(condition, own, expected):
    assert compose.applied(condition, own) == expected


@pytest.mark.parametrize(("own", "defined", "expected"), [
    (MET, MET, MET), (MET, NOT_MET, NOT_MET), (MET, UNKNOWN, UNKNOWN),
    (NOT_MET, MET, NOT_MET), (NOT_MET, UNKNOWN, NOT_MET), (UNKNOWN, MET, UNKNOWN),
    (UNKNOWN, NOT_MET, NOT_MET), (NA, MET, NA), (NA, NOT_MET, NA)])
def test_own_shapes_and_a_definition_must_both_hold(own, defined, expected):
    assert compose.conjoin(own, defined) == expected


@pytest.mark.parametrize(("a", "b"), list(product(FOUR, FOUR)))
def test_nothing_missing_makes_or_met(a, b):
    """Safety: OR is met only through a member that is met; AND only when all are."""
    assert (compose.any_of((a, b)) == MET) == (MET in (a, b))
    assert (compose.all_of((a, b)) == MET) == (a == b == MET)


def _logic() -> Logic:
    conditions = {k: ConditionInfo(k, None, k, {MET: f"{k} holds", NOT_MET: f"not {k}"})  # type: ignore[arg-type]
                  for k in ("bone", "age12", "age18", "female")}
    defined = {"IN": Expr("any", members=(Expr("all", members=(Expr("is", "bone"),
                                                                Expr("is", "age12"))),
                                           Expr("is", "age18")))}
    return Logic(conditions, defined, {"IN": Expr("is", "female")})


@pytest.mark.parametrize(("own", "expected"), [
    ({"bone": {MET}, "age12": {MET}, "age18": {NOT_MET}, "female": {MET}}, {MET}),
    ({"bone": {NOT_MET}, "age12": {MET}, "age18": {NOT_MET}, "female": {MET}}, {NOT_MET}),
    ({"bone": {UNKNOWN}, "age12": {MET}, "age18": {NOT_MET}, "female": {MET}}, {UNKNOWN}),
    ({"bone": {UNKNOWN}, "age12": {MET}, "age18": {MET}, "female": {MET}}, {MET}),
    ({"bone": {MET}, "age12": {MET}, "age18": {MET}, "female": {NOT_MET}}, {NA}),
    # undecided in one reading: every combination counts; the judge decides only on one
    ({"bone": {MET, NOT_MET}, "age12": {MET}, "age18": {NOT_MET}, "female": {MET}},
     {MET, NOT_MET}),
    ({"bone": {MET, NOT_MET}, "age12": {MET}, "age18": {MET}, "female": {MET}}, {MET}),
])
def test_a_composed_criterion_over_its_conditions(own, expected):
    assert compose.outcomes("IN", own, _logic()) == expected


def test_the_reason_names_the_deciding_members():
    logic = _logic()
    decided = {"bone": MET, "age12": MET, "age18": NOT_MET, "female": MET}
    assert compose.because("IN", MET, decided, logic) == ("it applies: female holds; bone "
                                                          "holds; age12 holds")
    decided["female"] = NOT_MET
    assert compose.because("IN", NA, decided, logic) == "applies only when female; not female"
