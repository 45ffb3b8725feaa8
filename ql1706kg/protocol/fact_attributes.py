"""Attributes of a fact, declared: the elements besides its code, value, date and status that a
criterion filters facts by (a radiotherapy course's field extent and intent, the imaging method
of a measurement, a procedure's body site, a medication's route), as data.

A fact kind declares each attribute with ``ql:hasAttribute``::

    ql:hasAttribute [ ql:attributeKey "intent" ; rdfs:label "treatment intent" ;
        ql:fhirElement "category" ;                       # a FHIR element path, or
        ql:fhirExtension "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-procedure-intent" ;
        ql:valueCoding [ ql:fhirCode "http://snomed.info/sct|363676003" ;
                         ql:valueLabel "palliative" ] ] .

The key names the attribute in the JSON record (``facts[].attributes``) and its table column
(for a built-in kind, ``ql:readBy "lesions"``, ``ql:recordField`` names the field of the
section's items that holds it, and the section's items are lifted as facts of the kind);
each value is a label, said in FHIR by the codings (or, for text only, the words:
``ql:fhirCodeText``) of its value coding. A fact selection requires values with
``ql:selectsAttribute [ ql:attributeKey "intent" ; ql:attributeValue "palliative" ]``; a fact
that does not say the attribute (or says it in a way no value coding reads) may or may not
count, so the selection is undecided for it, never silently decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import RDFS, Graph
from rdflib.term import Node

from .namespaces import QL


@dataclass(frozen=True)
class Attribute:
    """One declared attribute of a fact kind and how FHIR says it."""

    key: str
    label: str
    elements: tuple[str, ...] = ()  # FHIR element paths, dotted ("dosage.route")
    extensions: tuple[str, ...] = ()  # extension URLs (on the resource)
    values: tuple[tuple[tuple[str, str], str], ...] = ()  # (system, code) -> label
    texts: tuple[tuple[str, str], ...] = ()  # (regular expression, label), case ignored
    record_field: str | None = None  # for a built-in kind: the field of its record section
    labels: frozenset[str] = frozenset()  # every value label the attribute can take

    def label_of(self, system: str, code: str) -> str | None:
        """The label a coding stands for; a bare code (a FHIR ``code`` element, no system)
        matches the codes of any system."""
        for (s, c), label in self.values:
            if c == code and (s == system or not system):
                return label
        return None


def fhir_token(value: object) -> tuple[str, str] | None:
    """A ``system|code`` token as (system, code); None when it is not one."""
    text = str(value)
    if "|" not in text:
        return None
    system, code = text.rsplit("|", 1)
    return system.strip(), code.strip()


def build_attributes(g: Graph, kind: Node) -> tuple[Attribute, ...]:
    """The attributes a fact kind declares, by key."""
    found = []
    for node in g.objects(kind, QL.hasAttribute):
        key = g.value(node, QL.attributeKey)
        if key is None:
            continue
        values, texts, labels = [], [], set()
        for coding in g.objects(node, QL.valueCoding):
            label = g.value(coding, QL.valueLabel)
            if label is None:
                continue
            shown = str(label).strip().casefold()
            labels.add(shown)
            values += [(t, shown) for t in map(fhir_token, g.objects(coding, QL.fhirCode)) if t]
            texts += [(str(p), shown) for p in g.objects(coding, QL.fhirCodeText)]
        found.append(Attribute(
            key=str(key), label=str(g.value(node, RDFS.label) or key),
            elements=tuple(sorted(str(e) for e in g.objects(node, QL.fhirElement))),
            extensions=tuple(sorted(str(e) for e in g.objects(node, QL.fhirExtension))),
            values=tuple(sorted(values)), texts=tuple(sorted(texts)), labels=frozenset(labels),
            record_field=str(field) if (field := g.value(node, QL.recordField)) else None))
    return tuple(sorted(found, key=lambda a: a.key))


def attribute_filters(g: Graph, selection: Node) -> tuple[tuple[str, frozenset[str]], ...]:
    """The attribute values a selection requires: (key, the labels that count), by key."""
    wanted: dict[str, set[str]] = {}
    for node in g.objects(selection, QL.selectsAttribute):
        key = g.value(node, QL.attributeKey)
        if key is not None:
            wanted.setdefault(str(key), set()).update(
                str(v).strip().casefold() for v in g.objects(node, QL.attributeValue))
    return tuple(sorted((k, frozenset(v)) for k, v in wanted.items()))


def attribute_problems(kinds, selections) -> list[str]:
    """What a selection asks of attributes that its kinds cannot say (the check refuses it: a
    misspelt key or value would select nothing, and a selection that excludes would then
    exclude no one)."""
    by_iri = {kind.iri: kind for kind in kinds}
    out = []
    for selection in selections:
        name = str(selection.iri).rsplit("#", 1)[-1]
        for key, wanted in selection.attributes:
            declared = [a for k in selection.kinds if k in by_iri
                        for a in by_iri[k].attributes if a.key == key]
            if not declared:
                out.append(f"the fact selection {name} selects the attribute '{key}', which "
                           f"none of its kinds declares (ql:hasAttribute)")
            for value in sorted(wanted - {v for a in declared for v in a.labels}):
                if declared:
                    out.append(f"the fact selection {name} selects '{value}' of the attribute "
                               f"'{key}', which is not one of its values "
                               f"({', '.join(sorted(declared[0].labels))})")
    return out
