"""Derive the dated facts of the history: age at the ICF, days from supportive care to the
screening labs (IC9.0), metastasis after a regimen and changes of the sum of diameters (IC5.2),
RECIST's slice-thickness minimum (IC6), expected survival in days (IC8.2).
"""

from __future__ import annotations

from datetime import date

from rdflib import Literal, URIRef

from ...errors import UnitError
from ...protocol.namespaces import PROV, QL, RDF
from ...protocol.units import convert
from ..literals import boolean, d, dec, integer, text
from .base import DeriveBase, _date, _number
from .dates import calendar_months_apart, completed_years
from .labs import laboratory_tests


class TimelineDeriver(DeriveBase):
    """Consent and age, and the history's timing."""

    # -- age and clearance ----------------------------------------------------------------
    def derive_consent_and_age(self) -> None:
        g, p = self.g, self.p
        consent = g.value(p, QL.informedConsent)
        signed = _date(g.value(consent, QL.signedOn)) if consent is not None else None
        if signed is not None and consent is not None:
            g.add((consent, QL.daysBeforeAssessment, integer((self.a.as_of - signed).days)))
        born = _date(g.value(p, QL.birthDate))
        if born is None:
            return
        self.term.policy("AgeDateForIC2", ("AgeOnICFDateElseAssessmentDate",))
        on = signed or self.a.as_of
        node = URIRef(f"{p}/derived/age")
        g.add((p, QL.age, node))
        g.add((node, RDF.type, QL.DerivedValue))
        g.add((node, QL.normalisedValue, dec(completed_years(born, on))))
        g.add((node, QL.normalisedUnit, text("a")))
        g.add((node, QL.ageReferenceDate, d(on)))
        g.add((node, QL.method, QL.AgeInCompletedYears))
        g.add((node, PROV.wasDerivedFrom, p))
        if consent is not None and signed is not None:
            g.add((node, PROV.wasDerivedFrom, consent))

    # -- IC9.0, IC5.2, IC6, IC8.2 -----------------------------------------------------------
    def derive_supportive_care_days(self) -> None:
        """Days from each product to the nearest screening laboratory result on or after it
        (``ql:NearestScreeningLabOnOrAfter``, the policy of ``ql:SupportiveCareAnchor``)."""
        self.term.policy("SupportiveCareAnchor", ("NearestScreeningLabOnOrAfter",))
        g = self.g
        labs: list[tuple[date, URIRef]] = []
        for test in laboratory_tests(self):
            obs = self.selected.get(test)
            when = _date(g.value(obs, QL.effectiveDate)) if obs is not None else None
            if when is not None and obs is not None:
                labs.append((when, obs))
        # by date, then by IRI: the order of the (date, URIRef) tuples, without a Python-level
        # comparison of terms for every pair of results of one day
        labs.sort(key=lambda item: (item[0], str(item[1])))
        for event in g.objects(self.p, QL.receivedSupportiveCare):
            given = _date(g.value(event, QL.effectiveDate))
            if given is None:
                continue
            after = [(when, obs) for when, obs in labs if when >= given]
            if after:
                when, obs = after[0]
                g.add((event, QL.daysBeforeScreeningLab, integer((when - given).days)))
                g.add((event, QL.relatedScreeningLab, obs))

    def derive_therapy_timing(self) -> None:
        """Whether a metastasis was found on or after each regimen started (IC5.2; the policy
        ``ql:MetastasisOnOrAfterRegimenStart`` of ``ql:MetastasisTimingForIC5.2``)."""
        self.term.policy("MetastasisTimingForIC5.2", ("MetastasisOnOrAfterRegimenStart",))
        g, p = self.g, self.p
        if g.value(p, QL.metastasesRecorded) is None:
            return
        dates = [_date(g.value(m, QL.effectiveDate)) for m in g.objects(p, QL.hasMetastasis)]
        for therapy in g.objects(p, QL.hadPriorTherapy):
            start = _date(g.value(therapy, QL.startDate))
            if start is None:
                continue
            if any(when is not None and when >= start for when in dates):
                g.add((therapy, QL.metastasisAfterStart, boolean(True)))
            elif all(when is not None for when in dates):
                g.add((therapy, QL.metastasisAfterStart, boolean(False)))

    def derive_diameter_changes(self) -> None:
        """Every ordered pair of sums of diameters: ratio later/earlier, months apart (IC5.2)."""
        g, p = self.g, self.p
        measured = sorted(
            (when, m) for m in g.objects(p, QL.hasTumourMeasurement)
            if (when := _date(g.value(m, QL.effectiveDate))) is not None
        )
        for i, (first_date, first) in enumerate(measured):
            first_sum = _number(g.value(first, QL.sumOfDiametersMm))
            for j in range(i + 1, len(measured)):
                second_date, second = measured[j]
                second_sum = _number(g.value(second, QL.sumOfDiametersMm))
                if not first_sum or second_sum is None or second_date <= first_date:
                    continue
                node = URIRef(f"{p}/derived/sum-change/{i + 1}-{j + 1}")
                g.add((p, QL.hasDiameterSumChange, node))
                g.add((node, RDF.type, QL.DiameterSumChange))
                g.add((node, QL.fromMeasurement, first))
                g.add((node, QL.toMeasurement, second))
                g.add((node, QL.sumRatio, dec(second_sum / first_sum)))
                g.add((node, QL.calendarMonthsApart,
                       integer(calendar_months_apart(first_date, second_date))))
                g.add((node, PROV.wasDerivedFrom, first))
                g.add((node, PROV.wasDerivedFrom, second))

    def derive_lesions(self) -> None:
        """RECIST: a lesion on CT/MRI measures at least a multiple of the slice thickness (the
        factor is ``ql:RecistSliceThicknessFactor``, 2 as bundled; the shapes compare)."""
        g = self.g
        factor = None
        for lesion in g.objects(self.p, QL.hasLesion):
            thickness = _number(g.value(lesion, QL.sliceThicknessMm))
            if thickness is not None:
                factor = factor or self.term.parameter("RecistSliceThicknessFactor")
                g.add((lesion, QL.twiceSliceThicknessMm, dec(factor * thickness)))

    def derive_survival(self) -> None:
        g = self.g
        estimate = g.value(self.p, QL.expectedSurvival)
        if estimate is None:
            return
        value, unit = _number(g.value(estimate, QL.value)), g.value(estimate, QL.unit)
        if value is None:  # (the record's model requires one)
            return
        try:
            days = convert(value, str(unit), "d")
        except UnitError as exc:
            g.add((estimate, QL.dataProblem, Literal(str(exc))))
            return
        g.add((estimate, QL.normalisedValue, dec(days)))
        g.add((estimate, QL.normalisedUnit, text("d")))
