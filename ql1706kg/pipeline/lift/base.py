"""What every part of lifting shares: the record, the patient's graph and IRI, and the way a
name or code becomes an ontology term (with its closure types) or an ``Unrecognised*`` node.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from rdflib import Literal, URIRef

from ...inputs.models import Coded, PatientRecord
from ...protocol.drugs import drug_index, node_types
from ...protocol.namespaces import QL, QLP, RDF, RDFS
from ...protocol.terminology import Terminology
from ..graph import PatientGraph
from ..literals import boolean, text, when


def patient_iri(patient_id: str) -> URIRef:
    """Return the stable IRI of a patient."""
    return QLP[quote(patient_id, safe="")]


class LiftBase:
    """One record's lifting state; the lifters of each kind of fact extend it."""

    def __init__(self, record: PatientRecord, term: Terminology) -> None:
        self.record, self.term = record, term
        self.graph = PatientGraph()
        self.patient = patient_iri(record.id)
        self._typed: set[URIRef] = set()

    def node(self, *parts: object) -> URIRef:
        return URIRef(f"{self.patient}/" + "/".join(str(p) for p in parts))

    def add(self, s, p, o) -> None:
        if o is not None:
            self.graph.add((s, p, o))

    def term_ref(self, value: str | Coded, within: URIRef, kind: str,
                 fallback: URIRef, in_phrase: bool = False) -> URIRef:
        """Resolve a name or code to a term; bring its closure types; else an unrecognised node.

        ``in_phrase`` lets a known name inside a longer phrase count ("liver segment VII").
        """
        if within == QL.Drug:
            return self.drug_ref(value, kind)
        find = self.term.find_in_phrase if in_phrase else self.term.find
        if isinstance(value, Coded):
            hit = self.term.find_code(value.system, value.code, within)
            written = f"{value.system} {value.code}" + (
                f" ({value.display})" if value.display else "")
            if hit is None and value.display:
                hit = find(value.display, within)
        else:
            hit, written = find(value, within), value
        if hit is not None:
            self.copy_types(hit)
            return hit
        slug = hashlib.sha1(written.encode()).hexdigest()[:10]
        unknown = URIRef(f"{self.patient}/{kind}/{slug}")
        self.graph.add((unknown, RDF.type, fallback))
        self.graph.add((unknown, RDFS.label, Literal(written)))
        return unknown

    def drug_ref(self, value: str | Coded, kind: str) -> URIRef:
        """A drug or product as :mod:`~ql1706kg.protocol.drugs` reads it: the one drug it
        names; else a node of this patient with the classes of every drug it names (a
        regimen written as one item) and, for what is not identified, ``ql:UnrecognisedDrug``
        with the classes its stem or ATC group gives and the ``ql:Possible*`` classes it may
        still belong to."""
        index = drug_index(self.term)
        reading = index.read((value.system, value.code, value.display)
                             if isinstance(value, Coded) else value)
        if reading.single is not None:
            self.copy_types(reading.single)
            return reading.single
        slug = hashlib.sha1(reading.written.encode()).hexdigest()[:10]
        node = URIRef(f"{self.patient}/{kind}/{slug}")
        for cls in sorted(node_types(index, reading)):
            self.graph.add((node, RDF.type, cls))
        self.graph.add((node, RDFS.label, Literal(reading.written)))
        for iri in reading.known:
            self.copy_types(iri)
            self.graph.add((node, QL.hasComponentDrug, iri))
        return node

    def lift_course(self, node: URIRef, item) -> None:
        """A course's start, end and whether it is ongoing (therapies, supportive care,
        pregnancies)."""
        for prop, value in ((QL.startDate, item.start), (QL.endDate, item.end)):
            if value is not None:
                self.add(node, prop, when(value))
        if item.ongoing is not None:
            self.add(node, QL.ongoing, boolean(item.ongoing))

    def lift_resolution(self, node: URIRef, resolved) -> None:
        """Resolved on a date, or resolved (true); false or absent says nothing."""
        if resolved is True:
            self.add(node, QL.resolved, boolean(True))
        elif resolved is not None and resolved is not False:
            self.add(node, QL.resolvedDate, when(resolved))

    def copy_types(self, iri: URIRef) -> None:
        if iri in self._typed:
            return
        self._typed.add(iri)
        for cls in self.term.types.get(iri, ()):
            self.graph.add((iri, RDF.type, cls))
        label = self.term.labels.get(iri)
        if label:
            self.graph.add((iri, RDFS.label, text(label)))
