"""The as-of cut: one place where every dated fact after the assessment date is set aside.

A screening as of a date may use only what was known on that date. A consent signed, a
diagnosis made, a metastasis found, a regimen started, a result taken, a product given or a
lesion measured after it did not exist yet: such a fact is moved off the property the shapes
read (``ql:hasMetastasis``…) onto ``ql:setAsideFact``, remembering where it came from
(``ql:setAsideFrom``), so no criterion uses it and every criterion that would have read it can
name it in its explanation. A list whose every item is set aside is no longer "recorded": an
empty list read as "none" would be a claim the record never made about that date.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from rdflib import Literal, URIRef

from ...protocol.namespaces import QL
from ..graph import PatientGraph

# The dated facts of a patient: the property that links them and the property that dates them,
# and the "recorded" flag a list of them carries.
DATED: tuple[tuple[URIRef, URIRef, URIRef | None], ...] = (
    (QL.informedConsent, QL.signedOn, None),
    (QL.hasDiagnosis, QL.effectiveDate, None),
    (QL.hasMetastasis, QL.effectiveDate, QL.metastasesRecorded),
    (QL.hadPriorTherapy, QL.startDate, QL.priorTherapyRecorded),
    (QL.hasTumourMeasurement, QL.effectiveDate, None),
    (QL.hasLesion, QL.effectiveDate, None),
    (QL.hasObservation, QL.effectiveDate, None),
    (QL.receivedSupportiveCare, QL.effectiveDate, QL.supportiveCareRecorded),
    (QL.expectedSurvival, QL.effectiveDate, None),
)


def cut_after(graph: PatientGraph, patient: URIRef, as_of: date) -> list[URIRef]:
    """Set aside every fact of ``patient`` dated after ``as_of``; return the facts set aside."""
    aside: list[URIRef] = []
    for link, dated_by, recorded in DATED:
        facts = list(graph.objects(patient, link))
        late = [fact for fact in facts if _after(graph.value(fact, dated_by), as_of)]
        for fact in late:
            graph.remove((patient, link, fact))
            graph.add((patient, QL.setAsideFact, fact))
            graph.add((fact, QL.setAsideFrom, link))
            aside.append(cast(URIRef, fact))
        if recorded is not None and late and len(late) == len(facts):
            for flag in list(graph.objects(patient, recorded)):
                graph.remove((patient, recorded, flag))
    return aside


def _after(value: object, as_of: date) -> bool:
    if not isinstance(value, Literal):
        return False
    when = value.toPython()
    return isinstance(when, date) and when > as_of
