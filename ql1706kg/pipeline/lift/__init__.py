"""Lift a patient record to RDF in the ontology's terms. Pure: no file I/O, no derivation.

Names and codes are resolved to ontology terms through the cached terminology, and every
referenced term brings its types from the precomputed OWL-RL closure into the patient graph
(pitfalls.md: "merge a precomputed closure yourself"). Shapes can then test class membership
(a member of a drug class is a member of its parent class) without per-patient reasoning. A name the
terminology cannot classify becomes an ``Unrecognised*`` node that keeps the text, so the
criteria that depend on it are ``unknown`` and the explanation can name it.
"""

from __future__ import annotations

from rdflib import Literal

from ...inputs.models import PatientRecord
from ...protocol.namespaces import QL, RDF
from ...protocol.terminology import Terminology, terminology
from ..graph import PatientGraph
from ..literals import when
from .base import patient_iri
from .disease import DiseaseLifter
from .facts import FactLifter
from .observations import ObservationLifter
from .person import PersonLifter

__all__ = ["lift", "patient_iri"]

_SEX = {"female": QL.Female, "male": QL.Male, "other": QL.OtherSex, "unknown": QL.UnknownSex}


def lift(record: PatientRecord, source: str | None = None,
         term: Terminology | None = None) -> PatientGraph:
    """Return the RDF graph of one patient record."""
    return _Lifter(record, term or terminology()).run(source)


class _Lifter(PersonLifter, DiseaseLifter, ObservationLifter, FactLifter):
    """One record's lifting: the facts in the order the graph has always been built."""

    def run(self, source: str | None) -> PatientGraph:
        r, p = self.record, self.patient
        self.add(p, RDF.type, QL.Patient)
        self.add(p, QL.patientId, Literal(r.id))
        if source:
            self.add(p, QL.sourceFile, Literal(source))
        if r.sex:
            self.add(p, QL.sex, _SEX[r.sex])
        if r.birth_date:
            self.add(p, QL.birthDate, when(r.birth_date))
        self.lift_consent()
        self.lift_diagnosis()
        self.lift_history()
        self.lift_disease_measurements()
        self.lift_status()
        self.lift_observations()
        self.lift_supportive_care()
        self.lift_reproductive()
        self.lift_facts()
        self.lift_set_aside()
        return self.graph
