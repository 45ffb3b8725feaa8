"""Turn a patient's validation results into one outcome per criterion and an overall verdict.

The rule is data, not code: every shape says which criterion it decides and what its
violation means (``ql:onViolation``). A criterion is not_applicable if any of its
applicability shapes is violated, else not_met if any limit shape is, else unknown if any
data shape is, else met (criteria.md: "A patient is never eligible on missing data").
"""

from __future__ import annotations

from rdflib import URIRef

from ..protocol.namespaces import QL
from ..protocol.terminology import Terminology
from .assessment import Assessment
from .explain import Explainer
from .graph import PatientGraph
from .results import PatientResult
from .validate import Shapes, Violation
from .what_if import WhatIf

PRECEDENCE = ("not_applicable", "not_met", "unknown")


def verdict_of(outcomes: list[str]) -> str:
    """Overall verdict: ineligible on any not_met, else incomplete on any unknown."""
    if "not_met" in outcomes:
        return "ineligible"
    if "unknown" in outcomes:
        return "incomplete"
    return "eligible"


def outcome_of(violated: list[str]) -> str:
    """Combine the outcomes of a criterion's violated shapes by precedence."""
    for outcome in PRECEDENCE:
        if outcome in violated:
            return outcome
    return "met"


def judge(patient: URIRef, graph: PatientGraph, violations: list[Violation], shapes: Shapes,
          term: Terminology, assessment: Assessment, source: str) -> PatientResult:
    """Return the outcome and explanation of every criterion, and the verdict, of a patient."""
    patient = graph.own(patient)  # the graph's own term: lookups by identity
    violated = {v.shape for v in violations if v.focus is patient or v.focus == patient}
    probes_failing = {iri for iri in violated if shapes.info[iri].is_probe}
    explainer = Explainer(graph, patient, term, shapes, assessment, probes_failing)
    results = []
    for crit in term.criteria.values():
        mine = [s for s in shapes.by_criterion(crit["id"]) if s.iri in violated]
        outcome = outcome_of([s.outcome for s in mine])
        results.append(explainer.explain(crit, outcome, mine))
    patient_id = str(graph.value(patient, QL.patientId) or patient)
    verdict = verdict_of([r.outcome for r in results])
    what_if = WhatIf(graph, patient, term, shapes, assessment, probes_failing)
    results = what_if.annotate(results)
    return PatientResult(id=patient_id, source=source, as_of=assessment.as_of,
                         verdict=verdict, criteria=tuple(results), iri=patient, graph=graph,
                         valid_until=what_if.valid_until(verdict, results),
                         eligible_from=what_if.eligible_from(results))



def criterion_outcomes(patient: URIRef, violations: list[Violation], shapes: Shapes,
                       term: Terminology) -> dict[str, str]:
    """The outcome of every criterion of a patient, as :func:`judge` decides it, without the
    explanations (the protocol probe screens hundreds of synthetic patients with it)."""
    violated = {v.shape for v in violations if v.focus == patient}
    return {cid: outcome_of([s.outcome for s in shapes.by_criterion(cid) if s.iri in violated])
            for cid in term.criteria}
