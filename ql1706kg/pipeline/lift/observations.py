"""Lift results and events dated for the screening window: observations with their values (a
word becomes a concept of the test's value set) and supportive care.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rdflib import Literal, URIRef

from ...protocol.namespaces import QL, RDF
from ..literals import boolean, dec, instant, text, when
from .base import LiftBase


class ObservationLifter(LiftBase):
    """Observations, their values, and supportive care."""

    def lift_observations(self) -> None:
        for i, obs in enumerate(self.record.observations):
            node = self.node("observation", i + 1)
            self.add(self.patient, QL.hasObservation, node)
            self.add(node, RDF.type, QL.Observation)
            test = self.term_ref(obs.test, QL.Test, "test", QL.UnrecognisedTest)
            self.add(node, QL.test, test)
            self.add(node, QL.testText, text(obs.test if isinstance(obs.test, str)
                                                else f"{obs.test.system} {obs.test.code}"))
            self.add(node, QL.effectiveDate, when(obs.date))
            if obs.date.instant is not None:
                self.add(node, QL.effectiveInstant, instant(obs.date.instant))
            if obs.comparator is not None:
                self.add(node, QL.comparator, text(obs.comparator))
            info = self.term.tests.get(test)
            self.lift_value(node, obs.value, info.value_set if info else None)
            if obs.unit:
                self.add(node, QL.unit, text(obs.unit))
            if obs.uln is not None:
                self.add(node, QL.upperLimitOfNormal, dec(obs.uln))
            if obs.lln is not None:
                self.add(node, QL.lowerLimitOfNormal, dec(obs.lln))

    def lift_value(self, node: URIRef, value: float | str, value_set: URIRef | None) -> None:
        """Numbers become decimals; words become concepts of the test's value set (2+, negative).

        The value set comes from the test (``ql:resultValueSet``): "negative" is a dipstick
        grade for a urine protein test and a qualitative result for a pregnancy test.
        """
        if isinstance(value, str):
            concept = self.term.find(value, value_set) if value_set is not None else None
            if concept is None:
                try:
                    self.add(node, QL.value, dec(Decimal(value.strip())))
                    return
                except InvalidOperation:
                    pass
            self.add(node, QL.value, Literal(value))
            if concept is not None:
                self.copy_types(concept)
                self.add(node, QL.valueConcept, concept)
            return
        self.add(node, QL.value, dec(value))

    def lift_supportive_care(self) -> None:
        care = self.record.supportive_care
        if care is None:
            return
        self.add(self.patient, QL.supportiveCareRecorded, boolean(True))
        for i, event in enumerate(care):
            node = self.node("supportive-care", i + 1)
            self.add(self.patient, QL.receivedSupportiveCare, node)
            self.add(node, RDF.type, QL.SupportiveCareEvent)
            self.add(node, QL.product, self.term_ref(event.product, QL.Drug, "product",
                                                     QL.UnrecognisedDrug))
            self.lift_course(node, event)
            if event.date:
                self.add(node, QL.effectiveDate, when(event.date))
