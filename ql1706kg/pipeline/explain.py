"""Explanations a trial coordinator can check: criterion, outcome, values, limit, what to do.

Every explanation opens with the criterion id and text, then says why: the values used (with
unit and date, and the raw value when it was converted), the limit that applied and, for a
conditional limit, why it applied (the shape's condition probe); for ``unknown`` what to
collect and from which date; for a result outside the window or in an unconvertible unit,
what was wrong with it. The words come from the ontology (labels, collect hints) and the
shapes (names, messages), so editing a .ttl file changes the explanation too.
"""

from __future__ import annotations

from typing import cast

from rdflib import URIRef

from ..protocol.namespaces import PROV, QL, RDF
from ..protocol.terminology import Terminology
from .assessment import Assessment
from .describe import FactDescriber
from .graph import PatientGraph
from .reads import criterion_paths
from .results import CriterionResult
from .uncertain import span_of
from .validate import ShapeInfo, Shapes

_DERIVED_FROM = PROV.wasDerivedFrom


class Explainer:
    """Explains the criteria of one patient."""

    def __init__(self, graph: PatientGraph, patient: URIRef, term: Terminology, shapes: Shapes,
                 assessment: Assessment, probes_failing: set[URIRef]) -> None:
        self.g, self.p, self.term, self.shapes = graph, patient, term, shapes
        self.a, self.probes_failing = assessment, probes_failing
        self.facts = FactDescriber(graph, patient, term)

    # -- the criterion -------------------------------------------------------------------
    def explain(self, crit: dict, outcome: str, violated: list[ShapeInfo],
                undecided: tuple[str, ...] = (), blocked: list | None = None,
                aside: list | None = None, because: str = "") -> CriterionResult:
        """Return the CriterionResult of one criterion (``undecided``: the outcomes uncertain
        data leave open; ``blocked``/``aside``: the untrusted facts that keep it from being met /
        it reads, named whatever the outcome; ``because``: a composed criterion's reason)."""
        evidence = tuple(self.evidence(crit))
        nodes = tuple(self.evidence_nodes(crit))
        limits = tuple(self.limits(crit["id"]))
        head = f'{crit["id"]} "{crit["text"]}"' + (f' ({crit["reading"]})'
                                                    if crit.get("reading") else "")
        collect = None
        if because and not blocked and not undecided:
            body, collect = composed_body(outcome, violated, because, self.to_collect(
                crit, [s for s in violated if s.outcome == "unknown"]))
        elif outcome == "met":
            body = "Met."
        elif outcome == "not_applicable":
            body = "Not applicable: " + " ".join(
                s.message for s in violated if s.outcome == "not_applicable")
        elif outcome == "not_met":
            body = "Not met: " + " ".join(s.message for s in violated if s.outcome == "not_met")
        elif blocked:
            collect = "a check of the facts set aside (correct or confirm them at the source)"
            body = (f"Unknown: {because or 'it would be met'}, but it reads facts the reader "
                    "set aside as untrusted, which might decide it otherwise: "
                    + "; ".join(self.facts.describe_untrusted(f) for f in blocked)
                    + f". To decide, collect {collect}.")
        elif undecided:
            collect = ("the exact value or date of what is uncertain above, or "
                       + self.to_collect(crit, [s for s in violated if s.outcome == "unknown"]))
            body = self.undecided(crit, undecided, violated) + f" To decide, collect {collect}."
        else:
            collect = self.to_collect(crit, [s for s in violated if s.outcome == "unknown"])
            problems = self.data_problems(crit)
            body = "Unknown: " + " ".join(s.message for s in violated if s.outcome == "unknown")
            if problems:
                body += " " + " ".join(problems)
            notes = self.uncertainty_notes(crit)
            if notes:
                body += " Uncertain on record: " + "; ".join(notes) + "."
            body += f" To decide, collect {collect}."
        parts = [head, body]
        if evidence:
            parts.append("On record: " + "; ".join(evidence) + ".")
        if aside and not blocked:
            parts.append("Set aside as untrusted: " + "; ".join(
                self.facts.describe_untrusted(f) for f in aside) + ".")
        late = self.set_aside(crit)
        if late:
            parts.append(f"Set aside as dated after the assessment date {self.a.as_of}: "
                         + "; ".join(late) + ".")
        if limits and outcome in {"met", "not_met"}:
            parts.append("Limit applied: " + "; ".join(limits) + ".")
        return CriterionResult(id=crit["id"], text=crit["text"], outcome=outcome,
                               explanation=" ".join(parts), evidence=evidence, limits=limits,
                               evidence_nodes=nodes,
                               to_collect=collect, shapes=tuple(str(s.iri) for s in violated))

    def undecided(self, crit: dict, outcomes: tuple[str, ...], shapes: list[ShapeInfo]) -> str:
        """Why uncertain data cannot decide a criterion: the outcomes left open, what the
        bound or interval was, and which limit it could not decide."""
        words = {"met": "met", "not_met": "not met", "unknown": "unknown",
                 "not_applicable": "not applicable"}
        notes = self.uncertainty_notes(crit)
        limits = [s.name for s in shapes if s.outcome in ("not_met", "not_applicable")
                  and s.name]
        text = ("Unknown: the data on record cannot decide it (it could be "
                + " or ".join(words[o] for o in outcomes) + ")")
        if notes:
            text += ": " + "; ".join(notes)
        if limits:
            text += ". Not decided: " + "; ".join(dict.fromkeys(limits))
        return text + "."

    def uncertainty_notes(self, crit: dict) -> list[str]:
        """The notes of the uncertain facts a criterion reads: the facts on the properties it
        reads, the results a screening choice stands for, the sources of a derived value."""
        g, out = self.g, list[str]()
        read = criterion_paths(self.shapes, self.term).get(crit["id"], frozenset())
        seen = set()
        stack = [value for prop in sorted(read, key=str) for value in g.objects(self.p, prop)
                 if isinstance(value, URIRef)]
        while stack:
            node = stack.pop(0)
            if node in seen or node == self.p:
                continue
            seen.add(node)
            out.extend(str(n) for n in g.objects(node, QL.uncertaintyNote))
            for prop in (QL.candidateResult, _DERIVED_FROM):
                stack.extend(v for v in g.objects(node, prop) if isinstance(v, URIRef))
        return list(dict.fromkeys(out))

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
            if (fact, RDF.type, QL.UntrustedFact) in self.g:
                continue  # not late: named where it keeps a criterion from being met
            link = self.g.value(fact, QL.setAsideFrom)
            if link in cited or (link == QL.hasObservation
                                 and self.g.value(fact, QL.test) in crit["tests"]):
                out.append(self.facts.describe(cast(URIRef, link), fact))
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
                (when.first, when.last, o)
                for o in g.objects(self.p, QL.hasObservation) if g.value(o, QL.test) == test
                and (when := span_of(g.value(o, QL.effectiveDate))) is not None
            )
            selected = info.screening_property and g.value(self.p, info.screening_property)
            if selected is not None:
                problem = g.value(selected, QL.dataProblem)
                if problem is not None:
                    dated = g.value(selected, QL.effectiveDate) or ", ".join(sorted(
                        str(g.value(c, QL.effectiveDate))
                        for c in g.objects(selected, QL.candidateResult)))
                    out.append(f"The {info.label} of {dated} cannot be used: {problem}.")
                continue
            before = [o for _first, last, o in observed if last < self.a.window_start]
            after = [o for first, _last, o in observed if first > self.a.as_of]
            if before:
                out.append(f"The latest {info.label} on record "
                           f"({g.value(before[-1], QL.effectiveDate)}) is older than the "
                           f"{self.a.window_days}-day screening window.")
            if after:
                out.append(f"A {info.label} dated after the assessment date "
                           f"({g.value(after[0], QL.effectiveDate)}) is not used.")
        return out


def composed_body(outcome: str, violated: list[ShapeInfo], because: str, collect: str
                  ) -> tuple[str, str | None]:
    """The body of a composed criterion: its outcome, why in its conditions' words (from
    :mod:`.compose`), its own shapes' messages and, when unknown, what to collect."""
    word = {"met": "Met", "not_met": "Not met", "unknown": "Unknown",
            "not_applicable": "Not applicable"}[outcome]
    own = " ".join(s.message for s in violated if s.outcome == outcome and s.message)
    body = f"{word}: {because}." + (f" {own}" if own else "")
    if outcome != "unknown":
        return body, None
    return body + f" To decide, collect {collect}.", collect
