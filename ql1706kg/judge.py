"""Turn a patient's validation results into one outcome per criterion and an overall verdict.

The rule is data, not code: every shape says which criterion it decides and what its
violation means (``ql:onViolation``). A criterion is not_applicable if any of its
applicability shapes is violated, else not_met if any limit shape is, else unknown if any
data shape is, else met (criteria.md: "A patient is never eligible on missing data").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rdflib import URIRef

from .derive import Assessment
from .explain import Explainer
from .graph import PatientGraph
from .namespaces import QL
from .terminology import Terminology
from .validate import Shapes, Violation

PRECEDENCE = ("not_applicable", "not_met", "unknown")
OUTCOMES = ("met", "not_met", "unknown", "not_applicable")


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one atomic criterion for one patient, with its explanation."""

    id: str
    text: str
    outcome: str
    explanation: str
    evidence: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    to_collect: str | None = None
    shapes: tuple[str, ...] = ()
    evidence_nodes: tuple[str, ...] = ()  # IRIs of the facts cited (observations, derived...)

    def fields(self) -> tuple:
        """The fields in order: the compact form results travel in between processes."""
        return (self.id, self.text, self.outcome, self.explanation, self.evidence, self.limits,
                self.to_collect, self.shapes, self.evidence_nodes)

    def as_dict(self) -> dict:
        """Return the JSON form of the result."""
        return {"id": self.id, "outcome": self.outcome, "explanation": self.explanation,
                "text": self.text, "evidence": list(self.evidence), "limits": list(self.limits),
                "to_collect": self.to_collect, "violated_shapes": list(self.shapes)}


@dataclass(frozen=True)
class PatientResult:
    """The screening of one patient."""

    id: str
    source: str
    verdict: str
    as_of: date
    criteria: tuple[CriterionResult, ...]
    iri: URIRef | None = None
    graph: PatientGraph | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple:
        # Pickled as plain tuples: results come back from worker processes, and pickle's
        # generic path for ~30 dataclass objects a patient doubled the parent's share of work.
        return (_rebuild, (self.id, self.source, self.verdict, self.as_of,
                           tuple(c.fields() for c in self.criteria), self.iri, self.graph))

    def outcome(self, criterion_id: str) -> str:
        """Return the outcome of one criterion by id."""
        return next(c.outcome for c in self.criteria if c.id == criterion_id)

    def as_dict(self) -> dict:
        """Return the JSON form of the result."""
        return {"id": self.id, "source": self.source, "verdict": self.verdict,
                "counts": {o: sum(c.outcome == o for c in self.criteria) for o in OUTCOMES},
                "criteria": [c.as_dict() for c in self.criteria]}


def _rebuild(patient_id: str, source: str, verdict: str, as_of: date, criteria: tuple,
             iri: URIRef | None, graph: PatientGraph | None) -> PatientResult:
    return PatientResult(patient_id, source, verdict, as_of,
                         tuple(CriterionResult(*c) for c in criteria), iri, graph)


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
    violated = {v.shape for v in violations if v.focus == patient}
    probes_failing = {iri for iri in violated if shapes.info[iri].is_probe}
    explainer = Explainer(graph, patient, term, shapes, assessment, probes_failing)
    results = []
    for crit in term.criteria.values():
        mine = [s for s in shapes.by_criterion(crit["id"]) if s.iri in violated]
        outcome = outcome_of([s.outcome for s in mine])
        results.append(explainer.explain(crit, outcome, mine))
    patient_id = str(graph.value(patient, QL.patientId) or patient)
    return PatientResult(id=patient_id, source=source, as_of=assessment.as_of,
                         verdict=verdict_of([r.outcome for r in results]),
                         criteria=tuple(results), iri=patient, graph=graph)

