"""Derive the dated facts of the history: age at the ICF, metastasis after a regimen and
changes of the sum of diameters, RECIST's slice-thickness minimum, expected
survival in days. Dates are spans of days (pipeline/uncertain.py): a value they cannot
fix is an interval, a comparison they cannot decide is left out, with a note saying why.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from rdflib import Literal, URIRef
from rdflib.term import Node

from ...errors import UnitError
from ...protocol.namespaces import PROV, QL, RDF
from ...protocol.units import convert
from ..literals import boolean, d, dec, text
from ..uncertain import Interval, Span, describe_interval, note, possibly, put
from .base import DeriveBase, _number, span
from .dates import calendar_months_apart, completed_years


class TimelineDeriver(DeriveBase):
    """Consent and age, and the history's timing."""

    # -- age ----------------------------------------------------------------------------
    def derive_consent_and_age(self) -> None:
        """Days from the ICF to the assessment date, and the age in completed years on
        the ICF date, else on the assessment date: intervals when a date is a month or
        a year (a birth year 1960 gives 65 or 66 on 2026-11-20: both within 18-75)."""
        g, p, as_of = self.g, self.p, self.a.as_of
        consent = g.value(p, QL.informedConsent)
        signed = span(g, consent, QL.signedOn)
        if signed is not None and consent is not None:
            put(g, consent, QL.daysBeforeAssessment, Interval(
                Decimal((as_of - signed.last).days),
                Decimal((as_of - signed.first).days)), integer=True)
        born = span(g, p, QL.birthDate)
        if born is None:
            return
        self.term.policy("AgeReferenceDate", ("AgeOnICFDateElseAssessmentDate",))
        # an ICF that may be after the assessment date: the age is taken on it or on as-of
        on = Span(signed.first, min(signed.last, as_of)) if signed is not None else \
            Span(as_of, as_of)
        node = URIRef(f"{p}/derived/age")
        g.add((p, QL.age, node))
        g.add((node, RDF.type, QL.DerivedValue))
        age = Interval(Decimal(completed_years(born.last, on.first)),
                       Decimal(completed_years(born.first, on.last)))
        if age.exact:
            g.add((node, QL.normalisedValue, dec(completed_years(born.first, on.first))))
        else:
            put(g, node, QL.normalisedValue, age)
        g.add((node, QL.normalisedUnit, text("a")))
        g.add((node, QL.ageReferenceDate, d(on.first) if on.exact else
               cast(Node, g.value(consent, QL.signedOn))))  # (not exact: a signing date)
        g.add((node, QL.method, QL.AgeInCompletedYears))
        g.add((node, PROV.wasDerivedFrom, p))
        if consent is not None and signed is not None:
            g.add((node, PROV.wasDerivedFrom, consent))
        if not age.exact:
            note(g, node, f"born {g.value(p, QL.birthDate)}, on "
                          f"{'the ICF date ' if signed is not None else ''}{on}: age "
                          f"{describe_interval(age)}")

    # -- progression, lesions, survival -----------------------------------------------------
    def derive_therapy_timing(self) -> None:
        """Whether a metastasis was found on or after each regimen started (the policy
        ``ql:MetastasisOnOrAfterRegimenStart`` of ``ql:MetastasisAfterRegimenTiming``): true when
        one certainly was, false when every one certainly was found before, else left out
        (the shapes then say unknown)."""
        self.term.policy("MetastasisAfterRegimenTiming", ("MetastasisOnOrAfterRegimenStart",))
        g, p = self.g, self.p
        if g.value(p, QL.metastasesRecorded) is None:
            return
        found = [(span(g, m, QL.effectiveDate), g.value(m, QL.onlyPossiblyVia) is None)
                 for m in g.objects(p, QL.hasMetastasis)]
        for therapy in g.objects(p, QL.hadPriorTherapy):
            start = span(g, therapy, QL.startDate)
            if start is None:
                continue
            if any(when is not None and sure and when.first >= start.last
                   for when, sure in found):
                g.add((therapy, QL.metastasisAfterStart, boolean(True)))
            elif all(when is not None and when.last < start.first for when, _sure in found):
                g.add((therapy, QL.metastasisAfterStart, boolean(False)))
            elif any(when is None or when.last >= start.first for when, _sure in found):
                note(g, therapy, f"the dates cannot tell whether a metastasis was found on or "
                                 f"after this regimen started ({g.value(therapy, QL.startDate)})")

    def derive_diameter_changes(self) -> None:
        """Every pair of sums of diameters in a certain order: ratio later/earlier and the
        calendar months apart (an interval when a date is a month or a year)."""
        g, p = self.g, self.p
        measured = sorted(
            (when.first, when.last, m) for m in g.objects(p, QL.hasTumourMeasurement)
            if (when := span(g, m, QL.effectiveDate)) is not None
        )
        for i, (first_from, first_to, first) in enumerate(measured):
            first_sum = _number(g.value(first, QL.sumOfDiametersMm))
            for j in range(i + 1, len(measured)):
                second_from, second_to, second = measured[j]
                second_sum = _number(g.value(second, QL.sumOfDiametersMm))
                if not first_sum or second_sum is None or second_from <= first_to:
                    continue
                node = URIRef(f"{p}/derived/sum-change/{i + 1}-{j + 1}")
                g.add((p, QL.hasDiameterSumChange, node))
                g.add((node, RDF.type, QL.DiameterSumChange))
                g.add((node, QL.fromMeasurement, first))
                g.add((node, QL.toMeasurement, second))
                g.add((node, QL.sumRatio, dec(second_sum / first_sum)))
                months = Interval(Decimal(calendar_months_apart(first_to, second_from)),
                                  Decimal(calendar_months_apart(first_from, second_to)))
                put(g, node, QL.calendarMonthsApart, months, integer=True)
                g.add((node, PROV.wasDerivedFrom, first))
                g.add((node, PROV.wasDerivedFrom, second))
                if g.value(first, QL.onlyPossiblyVia) is not None or \
                        g.value(second, QL.onlyPossiblyVia) is not None:
                    possibly(g, node, QL.hasDiameterSumChange, "a measurement of this pair "
                             "may be after the assessment date")

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
