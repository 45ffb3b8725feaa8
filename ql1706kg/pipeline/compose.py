"""Three-valued logic between criteria: conditions, compositions and applicability.

Pure functions over outcomes (``met``, ``not_met``, ``unknown``, ``not_applicable``); the
declarations are read by :mod:`ql1706kg.protocol.conditions`, the shapes' outcomes come from
the judge. Truth tables (docs/encoding-a-protocol.md, "Conditions"):

- ``anyOf`` (Kleene OR): met if any member is met; not_met if every member is not_met; else
  unknown. ``allOf`` (Kleene AND): not_met if any member is not_met; met if all are met; else
  unknown. ``noneOf``: the negation of ``anyOf`` (met <-> not_met, unknown stays unknown).
  A member that is not applicable holds neither way: it counts as unknown.
- a definition with shapes of its own: both must hold (their AND), except that the own
  shapes' not_applicable stays not_applicable.
- ``appliesWhen C``: C met -> the criterion's own outcome; C not_met -> not_applicable;
  C unknown -> met if it is met (met in every reading where it applies), not_applicable if
  not applicable either way, else unknown (never eligible on missing data).

Uncertain data: each criterion or condition has, in one reading of the data, a *set* of
possible outcomes; a composition's possible outcomes are those of every combination of its
members' (an over-approximation, so an undecided member leaves the composition undecided
unless every combination agrees), and the judge decides only when every reading agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import product

from ..protocol.conditions import Expr, Logic

MET, NOT_MET, UNKNOWN, NA = "met", "not_met", "unknown", "not_applicable"
WORDS = {MET: "met", NOT_MET: "not met", UNKNOWN: "unknown", NA: "not applicable"}


def truth(outcome: str) -> str:
    """A member's truth value: not applicable holds neither way (unknown)."""
    return UNKNOWN if outcome == NA else outcome


def any_of(values: Iterable[str]) -> str:
    """Kleene OR."""
    seen = [truth(v) for v in values]
    if MET in seen:
        return MET
    return NOT_MET if seen and all(v == NOT_MET for v in seen) else UNKNOWN


def all_of(values: Iterable[str]) -> str:
    """Kleene AND."""
    seen = [truth(v) for v in values]
    if NOT_MET in seen:
        return NOT_MET
    return MET if seen and all(v == MET for v in seen) else UNKNOWN


def negate(value: str) -> str:
    """Kleene NOT."""
    return {MET: NOT_MET, NOT_MET: MET}.get(truth(value), UNKNOWN)


def none_of(values: Iterable[str]) -> str:
    """NOT (any of)."""
    return negate(any_of(values))


def conjoin(own: str, defined: str) -> str:
    """A criterion with shapes of its own and a composition: both must hold."""
    return NA if own == NA else all_of((own, defined))


def applied(condition: str, own: str) -> str:
    """A criterion's outcome under its applicability condition (module docstring)."""
    condition = truth(condition)
    if condition == MET:
        return own
    if condition == NOT_MET:
        return NA
    return own if own in (MET, NA) else UNKNOWN


_OPS: dict[str, Callable[[Iterable[str]], str]] = {"any": any_of, "all": all_of,
                                                   "none": none_of}


def evaluate(expr: Expr, value: Callable[[str], set[str]]) -> set[str]:
    """The possible outcomes of an expression, from each condition's possible outcomes."""
    if expr.op == "is":
        return value(expr.ref)
    members = [evaluate(m, value) for m in expr.members]
    return {_OPS[expr.op](combo) for combo in product(*members)}


def outcomes(key: str, own: Mapping[str, set[str]], logic: Logic,
             memo: dict[str, set[str]] | None = None) -> set[str]:
    """The possible outcomes of a criterion or condition in one reading: its own shapes'
    (``own``; none: met), and'ed with its definition, under its applicability."""
    memo = {} if memo is None else memo
    if key in memo:
        return memo[key]

    def value(ref: str) -> set[str]:
        return outcomes(ref, own, logic, memo)

    result = set(own.get(key, {MET}))
    if key in logic.defined:
        defined = evaluate(logic.defined[key], value)
        result = {conjoin(o, d) for o in result for d in defined}
    if key in logic.applies:
        when = evaluate(logic.applies[key], value)
        result = {applied(c, o) for c in when for o in result}
    memo[key] = result
    return result


def reason(expr: Expr, decided: Mapping[str, str], logic: Logic) -> str:
    """Why an expression has its outcome, in the conditions' words (their ``ql:whenMet`` /
    ``ql:whenNotMet`` / ``ql:whenUnknown``, else their label and outcome): for a
    composition, the members that decide it, each said once."""
    return "; ".join(dict.fromkeys(_reasons(expr, decided, logic)))


def _reasons(expr: Expr, decided: Mapping[str, str], logic: Logic) -> list[str]:
    outcome = single(expr, decided)
    if expr.op == "is":
        info = logic.conditions[expr.ref]
        text = info.texts.get(truth(outcome))
        if text is None and expr.ref in logic.defined:  # a composed condition: its members
            return _reasons(logic.defined[expr.ref], decided, logic)
        return [text or f"{info.label}: {WORDS[truth(outcome)]}"]
    members = [(single(m, decided), m) for m in expr.members]
    deciding = {("any", MET): MET, ("all", NOT_MET): NOT_MET, ("none", NOT_MET): MET}
    if (expr.op, outcome) in deciding:
        picked = [next(m for o, m in members if truth(o) == deciding[expr.op, outcome])]
    elif outcome == UNKNOWN:
        picked = [m for o, m in members if truth(o) == UNKNOWN]
    else:  # every member agrees
        picked = [m for _o, m in members]
    return [text for m in picked for text in _reasons(m, decided, logic)]


def single(expr: Expr, decided: Mapping[str, str]) -> str:
    """An expression's outcome from the conditions' decided outcomes (unknown if absent)."""
    found = evaluate(expr, lambda ref: {decided.get(ref, UNKNOWN)})
    return found.pop() if len(found) == 1 else UNKNOWN


def because(key: str, outcome: str, decided: Mapping[str, str], logic: Logic) -> str:
    """Why a composed criterion has ``outcome``: its applicability when that decided it, else
    its definition (empty when neither says more than its own shapes)."""
    parts = []
    when = logic.applies.get(key)
    if when is not None:
        applies = single(when, decided)
        if applies == NOT_MET:
            return "applies only when " + _label(when, logic) + "; " + reason(when, decided,
                                                                                logic)
        if applies == MET and outcome != NA:
            parts.append("it applies: " + reason(when, decided, logic))
        if applies == UNKNOWN:
            either = "" if outcome == UNKNOWN else f", and it is {WORDS[outcome]} either way"
            parts.append("whether it applies (only when " + _label(when, logic)
                         + ") is not known: " + reason(when, decided, logic) + either)
    definition = logic.defined.get(key)
    if definition is not None and outcome != NA:
        parts.append(reason(definition, decided, logic))
    return "; ".join(parts)


def _label(expr: Expr, logic: Logic) -> str:
    if expr.op == "is":
        return logic.conditions[expr.ref].label
    joiner = {"any": " or ", "all": " and ", "none": " or "}[expr.op]
    inner = joiner.join(_label(m, logic) for m in expr.members)
    return f"not ({inner})" if expr.op == "none" else f"({inner})"
