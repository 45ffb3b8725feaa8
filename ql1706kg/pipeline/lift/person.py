"""Lift what the record says about the person: consent and ability to comply, samples and
expected survival, reproductive status.
"""

from __future__ import annotations

from ...protocol.namespaces import QL, RDF
from ..literals import boolean, dec, text, when
from .base import LiftBase


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
