"""Lift the facts of declared kinds (``ql:FactKind``, protocol/fact_kinds.py): one node per
fact with its kind, value, dates and status, read by the kind's declaration alone.

A fact whose kind the protocol does not declare is not read: it is set aside and named. A value
that does not fit its kind's type (a word for a yes/no kind, a number without its kind's unit)
is lifted without a value, and the selections that would read it set it aside
(pipeline/derive/selections.py): no criterion reading them is met while it stands.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from pydantic import BaseModel
from rdflib import Literal, URIRef

from ...protocol.fact_kinds import FactKind
from ...protocol.namespaces import QL, RDF, RDFS
from ..literals import boolean, d, dec, text, when
from .base import LiftBase
from .doses import lift_dose


def fact_value(kind: FactKind, value: object, unit: str | None) -> Literal | None:
    """The value as its kind reads it, or None when it does not fit the kind."""
    if value is None:
        return boolean(True) if kind.value_type == "presence" else None
    if kind.value_type == "boolean":
        return boolean(value) if isinstance(value, bool) else None
    if kind.value_type == "quantity":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return dec(value) if kind.unit is None or unit == kind.unit else None
    if kind.value_type == "date":
        try:
            return d(date.fromisoformat(str(value)[:10]))
        except ValueError:
            return None
    if kind.value_type == "coded":
        if not isinstance(value, str):
            return None
        said = value.strip().casefold()
        labels = {label.casefold() for _token, label in kind.values}
        return text(said) if not labels or said in labels else None
    return boolean(True) if value is True else None


def _folded(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.casefold())


class FactLifter(LiftBase):
    """The ``facts`` and ``facts_complete`` sections."""

    def _undeclared(self, i: int, key: str) -> None:
        """A fact of a kind the protocol does not declare is not read, and never dropped
        unsaid: it is set aside, naming its place. When its key is a declared kind's spelt
        another way (``hbsAg``, ``HBs-Ag`` for ``hbsag``) it may be that kind's fact, so the
        criteria reading that kind are not met while it stands."""
        like = [k for k in self.term.fact_kinds.values() if _folded(k.key) == _folded(key)]
        node = self.node("set-aside-fact", i + 1)
        self.add(self.patient, QL.setAsideFact, node)
        self.add(node, RDF.type, QL.UntrustedFact)
        self.add(node, QL.recordSection, text("facts"))
        self.add(node, QL.sourceField, text(f"facts[{i}].kind"))
        self.add(node, RDFS.label, text(key))
        said = f"{key!r} is not a fact kind the protocol declares, so it is not read"
        for kind in like:
            said += f"; it may be {kind.key!r} ({kind.label}) spelt another way"
            for selection in self.term.selections:
                if kind.iri in selection.kinds:
                    self.add(node, QL.setAsideFrom, selection.iri)
        self.add(node, QL.setAsideReason, text(said))

    def lift_facts(self) -> None:
        kinds = self.term.fact_kinds
        for key in self.record.facts_complete or ():
            if key in kinds:
                self.add(self.patient, QL.recordedComplete, kinds[key].iri)
        for declared in kinds.values():
            if declared.built_in is not None:
                self.lift_section_as_facts(declared)
        for i, fact in enumerate(self.record.facts or ()):
            kind = kinds.get(fact.kind)
            if kind is None:
                self._undeclared(i, fact.kind)
                continue
            node = self.node("fact", i + 1)
            self.add(self.patient, QL.hasFact, node)
            self.add(node, RDF.type, QL.Fact)
            self.add(node, QL.factKind, kind.iri)
            self.add(node, QL.factValue, fact_value(kind, fact.value, fact.unit))
            if isinstance(fact.value, str):
                self.add(node, QL.factLabel, text(fact.value))
            if fact.date is not None:
                self.add(node, QL.effectiveDate, when(fact.date))
            if fact.end is not None:
                self.add(node, QL.factEnd, when(fact.end))
            if fact.status:
                self.add(node, QL.factStatus, text(fact.status.casefold()))
            for key, said in sorted((fact.attributes or {}).items()):
                self.lift_attribute(node, kind, key, said)
            if fact.code is not None:
                shown = fact.code if isinstance(fact.code, str) else \
                    f"{fact.code.system} {fact.code.code}"
                self.add(node, QL.testText, text(shown))
            if kind.value_type == "dose":  # a medication with its dosage (lift/doses.py)
                lift_dose(self.graph, node, kind, self.term, fact)


    def lift_attribute(self, node: URIRef, kind: FactKind, key: str, said: str) -> None:
        """One attribute of a fact: its key and value label when the kind declares both; a
        value it does not declare is kept as written only, so the attribute reads as not said
        (a selection that needs it is undecided, never decided on a word it cannot read)."""
        attribute = kind.attribute(key)
        if attribute is None:
            return
        label = said.strip().casefold()
        held = URIRef(f"{node}/attribute/{quote(key, safe='')}")
        self.add(node, QL.factAttribute, held)
        self.add(held, QL.attributeKey, text(key))
        if label in attribute.labels:
            self.add(held, QL.attributeValue, text(label))
        else:
            self.add(held, QL.attributeAsWritten, text(said))

    def lift_section_as_facts(self, kind: FactKind) -> None:
        """The items of a built-in record section (``ql:readBy``, e.g. the lesions) as facts of
        the kind too, so a selection can window them: each dated by its ``date`` (and
        ``end``), with the attributes the kind maps from its fields (``ql:recordField``)."""
        section = getattr(self.record, str(kind.built_in), None)
        items = section if isinstance(section, list) else [section]
        for i, item in enumerate(i for i in items if isinstance(i, BaseModel)):
            node = self.node("fact", quote(kind.key, safe=""), i + 1)
            self.add(self.patient, QL.hasFact, node)
            self.add(node, RDF.type, QL.Fact)
            self.add(node, QL.factKind, kind.iri)
            self.add(node, QL.factValue, boolean(True))
            for field, prop in (("date", QL.effectiveDate), ("end", QL.factEnd)):
                if getattr(item, field, None) is not None:
                    self.add(node, prop, when(getattr(item, field)))
            for attribute in kind.attributes:
                said = getattr(item, attribute.record_field or attribute.key, None)
                if isinstance(said, str) and said:
                    self.lift_attribute(node, kind, attribute.key, said)
