"""Explanations a trial coordinator can check: criterion, outcome, values, limit, what to do.

Every explanation opens with the criterion id and text, then says why: the values used (with
unit and date, and the raw value when it was converted), the limit that applied and, for a
conditional limit, why it applied (the shape's condition probe); for ``unknown`` what to
collect and from which date; for a result outside the window or in an unconvertible unit,
what was wrong with it. The words come from the ontology (labels, collect hints) and the
shapes (names, messages), so editing a .ttl file changes the explanation too.
"""

from __future__ import annotations

from rdflib import URIRef

from ..protocol.namespaces import QL
from ..protocol.terminology import Terminology
from .assessment import Assessment
from .describe import FactDescriber
from .graph import PatientGraph
from .results import CriterionResult
from .validate import ShapeInfo, Shapes


class Explainer:
    """Explains the criteria of one patient."""

    def __init__(self, graph: PatientGraph, patient: URIRef, term: Terminology, shapes: Shapes,
                 assessment: Assessment, probes_failing: set[URIRef]) -> None:
        self.g, self.p, self.term, self.shapes = graph, patient, term, shapes
        self.a, self.probes_failing = assessment, probes_failing
        self.facts = FactDescriber(graph, patient, term)

    # -- the criterion -------------------------------------------------------------------
    def explain(self, crit: dict, outcome: str, violated: list[ShapeInfo]) -> CriterionResult:
        """Return the CriterionResult of one criterion."""
        evidence = tuple(self.evidence(crit))
        nodes = tuple(self.evidence_nodes(crit))
        limits = tuple(self.limits(crit["id"]))
        head = f'{crit["id"]} "{crit["text"]}"'
        collect = None
        if outcome == "met":
            body = "Met."
        elif outcome == "not_applicable":
            body = "Not applicable: " + " ".join(
                s.message for s in violated if s.outcome == "not_applicable")
        elif outcome == "not_met":
            body = "Not met: " + " ".join(s.message for s in violated if s.outcome == "not_met")
        else:
            collect = self.to_collect(crit, [s for s in violated if s.outcome == "unknown"])
            problems = self.data_problems(crit)
            body = "Unknown: " + " ".join(s.message for s in violated if s.outcome == "unknown")
            if problems:
                body += " " + " ".join(problems)
            body += f" To decide, collect {collect}."
        parts = [head, body]
        if evidence:
            parts.append("On record: " + "; ".join(evidence) + ".")
        aside = self.set_aside(crit)
        if aside:
            parts.append(f"Set aside as dated after the assessment date {self.a.as_of}: "
                         + "; ".join(aside) + ".")
        if limits and outcome in {"met", "not_met"}:
            parts.append("Limit applied: " + "; ".join(limits) + ".")
        return CriterionResult(id=crit["id"], text=crit["text"], outcome=outcome,
                               explanation=" ".join(parts), evidence=evidence, limits=limits,
                               evidence_nodes=nodes,
                               to_collect=collect, shapes=tuple(str(s.iri) for s in violated))

    def to_collect(self, crit: dict, unknown: list[ShapeInfo]) -> str:
        """What to collect: the hint of each shape that could not decide (so a recorded
        lactation status is not asked for again), the criterion's hint for a shape without
        one."""
        default = crit["collect"] or "the data named in the criterion"
        hint = " and ".join(dict.fromkeys(s.collect or default for s in unknown)) or default
        if crit["window"]:
            return (f"{hint} dated from {self.a.window_start.isoformat()} to "
                    f"{self.a.as_of.isoformat()} (the {self.a.window_days}-day screening window)")
        return hint

    def limits(self, criterion: str) -> list[str]:
        """The limits of a criterion that apply to this patient, with why they apply."""
        out = []
        for shape in self.shapes.by_criterion(criterion):
            if shape.outcome != "not_met" or not shape.name or not shape.is_limit:
                continue
            if shape.applies_when is not None:
                if shape.applies_when in self.probes_failing:
                    continue
                out.append(f"{shape.name} because {self.probe_label(shape.applies_when)}")
            elif shape.applies_unless is not None:
                if shape.applies_unless not in self.probes_failing:
                    continue
                out.append(f"{shape.name} because no "
                           f"{self.probe_label(shape.applies_unless)}")
            else:
                out.append(shape.name)
        return out

    def probe_label(self, probe: URIRef) -> str:
        info = self.shapes.info.get(probe)
        return info.label if info is not None else str(probe)

    # -- evidence -------------------------------------------------------------------------
    def evidence(self, crit: dict) -> list[str]:
        out: list[str] = []
        for prop in crit["evidence"]:
            for value in sorted(self.g.objects(self.p, prop), key=str):
                text = self.facts.describe(prop, value)
                if text and text not in out:
                    out.append(text)
        return out

    def set_aside(self, crit: dict) -> list[str]:
        """The facts dated after the assessment date that this criterion would have read: by
        the properties it cites (or those they are derived from), and by the tests it uses."""
        cited = set(crit["evidence"])
        cited |= {source for prop in crit["evidence"]
                  for source in self.term.derived_from.get(prop, ())}
        out = []
        for fact in self.g.objects(self.p, QL.setAsideFact):
            link = self.g.value(fact, QL.setAsideFrom)
            if link in cited or (link == QL.hasObservation
                                 and self.g.value(fact, QL.test) in crit["tests"]):
                out.append(self.facts.describe(link, fact))
        return sorted(out)

    def evidence_nodes(self, crit: dict) -> list[str]:
        """The facts the evidence cites, as IRIs, for the verdict graph (ql:evidence)."""
        return sorted({str(value) for prop in crit["evidence"]
                       for value in self.g.objects(self.p, prop) if isinstance(value, URIRef)})

    # -- why a value could not be used ----------------------------------------------------
    def data_problems(self, crit: dict) -> list[str]:
        """Results of the criterion's tests that exist but could not be used, and why."""
        g, out = self.g, []
        for test in crit["tests"]:
            info = self.term.tests.get(test)
            if info is None:
                continue
            observed = sorted(
                (g.value(o, QL.effectiveDate).toPython(), o)
                for o in g.objects(self.p, QL.hasObservation) if g.value(o, QL.test) == test
            )
            selected = info.screening_property and g.value(self.p, info.screening_property)
            if selected is not None:
                problem = g.value(selected, QL.dataProblem)
                if problem is not None:
                    out.append(f"The {info.label} of {g.value(selected, QL.effectiveDate)} "
                               f"cannot be used: {problem}.")
                continue
            before = [o for when, o in observed if when < self.a.window_start]
            after = [o for when, o in observed if when > self.a.as_of]
            if before:
                out.append(f"The latest {info.label} on record "
                           f"({g.value(before[-1], QL.effectiveDate)}) is older than the "
                           f"{self.a.window_days}-day screening window.")
            if after:
                out.append(f"A {info.label} dated after the assessment date "
                           f"({g.value(after[0], QL.effectiveDate)}) is not used.")
        return out
