"""Kidney function equations as data: read from the ontology, checked, and computed.

A criterion names the equation whose result it compares (``ql:usesEquation``); the equation
is an individual of the ontology (``ql:KidneyFunctionEquation``) with its coefficients, inputs,
units and source (Cockcroft-Gault, CKD-EPI 2021, MDRD 175 are bundled). One engine computes
any of them from that data: a constant times the product of the terms, in order, each term
reading one input (a screening test's result in a stated unit, or the age) and applying an
offset, a factor, a divisor, a clamp and an exponent, or a power of a base, or a multiplier,
possibly for one sex only. An equation this engine cannot compute from its data (an unknown
input, a number that is neither a literal nor a rule parameter, a missing result property, a
name that is no equation at all) is refused when the protocol is checked (:class:`EquationError`),
never ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext

from rdflib import Graph, Literal, URIRef

from .namespaces import QL, RDF, RDFS
from .texts import literal_number

AGE = QL.AgeInCompletedYears  # the input "age in completed years on the assessment date"
SEXES = (QL.Male, QL.Female)
_ONE, _ZERO = Decimal(1), Decimal(0)


class EquationError(ValueError):
    """An equation a criterion names that the software cannot compute; says which and why."""


@dataclass(frozen=True)
class Term:
    """One factor of an equation (see the module docstring)."""

    iri: URIRef
    order: int
    input: URIRef | None = None
    unit: str | None = None
    noun: str | None = None
    offset: Decimal = _ZERO
    factor: Decimal = _ONE
    divisor: Decimal = _ONE
    at_most: Decimal | None = None
    at_least: Decimal | None = None
    exponent: Decimal = _ONE
    power_base: Decimal | None = None
    multiplier: Decimal | None = None
    sex: URIRef | None = None

    def value(self, inputs: Mapping[URIRef, Decimal]) -> Decimal:
        """This factor's number for one set of input values."""
        if self.multiplier is not None and self.input is None:
            return self.multiplier
        x = inputs[self.input]  # type: ignore[index]
        if self.power_base is not None:
            return self.power_base ** x
        if self.factor != _ONE:
            x = self.factor * x
        if self.offset != _ZERO:
            x = self.offset + x
        if self.divisor != _ONE:
            x = x / self.divisor
        if self.at_most is not None:
            x = min(x, self.at_most)
        if self.at_least is not None:
            x = max(x, self.at_least)
        return x if self.exponent in (_ONE, -_ONE) else x ** self.exponent


@dataclass(frozen=True)
class Equation:
    """An equation, ready to compute (see the module docstring)."""

    iri: URIRef
    label: str
    short_name: str
    value_name: str
    result: URIRef
    unit: str
    terms: tuple[Term, ...]
    constant: Decimal | None = None
    prefer_measured: URIRef | None = None
    age_parameter: URIRef | None = None

    @property
    def inputs(self) -> tuple[URIRef, ...]:
        """The inputs the equation reads, the age first, then the tests by their noun."""
        found = {t.input: t.noun or "" for t in self.terms if t.input is not None}
        return tuple(sorted(found, key=lambda i: (i != AGE, found[i], str(i))))

    @property
    def nouns(self) -> str:
        """How an explanation names the tests read: "creatinine and weight"."""
        return " and ".join(sorted({t.noun for t in self.terms if t.noun}))

    def needs_sex(self) -> bool:
        return any(t.sex is not None for t in self.terms)

    def compute(self, inputs: Mapping[URIRef, Decimal], sex: URIRef | None) -> Decimal:
        """The result for one set of input values (each term in order: an exponent of −1
        divides, so that an equation written as a quotient is computed as one)."""
        result = self.constant
        for term in self.terms:
            if term.sex is not None and term.sex != sex:
                continue
            piece = term.value(inputs)
            if result is None:
                result = _ONE / piece if term.exponent == -_ONE else piece
            elif term.exponent == -_ONE and term.multiplier is None:
                result = result / piece
            else:
                result = result * piece
        return _ONE if result is None else result

    def bounds(self, spans: Mapping[URIRef, tuple[Decimal | None, Decimal | None]],
               sex: URIRef | None) -> tuple[Decimal, Decimal | None]:
        """The lowest and highest result over every corner of the inputs' intervals (the
        equations are monotone in each input); an open lower end is 0, an open upper end
        unbounded; a corner that divides by zero or by an unbounded value gives its limit
        (an unbounded result is None)."""
        corners = [[_ZERO if lo is None else lo, Decimal("Infinity") if hi is None else hi]
                   for lo, hi in (spans[i] for i in self.inputs)]
        values = []
        with localcontext() as ctx:
            ctx.traps[DivisionByZero] = ctx.traps[InvalidOperation] = False
            for corner in itertools.product(*corners):
                value = self.compute(dict(zip(self.inputs, corner, strict=True)), sex)
                if not value.is_nan():
                    values.append(value)
        low = min(values, default=_ZERO)
        high = max(values, default=None)
        return (low if low.is_finite() else _ZERO,
                high if high is not None and high.is_finite() else None)


def named_equations(graph: Graph, tests: Callable[[URIRef], bool] | None = None
                    ) -> dict[URIRef, Equation]:
    """Every equation the protocol's criteria name (``ql:usesEquation``), read from
    ``graph``; :class:`EquationError` for one the engine cannot compute, or for two that
    would write one result."""
    is_test = tests or (lambda iri: (iri, RDF.type, QL.Test) in graph or any(
        (iri, RDF.type, cls) in graph for cls in graph.transitive_subjects(
            RDFS.subClassOf, QL.Test)))
    out: dict[URIRef, Equation] = {}
    for criterion, iri in sorted(graph.subject_objects(QL.usesEquation), key=str):
        if isinstance(iri, URIRef) and iri not in out:  # a blank node names no equation
            out[iri] = _equation(graph, iri, criterion, is_test)
    writers: dict[URIRef, URIRef] = {}
    for iri, equation in sorted(out.items(), key=lambda item: str(item[0])):
        other = writers.setdefault(equation.result, iri)
        if other != iri:
            raise EquationError(f"the equations {_n(other)} and {_n(iri)} both write "
                                f"{_n(equation.result)}: a protocol names one equation per "
                                "result")
    return out


def _n(iri: object) -> str:
    text = str(iri)
    return "ql:" + text.rsplit("#", 1)[-1] if text.startswith(str(QL)) else f"<{text}>"


def _equation(graph: Graph, iri, criterion, is_test) -> Equation:
    where = f"criterion {_n(criterion)} names the equation {_n(iri)}"
    if not isinstance(iri, URIRef) or (iri, RDF.type, QL.KidneyFunctionEquation) not in graph:
        raise EquationError(f"{where}, which is not a ql:KidneyFunctionEquation this software "
                            "can compute (bundled: ql:CockcroftGault, ql:CKDEPI2021, "
                            "ql:MDRD175; or state one as data, see ontology/ql1706kg.ttl)")
    terms = [_term(graph, t, where, is_test) for t in graph.objects(iri, QL.equationTerm)]
    if not terms:
        raise EquationError(f"{where}, which has no ql:equationTerm")
    orders = [t.order for t in terms]
    if len(set(orders)) != len(orders):
        raise EquationError(f"{where}: two of its terms have one ql:termOrder")
    result = graph.value(iri, QL.resultProperty)
    unit = graph.value(iri, QL.resultUnit)
    if not isinstance(result, URIRef) or unit is None:
        raise EquationError(f"{where}, which has no ql:resultProperty or ql:resultUnit")
    label = str(graph.value(iri, RDFS.label) or _n(iri))
    constant = graph.value(iri, QL.equationConstant)
    return Equation(
        iri=iri, label=label, short_name=str(graph.value(iri, QL.shortName) or label),
        value_name=str(graph.value(iri, QL.valueName) or label), result=result,
        unit=str(unit), terms=tuple(sorted(terms, key=lambda t: t.order)),
        constant=None if constant is None else _number(graph, constant, where),
        prefer_measured=graph.value(iri, QL.preferMeasured),
        age_parameter=graph.value(iri, QL.ageDateParameter))


def _term(graph: Graph, node, where: str, is_test) -> Term:
    def number(prop, default=None):
        value = graph.value(node, prop)
        return default if value is None else _number(graph, value, f"{where}: term {_n(node)}")

    order = literal_number(graph.value(node, QL.termOrder))
    if order is None or order != order.to_integral_value():
        raise EquationError(f"{where}: its term {_n(node)} has no whole ql:termOrder")
    source = graph.value(node, QL.termInput)
    unit = graph.value(node, QL.inputUnit)
    sex = graph.value(node, QL.forSex)
    multiplier = number(QL.multiplier)
    if source is None and multiplier is None:
        raise EquationError(f"{where}: its term {_n(node)} reads no input (ql:termInput) and "
                            "is no ql:multiplier")
    if source is not None and source != AGE and not is_test(source):
        raise EquationError(f"{where}: its term {_n(node)} reads {_n(source)}, which is "
                            "neither a ql:Test nor ql:AgeInCompletedYears")
    if source is not None and source != AGE and unit is None:
        raise EquationError(f"{where}: its term {_n(node)} reads a test with no ql:inputUnit")
    if sex is not None and sex not in SEXES:
        raise EquationError(f"{where}: its term {_n(node)} is for {_n(sex)}, not ql:Male or "
                            "ql:Female")
    return Term(iri=node, order=int(order), input=source, unit=None if unit is None else
                str(unit), noun=None if graph.value(node, QL.inputNoun) is None else
                str(graph.value(node, QL.inputNoun)),
                offset=number(QL.inputOffset, _ZERO), factor=number(QL.inputFactor, _ONE),
                divisor=number(QL.inputDivisor, _ONE), at_most=number(QL.atMost),
                at_least=number(QL.atLeast), exponent=number(QL.exponent, _ONE),
                power_base=number(QL.powerBase), multiplier=multiplier, sex=sex)


def _number(graph: Graph, value, where: str) -> Decimal:
    """A literal number, or the number of the rule parameter it names."""
    if isinstance(value, URIRef):
        value = graph.value(value, QL.parameterValue)
    number = literal_number(value) if isinstance(value, Literal) else None
    if number is None or not number.is_finite():
        raise EquationError(f"{where}: {value!s} is neither a number nor a rule parameter "
                            "with a ql:parameterValue")
    return number


__all__ = ["AGE", "Equation", "EquationError", "Term", "named_equations"]
