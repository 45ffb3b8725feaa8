"""Derive what the laboratory criteria (IC9) compare: values in the test's canonical unit,
ratios to ULN, dipstick grades, the screening result of each test, creatinine clearance.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import cast

from rdflib import Literal, URIRef

from ...errors import UnitError
from ...protocol.namespaces import PROV, QL, RDF
from ...protocol.units import convert
from ..literals import d, dec, integer, text
from .base import DeriveBase, _date, _number
from .dates import completed_years

_LAB_TESTS: dict[int, tuple[object, set[URIRef]]] = {}
_CODED = {QL.ECOGGrade: "ecog", QL.QualitativeResult: "qualitative",
          QL.DipstickGrade: "dipstick"}


def laboratory_tests(deriver: DeriveBase) -> set[URIRef]:
    """``deriver.laboratory_tests_of_ic9()``, computed once per terminology (not per patient).
    """
    term = deriver.term
    known = _LAB_TESTS.get(id(term))
    if known is None or known[0] is not term:
        known = _LAB_TESTS[id(term)] = (term, deriver.laboratory_tests_of_ic9())
    return known[1]


class LabDeriver(DeriveBase):
    """Observations: normalised, graded, selected; clearance."""

    def __init__(self, graph, patient: URIRef, assessment, term) -> None:
        # the graph's own patient term: every lookup on the patient compares by identity
        super().__init__(graph, graph.own(patient), assessment, term)

    # -- observations ---------------------------------------------------------------------
    def normalise(self, obs: URIRef) -> None:
        """Normalise an observation's value to its test's canonical unit, with ratio to ULN."""
        g = self.g
        info = self.term.tests.get(cast(URIRef, g.value(obs, QL.test)))
        when = _date(g.value(obs, QL.effectiveDate))
        if when is not None:
            g.add((obs, QL.daysBeforeAssessment, integer((self.a.as_of - when).days)))
        if info is None:
            return
        raw, concept = g.value(obs, QL.value), g.value(obs, QL.valueConcept)
        value, unit = _number(raw), g.value(obs, QL.unit)
        if concept is not None:
            self.interpret_concept(obs, cast(URIRef, concept))
        elif value is not None:
            self.normalise_quantity(obs, info, value, str(unit) if unit is not None else None)
        elif raw is not None:
            g.add((obs, QL.dataProblem, Literal(
                f"result '{raw}' is not a number or a known grade")))

    def interpret_concept(self, obs: URIRef, concept: URIRef) -> None:
        rank = self.term.ranks.get(concept)
        if rank is not None:
            self.g.add((obs, QL.ordinalRank, dec(rank)))
        if self.term.is_a(concept, QL.QualitativeResult):
            self.g.add((obs, QL.resultInterpretation, concept))

    def normalise_quantity(self, obs: URIRef, info, value: Decimal, unit: str | None) -> None:
        g = self.g
        uln = _number(g.value(obs, QL.upperLimitOfNormal))
        # A number given for a test whose results are coded is read through its value set
        # (looked up in a dict: a term compared with == runs rdflib's Python-level __eq__).
        coded = _CODED.get(info.value_set) if info.value_set is not None else None
        if coded == "ecog":
            g.add((obs, QL.ordinalRank, dec(value)))
            return
        if coded == "qualitative":
            if uln is not None:
                g.add((obs, QL.resultInterpretation, QL.Positive if value > uln else QL.Negative))
            return
        if coded == "dipstick":
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
        """Link the most recent usable-dated result in the window of each test to the patient
        (the policy ``ql:MostRecentInWindow`` of ``ql:ScreeningResultSelection``)."""
        self.term.policy("ScreeningResultSelection", ("MostRecentInWindow",))
        g, start, end = self.g, self.a.window_start, self.a.as_of
        best: dict[URIRef, tuple[tuple[date, bool, int], URIRef]] = {}
        observations = sorted(cast(list[URIRef], list(g.objects(self.p, QL.hasObservation))))
        for index, obs in enumerate(observations):
            test = cast(URIRef, g.value(obs, QL.test))
            when = _date(g.value(obs, QL.effectiveDate))
            if test not in self.term.tests or when is None or not start <= when <= end:
                continue
            # latest date first; on the same day a usable result beats an unusable one
            key = (when, g.value(obs, QL.dataProblem) is None, index)
            if test not in best or key > best[test][0]:
                best[test] = (key, obs)
        lab_tests = laboratory_tests(self)
        for test, ((when, _usable, _index), obs) in best.items():
            self.selected[test] = obs
            prop = self.term.tests[test].screening_property
            if prop is not None:
                g.add((self.p, prop, obs))
            if test in lab_tests:
                g.add((self.p, QL.screeningLabDate, d(when)))

    def derive_clearance(self) -> None:
        """Use a measured clearance if on record, else Cockcroft-Gault (clinical-rules §3), its
        coefficients and the date of its age the ontology's rule parameters
        (``ql:CockcroftGault*``, ``ql:AgeDateForCockcroftGault``)."""
        g, p = self.g, self.p
        node = URIRef(f"{p}/derived/creatinine-clearance")
        measured = self.selected.get(QL.MeasuredCreatinineClearance)
        value = _number(g.value(measured, QL.normalisedValue)) if measured is not None else None
        if value is not None:
            self._clearance(node, value, QL.MeasuredClearance, [cast(URIRef, measured)])
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
        term = self.term
        term.policy("AgeDateForCockcroftGault", ("AgeOnAssessmentDate",))
        age = completed_years(born, self.a.as_of)
        crcl = ((term.parameter("CockcroftGaultAgeConstant") - age) * kg
                / (term.parameter("CockcroftGaultCreatinineFactor") * scr_mg_dl))
        if sex == QL.Female:
            crcl *= term.parameter("CockcroftGaultFemaleFactor")
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
