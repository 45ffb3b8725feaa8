"""The meta-constraints of a protocol folder: what an amendment may change, and how far.

They live in the package (``protocol/data/meta-constraints.ttl``), outside any folder a user
edits, so a folder cannot widen its own bounds (an edited ``allowedMaximum`` in a folder is
not read at all). A folder is validated against them before any patient is read:

- every rule parameter the package knows is present, with one number within its allowed
  range, or one policy of its enumerated set (the ones this software implements);
- while a folder keeps a criterion (by its id), it keeps each of the criterion's limits the
  package lists (criterion id, the full path of the value, minimum or maximum), each within
  its allowed range.

Each failure is a :class:`~ql1706kg.errors.Ql1706kgError` subclass the check turns into a
refusal naming the file, the parameter or criterion, the value and the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef

from .namespaces import QL
from .shape_walk import Bound, simple_path
from .texts import format_decimal, literal_number

QLM = Namespace("https://w3id.org/ql1706kg/meta#")
META_FILE = Path(__file__).resolve().parent / "data" / "meta-constraints.ttl"


class MetaViolation(ValueError):
    """A folder outside the package's meta-constraints; the message says which and why."""


@dataclass(frozen=True)
class LimitRange:
    criterion: str
    path: tuple[URIRef, ...]
    minimum: bool
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class Meta:
    numbers: dict[URIRef, tuple[Decimal, Decimal]]
    policies: dict[URIRef, frozenset[URIRef]]
    limits: tuple[LimitRange, ...]
    whole: frozenset[URIRef] = frozenset()


@cache
def meta() -> Meta:
    """The package's meta-constraints, read once."""
    graph = Graph().parse(META_FILE, format="turtle")
    numbers, policies = {}, {}
    for subject in set(graph.subjects(QLM.allowedMinimum, None)):
        if isinstance(subject, URIRef):
            numbers[subject] = (_number(graph, subject, QLM.allowedMinimum),
                                _number(graph, subject, QLM.allowedMaximum))
    for subject in set(graph.subjects(QLM.allowedPolicy, None)):
        policies[subject] = frozenset(graph.objects(subject, QLM.allowedPolicy))
    limits = []
    for node in graph.subjects(QLM.criterionId, None):
        path = simple_path(graph, graph.value(node, QLM.path))
        if path is None:
            raise ValueError(f"{META_FILE}: a limit range without a plain path")
        limits.append(LimitRange(str(graph.value(node, QLM.criterionId)), path,
                                 graph.value(node, QLM.bound) == QLM.Minimum,
                                 _number(graph, node, QLM.allowedMinimum),
                                 _number(graph, node, QLM.allowedMaximum)))
    whole = frozenset(s for s in graph.subjects(QLM.wholeNumber, None) if isinstance(s, URIRef)
                      and graph.value(s, QLM.wholeNumber).toPython() is True)
    return Meta(numbers, policies, tuple(sorted(limits, key=str)), whole)


def _number(graph: Graph, subject, predicate) -> Decimal:
    value = literal_number(graph.value(subject, predicate))
    if value is None:
        raise ValueError(f"{META_FILE}: {subject} has no number for {predicate}")
    return value


def _local(iri: object) -> str:
    return "ql:" + str(iri).rsplit("#", 1)[-1]


def check_parameters(ontology: Graph) -> None:
    """Every rule parameter of the package, present in ``ontology`` with an allowed value
    (:class:`MetaViolation` otherwise). A parameter the package does not know is left alone:
    nothing reads it."""
    known = meta()
    for parameter, (low, high) in sorted(known.numbers.items(), key=str):
        values = list(ontology.objects(parameter, QL.parameterValue))
        where = f"rule parameter {_local(parameter)}"
        if len(values) != 1 or list(ontology.objects(parameter, QL.policy)):
            raise MetaViolation(f"{where} needs exactly one ql:parameterValue (has "
                                f"{len(values)})")
        number = literal_number(values[0])
        if number is None or not number.is_finite():
            raise MetaViolation(f"{where}: its value {_shown(values[0])} is not a number")
        if parameter in known.whole and number != number.to_integral_value():
            raise MetaViolation(f"{where}: its value {format_decimal(number)} is not a whole "
                                "number")
        if not low <= number <= high:
            raise MetaViolation(f"{where}: its value {format_decimal(number)} is outside the "
                                f"range the package allows ({format_decimal(low)} to "
                                f"{format_decimal(high)})")
    for parameter, allowed in sorted(known.policies.items(), key=str):
        chosen = list(ontology.objects(parameter, QL.policy))
        where = f"rule parameter {_local(parameter)}"
        if len(chosen) != 1 or list(ontology.objects(parameter, QL.parameterValue)):
            raise MetaViolation(f"{where} needs exactly one ql:policy (has {len(chosen)})")
        if chosen[0] not in allowed:
            raise MetaViolation(f"{where}: its policy {_shown(chosen[0])} is not one this "
                                "software implements (allowed: " + ", ".join(
                                    sorted(map(_local, allowed))) + ")")


def _shown(value: object) -> str:
    if isinstance(value, URIRef) and str(value).startswith(str(QL)):
        return _local(value)
    return value.n3() if isinstance(value, Literal | URIRef) else str(value)


def check_limits(folder_bounds: list[Bound], criteria: set[str]) -> None:
    """Each limit the package lists, kept (by criterion id, path and kind) while the folder
    keeps its criterion, and within its range (:class:`MetaViolation` otherwise)."""
    for rule in meta().limits:
        if rule.criterion not in criteria:
            continue
        kind = "minimum" if rule.minimum else "maximum"
        found = [b for b in folder_bounds if b.criterion == rule.criterion
                 and b.path == rule.path and b.minimum == rule.minimum]
        path = " / ".join(_local(p) for p in rule.path)
        allowed = f"{format_decimal(rule.low)} to {format_decimal(rule.high)}"
        if not found:
            raise MetaViolation(f"criterion {rule.criterion} has no {kind} on {path} (the "
                                f"package requires one, between {allowed})")
        for bound in found:
            if not rule.low <= bound.value <= rule.high:
                raise MetaViolation(f"criterion {rule.criterion}: the {kind} "
                                    f"{format_decimal(bound.value)} on {path} is outside "
                                    f"the range the package allows ({allowed})")


def limit_range(criterion: str, path: tuple, minimum: bool) -> LimitRange | None:
    """The package's range for one kind of limit of a criterion on one path, if any."""
    for rule in meta().limits:
        if (rule.criterion, rule.path, rule.minimum) == (criterion, path, minimum):
            return rule
    return None


__all__ = ["QLM", "LimitRange", "Meta", "MetaViolation", "check_limits",
           "check_parameters", "limit_range", "meta"]
