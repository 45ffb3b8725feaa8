"""What every derivation shares: the patient's graph, the assessment, the terminology, the
screening result selected per test, and reading typed values back from literals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rdflib import Literal, URIRef

from ...protocol.terminology import Terminology
from ..assessment import Assessment
from ..graph import PatientGraph
from ..uncertain import Span, span_of


def _date(value) -> date | None:
    """The day of an exact date literal (None for a month, a year or no date)."""
    span = span_of(value)
    return span.first if span is not None and span.exact else None


def span(graph: PatientGraph, node, prop) -> Span | None:
    """The span of days of a node's date property (None if it has none)."""
    return span_of(graph.value(node, prop)) if node is not None else None


def _number(value) -> Decimal | None:
    if isinstance(value, Literal):
        py = value.toPython()
        if isinstance(py, Decimal | int | float) and not isinstance(py, bool):
            return Decimal(str(py))
    return None


class DeriveBase:
    """One patient's derivation state; the derivers of each concern extend it."""

    def __init__(self, graph: PatientGraph, patient: URIRef, assessment: Assessment,
                 term: Terminology) -> None:
        self.g, self.p, self.a, self.term = graph, patient, assessment, term
        self.selected: dict[URIRef, URIRef] = {}  # test -> selected observation

    def laboratory_tests_of_ic9(self) -> set[URIRef]:
        """Laboratory tests whose dates anchor another criterion's waiting period: those read
        by the criteria the ontology says anchor one (``ql:anchorsWindowOf``), not by an id
        prefix."""
        return {
            test for crit in self.term.criteria.values() if crit.get("anchors")
            for test in crit["tests"] if self.term.tests.get(test) and
            self.term.tests[test].is_laboratory
        }
