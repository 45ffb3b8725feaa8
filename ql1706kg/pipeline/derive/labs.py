"""Derive what the laboratory criteria compare: values in the test's canonical unit,
ratios to ULN, dipstick grades; a result that is a bound gives intervals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from rdflib import Literal, URIRef

from ...errors import UnitError
from ...protocol.namespaces import QL
from ...protocol.units import convert
from ..literals import dec, text
from ..uncertain import (
    Interval,
    bound,
    contains,
    describe_interval,
    holds_all,
    note,
    put,
    span_of,
)
from .base import _number
from .selection import SelectionDeriver, laboratory_tests

_CODED = {QL.ECOGGrade: "ecog", QL.QualitativeResult: "qualitative",
          QL.DipstickGrade: "dipstick"}
_ZERO = Decimal(0)  # no result is negative (inputs/plausibility.py sets such a one aside)
_CENT = Decimal("0.01")

__all__ = ["LabDeriver", "laboratory_tests"]


class LabDeriver(SelectionDeriver):
    """Observations: normalised, graded, selected; clearance."""

    def __init__(self, graph, patient: URIRef, assessment, term) -> None:
        # the graph's own patient term: every lookup on the patient compares by identity
        super().__init__(graph, graph.own(patient), assessment, term)

    # -- observations ---------------------------------------------------------------------
    def normalise(self, obs: URIRef) -> None:
        """Normalise an observation's value to its test's canonical unit, with ratio to ULN;
        a bound (``ql:comparator``) gives intervals (pipeline/uncertain.py)."""
        g = self.g
        info = self.term.tests.get(cast(URIRef, g.value(obs, QL.test)))
        when = span_of(g.value(obs, QL.effectiveDate))
        if when is not None:
            put(g, obs, QL.daysBeforeAssessment, Interval(
                Decimal((self.a.as_of - when.last).days),
                Decimal((self.a.as_of - when.first).days)), integer=True)
        if info is None:
            return
        raw, concept = g.value(obs, QL.value), g.value(obs, QL.valueConcept)
        value, unit = _number(raw), g.value(obs, QL.unit)
        if concept is not None:
            self.interpret_concept(obs, cast(URIRef, concept))
        elif value is not None:
            comparator = g.value(obs, QL.comparator)
            self.normalise_quantity(obs, info, value, str(unit) if unit is not None else None,
                                    str(comparator) if comparator is not None else None)
        elif raw is not None:
            g.add((obs, QL.dataProblem, Literal(
                f"result '{raw}' is not a number or a known grade")))

    def interpret_concept(self, obs: URIRef, concept: URIRef) -> None:
        rank = self.term.ranks.get(concept)
        if rank is not None:
            self.g.add((obs, QL.ordinalRank, dec(rank)))
        if self.term.is_a(concept, QL.QualitativeResult):
            self.g.add((obs, QL.resultInterpretation, concept))

    def normalise_quantity(self, obs: URIRef, info, value: Decimal, unit: str | None,
                           comparator: str | None = None) -> None:
        if comparator is not None:
            self.normalise_bound(obs, info, bound(value, comparator), unit, comparator)
            return
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

    def normalise_bound(self, obs: URIRef, info, values: Interval, unit: str | None,
                        comparator: str) -> None:
        """A result that is a bound ('<2.0'): every derived value is the interval of what
        the bound allows, cut to what a result can be (never negative; the test's plausible
        range), and a note says so."""
        g = self.g
        written = f"{comparator}{g.value(obs, QL.value)}" + (f" {unit}" if unit else "")
        note(g, obs, f"the result {written} is a bound, not a value: it allows "
                     f"{describe_interval(values.clamped(_ZERO, None))}")
        uln = _number(g.value(obs, QL.upperLimitOfNormal))
        coded = _CODED.get(info.value_set) if info.value_set is not None else None
        if coded == "ecog":
            ranks = sorted(r for c, r in self.term.ranks.items()
                           if self.term.is_a(c, info.value_set))
            self.add_ranks(obs, values, ranks)
            return
        if coded == "qualitative":
            if uln is not None:
                if holds_all(values, "gt", uln):
                    g.add((obs, QL.resultInterpretation, QL.Positive))
                elif holds_all(values, "le", uln):
                    g.add((obs, QL.resultInterpretation, QL.Negative))
            return
        try:
            if coded == "dipstick":
                mg_dl = values.clamped(_ZERO, None).map(lambda v: convert(v, unit, "mg/dL"))
                self.grade_dipstick_interval(obs, mg_dl)
                return
            high = info.plausible_max
            normalised = values.map(lambda v: convert(v, unit, info.canonical_unit,
                                                      info.molar_mass, info.unit_aliases))
        except UnitError as exc:
            g.add((obs, QL.dataProblem, Literal(str(exc))))
            return
        normalised = normalised.clamped(_ZERO, high)
        if uln is not None and uln > 0:
            put(g, obs, QL.ratioToULN, values.clamped(_ZERO, None).scaled(1 / uln))
        put(g, obs, QL.normalisedValue, normalised)
        if info.canonical_unit:
            g.add((obs, QL.normalisedUnit, text(info.canonical_unit)))

    def add_ranks(self, obs: URIRef, values: Interval, ranks: list[Decimal]) -> None:
        """An ordinal result given as a bound: the ranks of the scale it allows."""
        allowed = [r for r in ranks if contains(values, r)]
        if allowed:
            put(self.g, obs, QL.ordinalRank, Interval(allowed[0], allowed[-1]))
        else:
            self.g.add((obs, QL.dataProblem, Literal("the bound allows no grade of the scale")))

    def grade_dipstick(self, obs: URIRef, value: Decimal, unit: str | None) -> None:
        """A semi-quantitative dipstick in mg/dL takes the highest grade it reaches."""
        try:
            mg_dl = convert(value, unit, "mg/dL")
        except UnitError as exc:
            self.g.add((obs, QL.dataProblem, Literal(str(exc))))
            return
        grade = self._grade(mg_dl)
        if grade is not None:
            self.g.add((obs, QL.valueConcept, grade))
            self.g.add((obs, QL.ordinalRank, dec(self.term.ranks[grade])))

    def _grade(self, mg_dl: Decimal) -> URIRef | None:
        reached = [(conc, grade) for grade, conc in self.term.concentrations.items()
                   if conc <= mg_dl]
        return max(reached)[1] if reached else None

    def grade_dipstick_interval(self, obs: URIRef, mg_dl: Interval) -> None:
        """A dipstick bound in mg/dL: the grades from its lowest to its highest value."""
        low = self._grade(mg_dl.lo) if mg_dl.lo is not None else None
        high = self._grade(mg_dl.hi) if mg_dl.hi is not None else max(
            self.term.concentrations, key=self.term.concentrations.__getitem__, default=None)
        if low is None or high is None:
            return
        if low == high:
            self.g.add((obs, QL.valueConcept, low))
        put(self.g, obs, QL.ordinalRank, Interval(self.term.ranks[low], self.term.ranks[high]))
