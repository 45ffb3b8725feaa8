"""Derive, before validation, every value a criterion compares: so shapes stay comparisons.

Formulas and date arithmetic are not portable in SPARQL (pitfalls.md) and are the slow part of
SHACL-SPARQL, so they are computed here once: unit-normalised values, ratios to ULN, the
screening result of each test (most recent on or before ``as_of`` within the window), age,
creatinine clearance, dipstick grades, day counts for IC9.0, changes of the sum of diameters
for IC5.2. No protocol threshold is written here: the limits are in shapes/. Each derived value
is either stored on the fact it comes from or is a ``ql:DerivedValue`` node linked to its
sources with ``prov:wasDerivedFrom``.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

from rdflib import Literal, URIRef

from ..errors import UnitError
from ..protocol.namespaces import PROV, QL, RDF
from ..protocol.terminology import Terminology, terminology
from ..protocol.units import convert
from .assessment import Assessment
from .graph import PatientGraph
from .literals import boolean, d, dec, integer, text


def derive(graph: PatientGraph, patient: URIRef, assessment: Assessment,
           term: Terminology | None = None) -> PatientGraph:
    """Add the derived facts of one patient to its graph (in place) and return the graph."""
    _Deriver(graph, patient, assessment, term or terminology()).run()
    return graph


def completed_years(born: date, on: date) -> int:
    """Age in completed years: a birthday counts from its day (29 Feb → 1 Mar otherwise)."""
    years = on.year - born.year
    return years - ((on.month, on.day) < (born.month, born.day))


def add_months(start: date, months: int) -> date:
    """The same day ``months`` calendar months later (clamped to the month's last day)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def calendar_months_apart(earlier: date, later: date) -> int:
    """The fewest whole calendar months m with ``later`` on or before ``earlier`` + m months."""
    months = max(0, (later.year - earlier.year) * 12 + later.month - earlier.month - 1)
    while add_months(earlier, months) < later:
        months += 1
    return months


def _date(value) -> date | None:
    return value.toPython() if isinstance(value, Literal) and value.datatype else None


def _number(value) -> Decimal | None:
    if isinstance(value, Literal):
        py = value.toPython()
        if isinstance(py, Decimal | int | float) and not isinstance(py, bool):
            return Decimal(str(py))
    return None


class _Deriver:
    def __init__(self, graph: PatientGraph, patient: URIRef, assessment: Assessment,
                 term: Terminology) -> None:
        self.g, self.p, self.a, self.term = graph, patient, assessment, term
        self.selected: dict[URIRef, URIRef] = {}  # test -> selected observation

    def run(self) -> None:
        g, p = self.g, self.p
        g.add((p, QL.assessmentDate, d(self.a.as_of)))
        g.add((p, QL.screeningWindowDays, integer(self.a.window_days)))
        for obs in list(g.objects(p, QL.hasObservation)):
            self.normalise(obs)
        self.select_screening_results()
        self.derive_consent_and_age()
        self.derive_clearance()
        self.derive_supportive_care_days()
        self.derive_therapy_timing()
        self.derive_diameter_changes()
        self.derive_lesions()
        self.derive_survival()

    # -- observations ---------------------------------------------------------------------
    def normalise(self, obs: URIRef) -> None:
        """Normalise an observation's value to its test's canonical unit, with ratio to ULN."""
        g = self.g
        info = self.term.tests.get(g.value(obs, QL.test))
        when = _date(g.value(obs, QL.effectiveDate))
        if when is not None:
            g.add((obs, QL.daysBeforeAssessment, integer((self.a.as_of - when).days)))
        if info is None:
            return
        value, concept = _number(g.value(obs, QL.value)), g.value(obs, QL.valueConcept)
        unit = g.value(obs, QL.unit)
        if concept is not None:
            self.interpret_concept(obs, concept)
        elif value is not None:
            self.normalise_quantity(obs, info, value, str(unit) if unit is not None else None)
        elif g.value(obs, QL.value) is not None:
            g.add((obs, QL.dataProblem, Literal(
                f"result '{g.value(obs, QL.value)}' is not a number or a known grade")))

    def interpret_concept(self, obs: URIRef, concept: URIRef) -> None:
        rank = self.term.ranks.get(concept)
        if rank is not None:
            self.g.add((obs, QL.ordinalRank, dec(rank)))
        if self.term.is_a(concept, QL.QualitativeResult):
            self.g.add((obs, QL.resultInterpretation, concept))

    def normalise_quantity(self, obs: URIRef, info, value: Decimal, unit: str | None) -> None:
        g = self.g
        uln = _number(g.value(obs, QL.upperLimitOfNormal))
        # A number given for a test whose results are coded is read through its value set.
        if info.value_set == QL.ECOGGrade:
            g.add((obs, QL.ordinalRank, dec(value)))
            return
        if info.value_set == QL.QualitativeResult:
            if uln is not None:
                g.add((obs, QL.resultInterpretation, QL.Positive if value > uln else QL.Negative))
            return
        if info.value_set == QL.DipstickGrade:
            self.grade_dipstick(obs, value, unit)
            return
        try:
            normalised = convert(value, unit, info.canonical_unit, info.molar_mass,
                                 info.unit_aliases)
        except UnitError as exc:
            # A unit that is not one of the test's is bad data: no ratio is trusted from it.
            g.add((obs, QL.dataProblem, Literal(str(exc))))
            return
        if uln is not None and uln > 0:
            g.add((obs, QL.ratioToULN, dec(value / uln)))
        g.add((obs, QL.normalisedValue, dec(normalised)))
        if info.canonical_unit:
            g.add((obs, QL.normalisedUnit, text(info.canonical_unit)))

    def grade_dipstick(self, obs: URIRef, value: Decimal, unit: str | None) -> None:
        """A semi-quantitative dipstick in mg/dL takes the highest grade it reaches."""
        try:
            mg_dl = convert(value, unit, "mg/dL")
        except UnitError as exc:
            self.g.add((obs, QL.dataProblem, Literal(str(exc))))
            return
        reached = [(conc, grade) for grade, conc in self.term.concentrations.items()
                   if conc <= mg_dl]
        if reached:
            grade = max(reached)[1]
            self.g.add((obs, QL.valueConcept, grade))
            self.g.add((obs, QL.ordinalRank, dec(self.term.ranks[grade])))

    def select_screening_results(self) -> None:
        """Link the most recent usable-dated result in the window of each test to the patient."""
        g, start, end = self.g, self.a.window_start, self.a.as_of
        best: dict[URIRef, tuple[tuple[date, bool, int], URIRef]] = {}
        for index, obs in enumerate(sorted(g.objects(self.p, QL.hasObservation))):
            test, when = g.value(obs, QL.test), _date(g.value(obs, QL.effectiveDate))
            if test not in self.term.tests or when is None or not start <= when <= end:
                continue
            # latest date first; on the same day a usable result beats an unusable one
            key = (when, g.value(obs, QL.dataProblem) is None, index)
            if test not in best or key > best[test][0]:
                best[test] = (key, obs)
        lab_tests = self.laboratory_tests_of_ic9()
        for test, ((when, _usable, _index), obs) in best.items():
            self.selected[test] = obs
            prop = self.term.tests[test].screening_property
            if prop is not None:
                g.add((self.p, prop, obs))
            if test in lab_tests:
                g.add((self.p, QL.screeningLabDate, d(when)))

    def laboratory_tests_of_ic9(self) -> set[URIRef]:
        """Laboratory tests read by the IC9 criteria: their dates anchor IC9.0's 14 days."""
        return {
            test for crit in self.term.criteria.values() if crit["id"].startswith("IC9.")
            for test in crit["tests"] if self.term.tests.get(test) and
            self.term.tests[test].is_laboratory
        }

    # -- age and clearance ----------------------------------------------------------------
    def derive_consent_and_age(self) -> None:
        g, p = self.g, self.p
        consent = g.value(p, QL.informedConsent)
        signed = _date(g.value(consent, QL.signedOn)) if consent is not None else None
        if signed is not None:
            g.add((consent, QL.daysBeforeAssessment, integer((self.a.as_of - signed).days)))
        born = _date(g.value(p, QL.birthDate))
        if born is None:
            return
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

    def derive_clearance(self) -> None:
        """Use a measured clearance if on record, else Cockcroft-Gault (clinical-rules §3)."""
        g, p = self.g, self.p
        node = URIRef(f"{p}/derived/creatinine-clearance")
        measured = self.selected.get(QL.MeasuredCreatinineClearance)
        value = _number(g.value(measured, QL.normalisedValue)) if measured is not None else None
        if value is not None:
            self._clearance(node, value, QL.MeasuredClearance, [measured])
            return
        creatinine, weight = self.selected.get(QL.Creatinine), self.selected.get(QL.BodyWeight)
        born, sex = _date(g.value(p, QL.birthDate)), g.value(p, QL.sex)
        if creatinine is None or weight is None or born is None or sex not in (QL.Male,
                                                                               QL.Female):
            return
        scr_umol = _number(g.value(creatinine, QL.normalisedValue))
        kg = _number(g.value(weight, QL.normalisedValue))
        if scr_umol is None or kg is None or scr_umol <= 0:
            return
        mass = self.term.tests[QL.Creatinine].molar_mass
        scr_mg_dl = convert(scr_umol, "umol/L", "mg/dL", mass)
        age = completed_years(born, self.a.as_of)
        crcl = Decimal(140 - age) * kg / (Decimal(72) * scr_mg_dl)
        if sex == QL.Female:
            crcl *= Decimal("0.85")
        self._clearance(node, crcl.quantize(Decimal("0.01")), QL.CockcroftGault,
                        [creatinine, weight, p])
        g.add((node, QL.ageReferenceDate, d(self.a.as_of)))

    def _clearance(self, node: URIRef, value: Decimal, method: URIRef,
                   sources: list[URIRef]) -> None:
        g = self.g
        g.add((self.p, QL.creatinineClearance, node))
        g.add((node, RDF.type, QL.DerivedValue))
        g.add((node, QL.normalisedValue, dec(value)))
        g.add((node, QL.normalisedUnit, text("mL/min")))
        g.add((node, QL.method, method))
        for source in sources:
            g.add((node, PROV.wasDerivedFrom, source))

    # -- IC9.0, IC5.2, IC6, IC8.2 -----------------------------------------------------------
    def derive_supportive_care_days(self) -> None:
        """Days from each product to the nearest screening laboratory result on or after it."""
        g = self.g
        labs: list[tuple[date, URIRef]] = []
        for test in self.laboratory_tests_of_ic9():
            obs = self.selected.get(test)
            when = _date(g.value(obs, QL.effectiveDate)) if obs is not None else None
            if when is not None:
                labs.append((when, obs))
        labs.sort()
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
        """Whether a metastasis was found on or after each regimen started (IC5.2)."""
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
        """RECIST: with slices thicker than 5 mm the minimum size is twice the thickness."""
        g = self.g
        for lesion in g.objects(self.p, QL.hasLesion):
            thickness = _number(g.value(lesion, QL.sliceThicknessMm))
            if thickness is not None:
                g.add((lesion, QL.twiceSliceThicknessMm, dec(2 * thickness)))

    def derive_survival(self) -> None:
        g = self.g
        estimate = g.value(self.p, QL.expectedSurvival)
        if estimate is None:
            return
        value, unit = _number(g.value(estimate, QL.value)), g.value(estimate, QL.unit)
        try:
            days = convert(value, str(unit), "d")
        except UnitError as exc:
            g.add((estimate, QL.dataProblem, Literal(str(exc))))
            return
        g.add((estimate, QL.normalisedValue, dec(days)))
        g.add((estimate, QL.normalisedUnit, text("d")))
