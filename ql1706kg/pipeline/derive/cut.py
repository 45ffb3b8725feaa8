"""The as-of cut: one place where every dated fact after the assessment date is set aside.

A screening as of a date may use only what was known on that date. A consent signed, a
diagnosis made, a metastasis found, a regimen started, a result taken, a product given or a
lesion measured after it did not exist yet: such a fact is moved off the property the shapes
read (``ql:hasMetastasis``…) onto ``ql:setAsideFact``, remembering where it came from
(``ql:setAsideFrom``), so no criterion uses it and every criterion that would have read it can
name it in its explanation. A list whose every item is set aside is no longer "recorded": an
empty list read as "none" would be a claim the record never made about that date. However far
after the assessment date a fact lies, it is only invisible, never an error: a retrospective
screen ("who was eligible on 2024-03-01") runs on an export that holds later data.

A partial date (a month, a year) may straddle the assessment date: such a fact is kept but
marked as holding only possibly (``ql:onlyPossiblyVia``, pipeline/uncertain.py), so a criterion
that needs it is decided only when both readings agree. Observations are not marked: which
result is the screening one is settled by the selection (derive/selection.py).
"""

from __future__ import annotations

from datetime import date
from typing import cast

from rdflib import URIRef

from ...protocol.namespaces import QL
from ..graph import PatientGraph
from ..uncertain import possibly, span_of

# The dated facts of a patient: the property that links them, the properties that date them
# (the first one present), and the "recorded" flag a list of them carries.
DATED: tuple[tuple[URIRef, tuple[URIRef, ...], URIRef | None], ...] = (
    (QL.informedConsent, (QL.signedOn,), None),
    (QL.hasDiagnosis, (QL.effectiveDate,), None),
    (QL.hasMetastasis, (QL.effectiveDate,), QL.metastasesRecorded),
    (QL.hasConditionRecord, (QL.effectiveDate,), None),
    (QL.hadPriorTherapy, (QL.startDate,), QL.priorTherapyRecorded),
    (QL.hasTumourMeasurement, (QL.effectiveDate,), None),
    (QL.hasLesion, (QL.effectiveDate,), None),
    (QL.hasObservation, (QL.effectiveDate,), None),
    (QL.receivedSupportiveCare, (QL.effectiveDate, QL.startDate), QL.supportiveCareRecorded),
    (QL.expectedSurvival, (QL.effectiveDate,), None),
    (QL.hasPregnancy, (QL.startDate, QL.effectiveDate), QL.pregnanciesRecorded),
    (QL.hasFact, (QL.effectiveDate,), None),
)


def cut_after(graph: PatientGraph, patient: URIRef, as_of: date) -> list[URIRef]:
    """Set aside every fact of ``patient`` dated after ``as_of``; mark those that may be;
    return the facts set aside."""
    aside: list[URIRef] = []
    for link, dated_by, recorded in DATED:
        facts = list(graph.objects(patient, link))
        late = []
        for fact in facts:
            when = next((v for prop in dated_by if (v := graph.value(fact, prop)) is not None),
                        None)
            span = span_of(when)
            if span is None or span.last <= as_of:
                continue
            if span.first > as_of:
                late.append(fact)
            elif link != QL.hasObservation:
                possibly(graph, fact, link, f"dated {when}, which may be after the assessment "
                                            f"date {as_of}")
        for fact in late:
            graph.remove((patient, link, fact))
            graph.add((patient, QL.setAsideFact, fact))
            graph.add((fact, QL.setAsideFrom, link))
            aside.append(cast(URIRef, fact))
        if recorded is not None and late and len(late) == len(facts):
            for flag in list(graph.objects(patient, recorded)):
                graph.remove((patient, recorded, flag))
    return aside
