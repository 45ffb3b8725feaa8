"""How a patient's dated results sit against the screening window (:class:`WindowFit`).

Why: the as-of date defaults to today, and results age out of the window day by day, so a
cohort screened on the wrong date comes out all ``unknown`` with nothing wrong in its data.
Each result carries this small summary so the command can say so once for the whole run,
and which ``--as-of`` would fit, without reading any output back.
"""

from __future__ import annotations

from datetime import date

from rdflib import Literal, URIRef

from ..protocol.namespaces import QL
from ..protocol.terminology import terminology
from .assessment import Assessment
from .graph import PatientGraph
from .results import WindowFit


def _windowed_tests() -> set:
    """The tests of every criterion the screening window applies to
    (``ql:screeningWindowApplies``, ``ql:usesTest``)."""
    return {test for crit in terminology().criteria.values() if crit["window"]
            for test in crit["tests"]}


def window_fit(graph: PatientGraph, patient: URIRef, assessment: Assessment) -> WindowFit:
    """Count the patient's dated results of windowed tests inside and outside the window
    (those set aside as after the as-of date count as outside), with their date range."""
    tests = _windowed_tests()
    observations = list(graph.objects(patient, QL.hasObservation))
    observations += [fact for fact in graph.objects(patient, QL.setAsideFact)
                     if graph.value(fact, QL.setAsideFrom) == QL.hasObservation]
    start, end = assessment.window_start, assessment.as_of
    inside = outside = 0
    earliest: date | None = None
    latest: date | None = None
    for obs in observations:
        value = graph.value(obs, QL.effectiveDate)
        when = value.toPython() if isinstance(value, Literal) else None
        if not isinstance(when, date) or graph.value(obs, QL.test) not in tests:
            continue
        if start <= when <= end:
            inside += 1
        else:
            outside += 1
        earliest = when if earliest is None else min(earliest, when)
        latest = when if latest is None else max(latest, when)
    return WindowFit(inside, outside, earliest, latest)
