"""Lift what the record says about the person: consent and ability to comply, samples and
expected survival, reproductive status.
"""

from __future__ import annotations

from rdflib import Literal, URIRef

from ...protocol.namespaces import QL, RDF, RDFS
from ..literals import boolean, dec, text, when
from .base import LiftBase

# The properties each record section is lifted to: a fact set aside from a section stands for
# them (a criterion that reads one of them, directly or through a derived value, is not met
# while the fact stands). Observations name their test's screening property too (reads.py).
SECTION_LINKS = {
    "sex": (QL.sex,), "birth_date": (QL.birthDate,),
    "consent": (QL.informedConsent, QL.ableToComply),
    "diagnosis": (QL.hasDiagnosis, QL.hasOtherActivePrimaryCancer),
    "metastases": (QL.hasMetastasis, QL.metastasesRecorded),
    "conditions": (QL.hasCondition,),
    "prior_therapies": (QL.hadPriorTherapy, QL.priorTherapyRecorded),
    "tumour_measurements": (QL.hasTumourMeasurement,), "lesions": (QL.hasLesion,),
    "recist": (QL.investigatorReportsMeasurableDisease,),
    "samples": (QL.tumourTissueAvailable, QL.bloodSampleAvailable),
    "expected_survival": (QL.expectedSurvival,), "observations": (QL.hasObservation,),
    "supportive_care": (QL.receivedSupportiveCare, QL.supportiveCareRecorded),
    "reproductive": (QL.lactating, QL.childbearingPotential, QL.contraceptionAgreed,
                     QL.hasPregnancy),
    "deceased": (),
}


class PersonLifter(LiftBase):
    """Consent, status and reproductive facts."""

    def lift_consent(self) -> None:
        consent = self.record.consent
        if consent is None:
            return
        if consent.icf_signed:
            node = self.node("consent")
            self.add(node, RDF.type, QL.InformedConsent)
            self.add(node, QL.signedOn, when(consent.icf_signed))
            self.add(self.patient, QL.informedConsent, node)
        if consent.able_to_comply is not None:
            self.add(self.patient, QL.ableToComply, boolean(consent.able_to_comply))

    def lift_status(self) -> None:
        r, p = self.record, self.patient
        if r.samples is not None:
            if r.samples.tumour_tissue is not None:
                self.add(p, QL.tumourTissueAvailable, boolean(r.samples.tumour_tissue))
            if r.samples.blood is not None:
                self.add(p, QL.bloodSampleAvailable, boolean(r.samples.blood))
        if r.expected_survival is not None:
            node = self.node("expected-survival")
            self.add(p, QL.expectedSurvival, node)
            self.add(node, RDF.type, QL.SurvivalEstimate)
            self.add(node, QL.value, dec(r.expected_survival.value))
            self.add(node, QL.unit, text({"days": "d", "weeks": "wk", "months": "mo"}[
                r.expected_survival.unit]))
            if r.expected_survival.date:
                self.add(node, QL.effectiveDate, when(r.expected_survival.date))

    def lift_reproductive(self) -> None:
        rep, p = self.record.reproductive, self.patient
        if rep is None:
            return
        for prop, value in ((QL.lactating, rep.lactating),
                            (QL.childbearingPotential, rep.childbearing_potential),
                            (QL.contraceptionAgreed, rep.contraception_agreed)):
            if value is not None:
                self.add(p, prop, boolean(value))
        if rep.pregnancies is not None:
            self.add(p, QL.pregnanciesRecorded, boolean(True))
            for i, pregnancy in enumerate(rep.pregnancies):
                node = self.node("pregnancy", i + 1)
                self.add(p, QL.hasPregnancy, node)
                self.add(node, RDF.type, QL.Pregnancy)
                if pregnancy.date is not None:
                    self.add(node, QL.effectiveDate, when(pregnancy.date))
                self.lift_course(node, pregnancy)

    def _fact_links(self, key: str | None) -> list[URIRef]:
        """The fact selections a set-aside fact of a declared kind stands for (any kind's,
        when the kind is not said): the criteria reading them are not met while it stands."""
        kind = self.term.fact_kinds.get(key) if key is not None else None
        return [s.iri for s in self.term.selections
                if kind is None or kind.iri in s.kinds]

    def _kind_label(self, key: str) -> str:
        kind = self.term.fact_kinds.get(key)
        return kind.label if kind is not None else key

    def lift_set_aside(self) -> None:
        """The facts a reader set aside (record ``set_aside``): each a node naming its source,
        field and reason, linked by ``ql:setAsideFact`` and typed ``ql:UntrustedFact``, with
        the properties its section would have been lifted to (``ql:setAsideFrom``) so that no
        criterion reading them is met while it stands (pipeline/reads.py)."""
        for i, fact in enumerate(self.record.set_aside):
            node = self.node("set-aside", i + 1)
            self.add(self.patient, QL.setAsideFact, node)
            self.add(node, RDF.type, QL.UntrustedFact)
            self.add(node, QL.recordSection, text(fact.section))
            links = (self._fact_links(fact.kind) if fact.section == "facts"
                     else SECTION_LINKS.get(fact.section, ()))
            for link in links:
                self.add(node, QL.setAsideFrom, link)
            if fact.kind is not None:
                self.add(node, RDFS.label, Literal(self._kind_label(fact.kind)))
            if fact.test is not None:
                test = self.term_ref(fact.test, QL.Test, "test", QL.UnrecognisedTest)
                if (test, RDF.type, QL.UnrecognisedTest) not in self.graph:
                    self.add(node, QL.test, test)
                else:  # a test the terminology does not know may be any test
                    self.add(node, RDFS.label, Literal(str(fact.test)))
            for prop, value in ((QL.sourceRef, fact.source), (QL.sourceField, fact.field),
                                (QL.setAsideReason, fact.reason)):
                if value:
                    self.add(node, prop, Literal(value))
