"""Derive the results of the kidney function equations the criteria name
(:mod:`ql1706kg.protocol.equations`: Cockcroft-Gault, CKD-EPI 2021, MDRD, or any stated as
data): a measured value where the equation prefers one, else the equation computed from its
data, over intervals when an input is a bound or an age from a partial date.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from rdflib import URIRef

from ...errors import UnitError
from ...protocol.equations import AGE, SEXES, Equation
from ...protocol.namespaces import PROV, QL, RDF
from ...protocol.units import convert
from ..literals import d, text
from ..uncertain import Interval, describe_interval, interval_of, note, possibly, put
from .base import DeriveBase, span
from .dates import completed_years

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def node_name(prop: URIRef) -> str:
    """The derived node's name from its property: ql:creatinineClearance ->
    creatinine-clearance."""
    local = str(prop).rsplit("#", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", local).lower()


class ClearanceDeriver(DeriveBase):
    """Kidney function by the equations the protocol's criteria name."""

    def derive_clearance(self) -> None:
        """Compute every equation the protocol's criteria name, in a stable order."""
        for _iri, equation in sorted(self.term.equations.items(), key=lambda i: str(i[0])):
            self._derive(equation)

    def _derive(self, equation: Equation) -> None:
        """Use a measured value if the equation prefers one and it is on record, else the
        equation from its inputs (the age on the date its ``ql:ageDateParameter``'s policy
        says). A bound, an age from a partial birth date or an undecided screening result
        gives the interval the equation takes over all of them."""
        g, p = self.g, self.p
        node = URIRef(f"{p}/derived/{node_name(equation.result)}")
        measured = (self.selected.get(equation.prefer_measured)
                    if equation.prefer_measured is not None else None)
        value = interval_of(g.value(measured, QL.normalisedValue)) if measured is not None \
            else None
        if value is not None and measured is not None:
            self._record(equation, node, value, QL.MeasuredClearance, [measured])
            return
        found_sex = g.value(p, QL.sex)
        sex = found_sex if isinstance(found_sex, URIRef) else None
        if equation.needs_sex() and sex not in SEXES:
            return
        spans, sources = self._inputs(equation)
        if spans is None:
            return
        if all(lo is not None and lo == hi for lo, hi in spans.values()):
            point = {i: lo for i, (lo, _hi) in spans.items()}
            result = Interval.point(equation.compute(point, sex).quantize(_CENT))
        else:
            low, high = equation.bounds(spans, sex)
            result = Interval(max(low, _ZERO).quantize(_CENT, ROUND_FLOOR),
                              None if high is None else high.quantize(_CENT, ROUND_CEILING))
        self._record(equation, node, result, equation.iri, [*sources, p])
        if AGE in spans:
            g.add((node, QL.ageReferenceDate, d(self.a.as_of)))
        if not result.exact:
            note(g, node, f"the {equation.value_name} is {describe_interval(result)} "
                          f"{equation.unit} over the values the data allow")

    def _inputs(self, equation: Equation):
        """Each input's interval in the unit its term takes it in, and the facts read; None
        when one is missing or unusable (no value is computed: the criterion is unknown)."""
        g, p = self.g, self.p
        spans: dict[URIRef, tuple[Decimal | None, Decimal | None]] = {}
        sources = []
        for source in equation.inputs:
            if source == AGE:
                born = span(g, p, QL.birthDate)
                if born is None:
                    return None, []
                if equation.age_parameter is not None:
                    self.term.policy(str(equation.age_parameter).rsplit("#", 1)[-1],
                                     ("AgeOnAssessmentDate",))
                spans[AGE] = (Decimal(completed_years(born.last, self.a.as_of)),
                              Decimal(completed_years(born.first, self.a.as_of)))
                continue
            observation = self.selected.get(source)
            found = interval_of(g.value(observation, QL.normalisedValue)) \
                if observation is not None else None
            if found is None:
                return None, []
            divides = any(t.input == source and t.exponent < 0 for t in equation.terms)
            if divides and found.hi is not None and found.hi <= 0:
                return None, []
            try:
                spans[source] = (self._unit(equation, source, found.lo),
                                 self._unit(equation, source, found.hi))
            except UnitError:
                return None, []
            sources.append(observation)
        return spans, sources

    def _unit(self, equation: Equation, source: URIRef, value: Decimal | None
              ) -> Decimal | None:
        """A test's value (in its canonical unit) in the unit the equation's term takes."""
        info = self.term.tests[source]
        unit = next(t.unit for t in equation.terms if t.input == source)
        if value is None or unit == info.canonical_unit:
            return value
        return convert(value, info.canonical_unit, unit, info.molar_mass)

    def _record(self, equation: Equation, node: URIRef, value: Interval, method: URIRef,
                sources: list[URIRef]) -> None:
        g = self.g
        g.add((self.p, equation.result, node))
        g.add((node, RDF.type, QL.DerivedValue))
        put(g, node, QL.normalisedValue, value)
        g.add((node, QL.normalisedUnit, text(equation.unit)))
        g.add((node, QL.method, method))
        for source in sources:
            g.add((node, PROV.wasDerivedFrom, source))
            if g.value(source, QL.onlyPossiblyVia) is not None:
                possibly(g, node, equation.result, "a result it is computed from may "
                         "not be a screening result")
