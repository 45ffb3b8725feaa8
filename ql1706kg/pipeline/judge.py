"""Turn a patient's validation results into one outcome per criterion and an overall verdict.

The rule is data, not code: every shape says which criterion it decides and what its
violation means (``ql:onViolation``). A criterion is not_applicable if any of its
applicability shapes is violated, else not_met if any limit shape is, else unknown if any
data shape is, else met (criteria.md: "A patient is never eligible on missing data").

Uncertain data (issue 20: bounds, partial dates, facts that may not hold on the assessment
date) leave some shapes only possibly violated, in one or more readings of the condition
probes: a criterion is decided only when every way those could go gives the same outcome;
otherwise it is unknown and its explanation says which values could not decide it. And a
criterion that reads a fact the reader set aside as untrusted is never met while it stands
(pipeline/reads.py): at best unknown, naming the fact's source, field and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import URIRef

from ..protocol.conditions import Logic
from ..protocol.namespaces import QL
from ..protocol.terminology import Terminology
from . import compose
from .assessment import Assessment
from .explain import Explainer
from .graph import PatientGraph
from .reads import blocking_facts
from .results import OUTCOMES, PatientResult
from .validate import ShapeInfo, Shapes, Violation
from .what_if import WhatIf

PRECEDENCE = ("not_applicable", "not_met", "unknown")


def verdict_of(outcomes: list[str]) -> str:
    """Overall verdict: ineligible on any not_met, else incomplete on any unknown."""
    if "not_met" in outcomes:
        return "ineligible"
    if "unknown" in outcomes:
        return "incomplete"
    return "eligible"


def outcome_of(violated: list[str | None]) -> str:
    """Combine the outcomes of a criterion's violated shapes by precedence."""
    for outcome in PRECEDENCE:
        if outcome in violated:
            return outcome
    return "met"


def possible_outcomes(shapes: list[ShapeInfo], world: dict[URIRef, bool]) -> set[str]:
    """The outcomes a criterion can have in one reading: its shapes violated for certain
    (True) always count, each shape possibly violated (False) may or may not."""
    certain = [s.outcome for s in shapes if world.get(s.iri) is True]
    possible = [s.outcome for s in shapes if world.get(s.iri) is False]
    return {outcome_of(certain)} | {outcome_of([*certain, o]) for o in possible}


@dataclass(frozen=True)
class Decision:
    """One criterion's outcome and what decided it: the shapes that count (``hit``), the
    outcomes uncertain data left open (``undecided``), the set-aside facts that keep it from
    being met (``blocked``) and every set-aside fact it reads (``aside``)."""

    outcome: str
    hit: list[ShapeInfo]
    undecided: tuple[str, ...] = ()
    blocked: list = field(default_factory=list)
    aside: list = field(default_factory=list)
    because: str = ""  # a composed criterion's reason, in its conditions' words (compose.py)


def _readings(logic: Logic, shapes: Shapes, worlds: list[dict[URIRef, bool]],
              violated: set[URIRef], uncertain: bool) -> list[tuple[dict[str, set[str]], dict]]:
    """Per reading of uncertain data, the possible outcomes of every condition's and
    criterion's own shapes (and an empty memo for :func:`compose.outcomes`); none without
    conditions or compositions."""
    if not (logic.defined or logic.applies):
        return []
    keys = [k for k in shapes.criterion_keys() if k is not None]
    if not uncertain:
        return [({k: {outcome_of([s.outcome for s in shapes.by_criterion(k)
                                  if s.iri in violated])} for k in keys}, {})]
    return [({k: possible_outcomes(shapes.by_criterion(k), w) for k in keys}, {})
            for w in worlds]


def _decided(logic: Logic, readings: list[tuple[dict[str, set[str]], dict]]) -> dict[str, str]:
    """Every condition's outcome when all readings agree on it (else unknown)."""
    out = {}
    for key in logic.conditions:
        found = set().union(*(compose.outcomes(key, own, logic, memo) for own, memo in readings))
        out[key] = found.pop() if len(found) == 1 else "unknown"
    return out


def decide(patient: URIRef, graph: PatientGraph, violations: list[Violation], shapes: Shapes,
           term: Terminology) -> tuple[dict[str, Decision], set[URIRef]]:
    """Every criterion's decision for ``patient`` (keyed by criterion id), and the condition
    probes that failed for certain. The one place outcomes are decided: :func:`judge` explains
    them, the protocol probe (:func:`criterion_outcomes`) only counts them."""
    mine = [v for v in violations if v.focus is patient or v.focus == patient]
    worlds: list[dict[URIRef, bool]] = [{} for _ in range(max((v.worlds for v in mine),
                                                              default=1))]
    for v in mine:
        worlds[v.world][v.shape] = worlds[v.world].get(v.shape, False) or v.certain
    uncertain = len(worlds) > 1 or any(not sure for w in worlds for sure in w.values())
    violated = set.intersection(*({s for s, sure in w.items() if sure} for w in worlds))
    touched = {s for w in worlds for s in w}
    probes_failing = {iri for iri in violated if shapes.info[iri].is_probe}
    has_aside = graph.value(patient, QL.setAsideFact) is not None
    logic = term.logic
    readings = _readings(logic, shapes, worlds, violated, uncertain)
    decisions: dict[str, Decision] = {}
    decided: dict[str, str] | None = None  # the conditions' outcomes, once (explanations)
    for crit in term.criteria.values():
        own = shapes.by_criterion(crit["id"])
        undecided: tuple[str, ...] = ()
        composed = logic.composed(crit["id"])
        if not uncertain:
            hit = [s for s in own if s.iri in violated]
            outcome = outcome_of([s.outcome for s in hit])
        else:
            outcomes = set().union(*(possible_outcomes(own, w) for w in worlds))
            outcome = outcomes.pop() if len(outcomes) == 1 else "unknown"
            undecided = tuple(o for o in OUTCOMES if o in outcomes) if outcomes else ()
            hit = [s for s in own if s.iri in touched and (undecided or s.outcome == outcome)]
        because = ""
        if composed:
            outcomes = set().union(*(compose.outcomes(crit["id"], own_w, logic, memo)
                                     for own_w, memo in readings))
            outcome = outcomes.pop() if len(outcomes) == 1 else "unknown"
            undecided = tuple(o for o in OUTCOMES if o in outcomes) if outcomes else ()
            decided = _decided(logic, readings) if decided is None else decided
            because = compose.because(crit["id"], outcome, decided, logic)
        aside = blocking_facts(graph, patient, crit, shapes, term) if has_aside else []
        if has_aside and composed:  # a member condition's set-aside facts block it too
            aside += [f for key in sorted(logic.reads(crit["id"])) for f in blocking_facts(
                graph, patient, {"id": key}, shapes, term) if f not in aside]
        blocked = aside if outcome == "met" or (composed and outcome == "not_applicable") else []
        decisions[crit["id"]] = Decision("unknown" if blocked else outcome, hit, undecided,
                                         blocked, aside, because)
    return decisions, probes_failing


def judge(patient: URIRef, graph: PatientGraph, violations: list[Violation], shapes: Shapes,
          term: Terminology, assessment: Assessment, source: str) -> PatientResult:
    """Return the outcome and explanation of every criterion, and the verdict, of a patient."""
    patient = graph.own(patient)  # the graph's own term: lookups by identity
    decisions, probes_failing = decide(patient, graph, violations, shapes, term)
    explainer = Explainer(graph, patient, term, shapes, assessment, probes_failing)
    results = [explainer.explain(crit, d.outcome, d.hit, undecided=d.undecided,
                                 blocked=d.blocked, aside=d.aside, because=d.because)
               for crit, d in ((crit, decisions[crit["id"]]) for crit in term.criteria.values())]
    patient_id = str(graph.value(patient, QL.patientId) or patient)
    verdict = verdict_of([r.outcome for r in results])
    what_if = WhatIf(graph, patient, term, shapes, assessment, probes_failing)
    results = what_if.annotate(results)
    return PatientResult(id=patient_id, source=source, as_of=assessment.as_of,
                         verdict=verdict, criteria=tuple(results), iri=patient, graph=graph,
                         valid_until=what_if.valid_until(verdict, results),
                         eligible_from=what_if.eligible_from(results))


def criterion_outcomes(patient: URIRef, graph: PatientGraph, violations: list[Violation],
                       shapes: Shapes, term: Terminology) -> dict[str, str]:
    """The outcome of every criterion of a patient, as :func:`judge` decides it, without the
    explanations (the protocol probe screens hundreds of synthetic patients with it)."""
    decisions, _probes = decide(graph.own(patient), graph, violations, shapes, term)
    return {cid: d.outcome for cid, d in decisions.items()}
