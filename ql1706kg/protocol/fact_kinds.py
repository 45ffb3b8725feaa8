"""Fact kinds and fact selections as data: what a record can hold beyond the built-in
sections, how each kind is read, and which facts a criterion looks at.

A ``ql:FactKind`` individual of the protocol's ontology declares one kind of fact: its key in
the JSON record's ``facts`` list (``ql:recordKey``, also its table column), its value type
(boolean, coded, quantity, date, or presence of a record), its unit, whether it is dated,
and how FHIR says it (resource types, the element that carries the code, the codes as
``system|code`` tokens or, for text only, words of the code's text, the coded values and
the label each stands for, the List code that records the kind complete). A built-in kind
(``ql:readBy``) is read by the engine's own reader of its section; the others are read by
:mod:`ql1706kg.inputs.fhir.declared` and lifted by :mod:`ql1706kg.pipeline.lift.facts` with
no Python of their own.

A ``ql:FactSelection`` (an object property of the patient) says which facts a criterion
reads: the kinds, the statuses that count, and a window of days before an anchor (the ICF,
the assessment date, or the date value of another kind such as the planned first dose). The
derivation (:mod:`ql1706kg.pipeline.derive.selections`) links the patient to every selected
fact by that property, so shapes stay comparisons on the selected facts' values.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import RDFS, Graph, Literal, URIRef

from .fact_attributes import Attribute, attribute_filters, build_attributes, fhir_token
from .namespaces import QL, RDF

VALUE_TYPES = {"BooleanValue": "boolean", "CodedValue": "coded", "QuantityValue": "quantity",
               "DateValue": "date", "PresenceValue": "presence",
               "DoseValue": "dose"}  # dose: a medication with its dosage (equivalents.py)


@dataclass(frozen=True)
class FactKind:
    """One declared kind of fact and how each input says it."""

    iri: URIRef
    key: str  # the record's facts[].kind, and the table column
    label: str
    value_type: str  # one of VALUE_TYPES' values
    dated: bool
    unit: str | None = None
    built_in: str | None = None  # the record section of the engine's own reader, if any
    fhir_types: tuple[str, ...] = ()
    code_elements: tuple[str, ...] = ("code",)
    codes: frozenset[tuple[str, str]] = frozenset()
    values: tuple[tuple[tuple[str, str], str], ...] = ()  # (system, code) -> label
    list_codes: frozenset[tuple[str, str]] = frozenset()
    # Words that name the kind in the code element's text when no coding does (a Specimen
    # whose type is text only): regular expressions, matched ignoring case.
    text_patterns: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()  # declared attributes (fact_attributes.py)

    def attribute(self, key: str) -> Attribute | None:
        """The declared attribute of that key (None: the kind has none)."""
        return next((a for a in self.attributes if a.key == key), None)

    def value_label(self, system: str, code: str) -> str | None:
        """The label a coded FHIR value stands for (None: not a value of this kind)."""
        return next((label for token, label in self.values if token == (system, code)), None)


@dataclass(frozen=True)
class Selection:
    """Which facts of a patient a criterion reads (the property the derivation writes)."""

    iri: URIRef
    kinds: tuple[URIRef, ...]
    statuses: frozenset[str] = frozenset()  # empty: any status
    values: frozenset[str] = frozenset()  # empty: any value (coded or boolean labels)
    anchor: URIRef | None = None  # ql:ConsentAnchor, ql:AssessmentAnchor or a date kind
    max_days: int | None = None  # anchor - fact date <= max_days
    min_days: int | None = None  # anchor - fact date >= min_days
    most_recent: bool = False
    on_value: bool = False  # ql:windowOnValue: the window reads the fact's date value
    on_start: bool = False  # ql:windowOnStart: the window reads the day the fact began
    after_anchor: bool = False  # a fact dated after the anchor (up to as-of) is inside too
    # attribute key -> the values that count; a fact that does not say it is undecided
    attributes: tuple[tuple[str, frozenset[str]], ...] = ()


def _int(value: object) -> int | None:
    return int(value.toPython()) if isinstance(value, Literal) else None


def _kind(g: Graph, kind: URIRef) -> FactKind | None:
    key = g.value(kind, QL.recordKey)
    if key is None:
        return None
    vtype = g.value(kind, QL.valueType)
    local = str(vtype).rsplit("#", 1)[-1] if vtype is not None else "PresenceValue"
    values = []
    for node in g.objects(kind, QL.valueCoding):
        label = g.value(node, QL.valueLabel)
        for token in g.objects(node, QL.fhirCode):
            parsed = fhir_token(token)
            if parsed and label is not None:
                values.append((parsed, str(label)))
    elements = tuple(sorted(str(e) for e in g.objects(kind, QL.fhirCodeElement))) or ("code",)
    return FactKind(
        iri=kind, key=str(key), label=str(g.value(kind, RDFS.label) or key),
        value_type=VALUE_TYPES.get(local, "presence"),
        dated=bool(g.value(kind, QL.dated, default=Literal(True)).toPython()),
        unit=str(g.value(kind, QL.canonicalUnit)) if g.value(kind, QL.canonicalUnit) else None,
        built_in=str(g.value(kind, QL.readBy)) if g.value(kind, QL.readBy) else None,
        fhir_types=tuple(sorted(str(t) for t in g.objects(kind, QL.fhirResourceType))),
        code_elements=elements,
        codes=frozenset(t for t in map(fhir_token, g.objects(kind, QL.fhirCode)) if t),
        values=tuple(sorted(values)),
        list_codes=frozenset(t for t in map(fhir_token, g.objects(kind, QL.fhirListCode)) if t),
        text_patterns=tuple(sorted(str(t) for t in g.objects(kind, QL.fhirCodeText))),
        attributes=build_attributes(g, kind))


def build_fact_kinds(g: Graph) -> tuple[dict[str, FactKind], tuple[Selection, ...]]:
    """The declared fact kinds by record key, and the fact selections, of an ontology."""
    kinds: dict[str, FactKind] = {}
    for iri in sorted(_named(g.subjects(RDF.type, QL.FactKind))):
        kind = _kind(g, iri)
        if kind is not None:
            kinds[kind.key] = kind
    selections = []
    for iri in sorted(_named(g.subjects(RDF.type, QL.FactSelection))):
        selections.append(Selection(
            iri=iri, kinds=tuple(sorted(_named(g.objects(iri, QL.selectsKind)))),
            statuses=frozenset(str(s) for s in g.objects(iri, QL.selectsStatus)),
            values=frozenset(str(s) for s in g.objects(iri, QL.selectsValue)),
            anchor=g.value(iri, QL.windowAnchor),
            max_days=_int(g.value(iri, QL.withinDaysBefore)),
            min_days=_int(g.value(iri, QL.atLeastDaysBefore)),
            most_recent=bool(g.value(iri, QL.mostRecentOnly, default=Literal(False))
                             .toPython()),
            on_value=bool(g.value(iri, QL.windowOnValue, default=Literal(False)).toPython()),
            on_start=bool(g.value(iri, QL.windowOnStart, default=Literal(False)).toPython()),
            after_anchor=bool(g.value(iri, QL.includesAfterAnchor, default=Literal(False))
                              .toPython()),
            attributes=attribute_filters(g, iri)))
    return kinds, tuple(selections)


def anchor_problems(kinds, selections) -> list[str]:
    """Windows the engine cannot count from (the check refuses them: an anchor it cannot find
    is never on record, so the window would be undecided for every patient; a cycle of
    selections anchored on each other has no first one to compute)."""
    by_iri = {s.iri: s for s in selections}
    dates = {k.iri for k in kinds if k.value_type == "date"}
    out = []
    for selection in selections:
        name = str(selection.iri).rsplit("#", 1)[-1]
        anchor, seen = selection.anchor, {selection.iri}
        if anchor is None or anchor in {QL.ConsentAnchor, QL.AssessmentAnchor} | dates:
            continue
        if anchor not in by_iri:
            out.append(f"the fact selection {name} counts its window from {anchor}, which is "
                       "no anchor, date kind or fact selection")
        while anchor in by_iri and anchor not in seen:
            seen.add(anchor)
            anchor = by_iri[anchor].anchor
        if anchor in seen:
            out.append(f"the fact selection {name} is anchored on itself through "
                       "ql:windowAnchor (a cycle)")
    return out


def _named(nodes) -> set[URIRef]:
    """The IRIs among ``nodes`` (a blank node or a literal names no kind or selection)."""
    return {node for node in nodes if isinstance(node, URIRef)}
