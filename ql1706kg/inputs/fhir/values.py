"""Values in FHIR resources: dates, results, reference ranges and project values as records
write them.

A FHIR date may be partial, a result may be a Quantity, a code, a word or a boolean, and a
reference range may apply to one sex and be in another unit than its result: turning those
into the record's exact text and dates is one concern, shared by the resource families, so it
lives here, above the codes it reads and below the readers that use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from rdflib import Graph, Literal, URIRef

from ...errors import UnitError
from ...protocol.namespaces import QL, RDF, RDFS, SKOS
from ...protocol.ontology_tables import cached_table
from ...protocol.resources import ontology_files, protocol_cache
from ...protocol.terminology import Terminology, iri_pairs, normalise_name
from ...protocol.units import convert
from .codes import _codes, _codings, _concept_text, _project_code, _text

UCUM = "http://unitsofmeasure.org"
# The ontology files that hold the FHIR reading rules (the consent rule and the KPS table in the
# schema, the FHIR codings of tests and results beside the tests).
_RULE_FILES = ("ql1706kg.ttl", "terminology-tests.ttl")


def _date(value: object) -> dt.date | None:
    """The calendar date of a FHIR date or dateTime, as written (its own time zone)."""
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 4:
            return None  # a year alone is too vague for a screening date
        if len(text) == 7:
            return None
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _has_value(part: dict) -> bool:
    return any(key.startswith("value") for key in part)


def _value(part: dict, term: Terminology) -> tuple[str | float | int, str | None, str | None]:
    """The result as the record writes it, with its unit and its comparator: a number kept
    exact as text (a Quantity's comparator, or one written in a string such as '<0.5', makes
    it a bound), or a word/code."""
    from .semantics import quantity_bound, range_bound, string_bound

    if "valueQuantity" in part:
        quantity = part["valueQuantity"]
        unit = quantity.get("code") if quantity.get("system") == UCUM else None
        bound = quantity_bound(quantity)
        return (_exact(quantity.get("value")), unit or quantity.get("unit"),
                bound.comparator if bound is not None else None)
    if "valueRange" in part:
        bound = range_bound(part["valueRange"])
        end = (part["valueRange"].get("low") if bound is not None and bound.comparator == ">="
               else part["valueRange"].get("high")) or {}
        unit = end.get("code") if end.get("system") == UCUM else None
        return (_exact(end.get("value")), unit or end.get("unit"),
                bound.comparator if bound is not None else None)
    if "valueInteger" in part:
        return part["valueInteger"], None, None
    if "valueCodeableConcept" in part:
        concept = part["valueCodeableConcept"]
        for coding in concept.get("coding") or []:
            hit = term.find(str(coding["code"])) if coding.get("code") else None
            if hit is not None:
                return term.label(hit), None, None  # the grade's own name, "urine protein 2+"
        return _text(concept) or "", None, None
    if "valueString" in part:
        text = str(part["valueString"])
        parsed = string_bound(text)
        if parsed is not None:
            bound, unit = parsed
            return str(bound.value), unit, bound.comparator
        return text, None, None
    if "valueBoolean" in part:
        return "positive" if part["valueBoolean"] else "negative", None, None
    return "", None, None


def _exact(value: object) -> str:
    """A JSON number as exact decimal text (1.4 stays 1.4, never 1.3999...); anything else as
    written, for the record's validation to refuse with its field named ('' when absent)."""
    number = _decimal(value)
    if number is not None:
        return str(number)
    return "" if value is None else str(value)


_SEX_CODES = {"248153007": "male", "248152002": "female"}  # SNOMED CT, as FHIR examples use


def _range(ranges: list[dict], unit: str | None, sex: str | None
           ) -> tuple[str | None, str | None]:
    """ULN and LLN from the reference range that applies to this patient's sex (else one that
    applies to everyone, else the first), converted to the value's unit."""
    usable = [r for r in ranges if r.get("high") is not None or r.get("low") is not None]

    def applies_to(item: dict) -> set[str]:
        out = set()
        for concept in item.get("appliesTo") or []:
            words = {_SEX_CODES.get(c) for c in _codes(concept)} | {
                (_text(concept) or "").casefold()}
            out |= {word for word in words if word in ("male", "female")}
        return out

    chosen = (next((r for r in usable if sex and sex in applies_to(r)), None)
              or next((r for r in usable if not applies_to(r)), None)
              or (usable[0] if usable else None))
    if chosen is None:
        return None, None
    return _in_unit(chosen.get("high"), unit), _in_unit(chosen.get("low"), unit)


def _in_unit(quantity: dict | None, unit: str | None) -> str | None:
    if not quantity or quantity.get("value") is None:
        return None
    value = _decimal(quantity["value"])
    if value is None:
        return None
    own = quantity.get("code") or quantity.get("unit")
    if own and unit and own != unit:
        try:
            value = convert(value, own, unit)
        except UnitError:
            return None
    return str(value)


def _project_value(part: dict) -> Any:
    if "valueBoolean" in part:
        return bool(part["valueBoolean"])
    if "valueQuantity" in part:
        number = _decimal((part["valueQuantity"] or {}).get("value"))
        return float(number) if number is not None else None
    if "valueCodeableConcept" in part:
        code = _project_code(part["valueCodeableConcept"])
        return code.replace("-", "_") if code else None
    if "valueInteger" in part:
        return part["valueInteger"]
    if "valueString" in part:
        return part["valueString"]
    return None


def _decimal(value: object) -> Decimal | None:
    """A FHIR decimal as an exact, finite Decimal; None for anything else (the record's own
    validation then names the field, or the fact is not read)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# -- reading rules kept as data in the ontology ---------------------------------------------------

@dataclass
class ReadingRules:
    """What the FHIR reader takes from the ontology beyond the terminology's tables: the rule
    that makes a Consent the study's ICF, the FHIR codings (``ql:fhirCoding``, tokens
    ``system|code``) of tests, results and statuses outside the shared code reference, and the
    Karnofsky conversion rows. Read from the Turtle files once a protocol, then from the
    on-disk cache (:mod:`~ql1706kg.protocol.ontology_tables`)."""

    codings: dict[tuple[str, str], URIRef] = field(default_factory=dict)
    names: dict[str, URIRef] = field(default_factory=dict)
    types: dict[URIRef, frozenset[URIRef]] = field(default_factory=dict)
    labels: dict[URIRef, str] = field(default_factory=dict)
    consent_scopes: frozenset[tuple[str, str]] = frozenset()
    consent_scope_texts: frozenset[str] = frozenset()
    consent_statuses: frozenset[str] = frozenset()
    voiding_provisions: frozenset[str] = frozenset()
    karnofsky: dict[int, URIRef] = field(default_factory=dict)
    ecog_ranges: dict[URIRef, tuple[int, int]] = field(default_factory=dict)

    def is_a(self, term: URIRef, cls: URIRef) -> bool:
        return cls in self.types.get(term, ())

    def term_of(self, concept: object, cls: URIRef | None = None) -> URIRef | None:
        """The term a CodeableConcept stands for by its FHIR coding (the system must match),
        else by a coding's display or the concept's text; ``cls`` restricts the terms."""
        codings = _codings(concept)
        for coding in codings:
            hit = self.codings.get((str(coding.get("system", "")), str(coding.get("code", ""))))
            if hit is not None and (cls is None or self.is_a(hit, cls) or hit == cls):
                return hit
        words = [str(c["display"]) for c in codings if c.get("display")]
        words += [_concept_text(concept) or ""]
        for word in words:
            hit = self.names.get(normalise_name(word)) if word else None
            if hit is not None and (cls is None or self.is_a(hit, cls) or hit == cls):
                return hit
        return None

    def coded(self, concept: object, term: URIRef) -> bool:
        """Whether a CodeableConcept carries one of ``term``'s FHIR codings (or its name)."""
        return self.term_of(concept, term) == term


def _token(value: object) -> tuple[str, str]:
    system, _, code = str(value).rpartition("|")
    return system, code


@protocol_cache
def reading_rules() -> ReadingRules:
    """The reading rules of the current protocol's ontology (see :class:`ReadingRules`), from
    the on-disk cache when its files have not changed (parsing them costs ~0.2 s)."""
    return cached_table("reading_rules", _read_rules, ReadingRules)


def _read_rules() -> ReadingRules:
    graph = Graph()
    for path in ontology_files():
        if path.name in _RULE_FILES:
            graph.parse(path, format="turtle")
    rules = ReadingRules()
    named = set()
    for term, token in iri_pairs(graph, QL.fhirCoding):
        rules.codings.setdefault(_token(token), term)
        named.add(term)
    for row, score in iri_pairs(graph, QL.karnofskyScore):
        rules.karnofsky[int(cast(Literal, score))] = row
        rules.ecog_ranges[row] = (int(cast(Literal, graph.value(row, QL.ecogMinimum))),
                                  int(cast(Literal, graph.value(row, QL.ecogMaximum))))
        named.add(row)
    for term in named:
        rules.types[term] = frozenset(cast(Iterator[URIRef], graph.objects(term, RDF.type)))
        for prop in (RDFS.label, SKOS.altLabel):
            for name in graph.objects(term, prop):
                rules.names.setdefault(normalise_name(str(name)), term)
        label = graph.value(term, RDFS.label)
        rules.labels[term] = str(label) if isinstance(label, Literal) else str(term)
    rule = next(graph.subjects(RDF.type, QL.ConsentRule), None)
    if rule is not None:
        rules.consent_scopes = frozenset(_token(t) for t in graph.objects(rule, QL.acceptedScope))
        rules.consent_scope_texts = frozenset(
            str(t).casefold() for t in graph.objects(rule, QL.acceptedScopeText))
        rules.consent_statuses = frozenset(map(str, graph.objects(rule, QL.acceptedStatus)))
        rules.voiding_provisions = frozenset(
            map(str, graph.objects(rule, QL.voidingProvisionType)))
    return rules
