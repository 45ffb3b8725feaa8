"""Derive the creatinine clearance IC9.3 compares: a measured one, else Cockcroft-Gault
(clinical-rules.md §3), over intervals when an input is a bound or an age from a partial date.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from rdflib import URIRef

from ...protocol.namespaces import PROV, QL, RDF
from ...protocol.units import convert
from ..literals import d, text
from ..uncertain import Interval, describe_interval, interval_of, note, possibly, put
from .base import DeriveBase, span
from .dates import completed_years

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


class ClearanceDeriver(DeriveBase):
    """Creatinine clearance (IC9.3)."""

    def derive_clearance(self) -> None:
        """Use a measured clearance if on record, else Cockcroft-Gault (clinical-rules §3), its
        coefficients and the date of its age the ontology's rule parameters
        (``ql:CockcroftGault*``, ``ql:AgeDateForCockcroftGault``). A bound, an age from a
        partial birth date or an undecided screening result gives the interval the formula
        takes over all of them (it falls with age and creatinine and rises with weight)."""
        g, p = self.g, self.p
        node = URIRef(f"{p}/derived/creatinine-clearance")
        measured = self.selected.get(QL.MeasuredCreatinineClearance)
        value = interval_of(g.value(measured, QL.normalisedValue)) if measured is not None \
            else None
        if value is not None:
            self._clearance(node, value, QL.MeasuredClearance, [measured])
            return
        creatinine, weight = self.selected.get(QL.Creatinine), self.selected.get(QL.BodyWeight)
        born, sex = span(g, p, QL.birthDate), g.value(p, QL.sex)
        if creatinine is None or weight is None or born is None or sex not in (QL.Male,
                                                                               QL.Female):
            return
        scr_umol = interval_of(g.value(creatinine, QL.normalisedValue))
        kg = interval_of(g.value(weight, QL.normalisedValue))
        if scr_umol is None or kg is None or (scr_umol.hi is not None and scr_umol.hi <= 0):
            return
        mass = self.term.tests[QL.Creatinine].molar_mass
        term = self.term
        term.policy("AgeDateForCockcroftGault", ("AgeOnAssessmentDate",))
        young = completed_years(born.last, self.a.as_of)
        old = completed_years(born.first, self.a.as_of)
        constant = term.parameter("CockcroftGaultAgeConstant")
        factor = term.parameter("CockcroftGaultCreatinineFactor")
        female = term.parameter("CockcroftGaultFemaleFactor") if sex == QL.Female else None

        def formula(age: int, weight_kg: Decimal, scr: Decimal) -> Decimal:
            crcl = (constant - age) * weight_kg / (factor * convert(scr, "umol/L", "mg/dL",
                                                                    mass))
            return crcl * female if female is not None else crcl

        if scr_umol.exact and kg.exact and young == old:
            crcl = Interval.point(formula(old, kg.lo, scr_umol.lo).quantize(_CENT))
        else:
            low = (formula(old, kg.lo or _ZERO, scr_umol.hi) if scr_umol.hi is not None
                   else _ZERO)
            high = (formula(young, kg.hi, scr_umol.lo)
                    if kg.hi is not None and scr_umol.lo is not None and scr_umol.lo > 0
                    else None)
            crcl = Interval(max(low, _ZERO).quantize(_CENT, ROUND_FLOOR),
                            None if high is None else high.quantize(_CENT, ROUND_CEILING))
        self._clearance(node, crcl, QL.CockcroftGault, [creatinine, weight, p])
        g.add((node, QL.ageReferenceDate, d(self.a.as_of)))
        if not crcl.exact:
            note(g, node, f"the Cockcroft-Gault clearance is {describe_interval(crcl)} mL/min "
                          "over the values the data allow")

    def _clearance(self, node: URIRef, value: Interval, method: URIRef,
                   sources: list[URIRef]) -> None:
        g = self.g
        g.add((self.p, QL.creatinineClearance, node))
        g.add((node, RDF.type, QL.DerivedValue))
        put(g, node, QL.normalisedValue, value)
        g.add((node, QL.normalisedUnit, text("mL/min")))
        g.add((node, QL.method, method))
        for source in sources:
            g.add((node, PROV.wasDerivedFrom, source))
            if g.value(source, QL.onlyPossiblyVia) is not None:
                possibly(g, node, QL.creatinineClearance, "a result it is computed from may "
                         "not be a screening result")
