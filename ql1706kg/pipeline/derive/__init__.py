"""Derive, before validation, every value a criterion compares: so shapes stay comparisons.

Formulas and date arithmetic are not portable in SPARQL (pitfalls.md) and are the slow part of
SHACL-SPARQL, so they are computed here once: unit-normalised values, ratios to ULN, the
screening result of each test (most recent on or before ``as_of`` within the window), age,
creatinine clearance, dipstick grades, day counts for waiting periods, changes of the sum of
diameters for progression, what holds on the assessment date (current metastases, conditions,
pregnancies).
Dates are intervals and results may be bounds: a value the data cannot fix is derived as the
interval of what it can be (pipeline/uncertain.py). No protocol threshold is written here:
the limits are in shapes/. Each derived value is either stored on the fact it comes from or is
a ``ql:DerivedValue`` node linked to its sources with ``prov:wasDerivedFrom``.
"""

from __future__ import annotations

from typing import cast

from rdflib import URIRef

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology, terminology
from ..assessment import Assessment
from ..graph import PatientGraph
from ..literals import d, integer
from .clearance import ClearanceDeriver
from .courses import CourseDeriver
from .cut import cut_after
from .dates import add_months, calendar_months_apart, completed_years
from .doses import DoseDeriver
from .labs import LabDeriver
from .regimens import RegimenDeriver
from .selections import SelectionDeriver
from .status import StatusDeriver
from .timeline import TimelineDeriver

__all__ = ["add_months", "calendar_months_apart", "completed_years", "derive"]


def derive(graph: PatientGraph, patient: URIRef, assessment: Assessment,
           term: Terminology | None = None) -> PatientGraph:
    """Add the derived facts of one patient to its graph (in place) and return the graph."""
    _Deriver(graph, patient, assessment, term or terminology()).run()
    return graph


class _Deriver(LabDeriver, ClearanceDeriver, TimelineDeriver, CourseDeriver, StatusDeriver,
               SelectionDeriver, RegimenDeriver, DoseDeriver):
    """One patient's derivation, in the order the graph has always been built."""

    def run(self) -> None:
        g, p = self.g, self.p
        g.add((p, QL.assessmentDate, d(self.a.as_of)))
        g.add((p, QL.screeningWindowDays, integer(self.a.window_days)))
        cut_after(g, p, self.a.as_of)  # first: no later step sees a fact dated after as-of
        self.derive_current()
        for obs in list(g.objects(p, QL.hasObservation)):
            self.normalise(cast(URIRef, obs))
        self.select_screening_results()
        self.derive_consent_and_age()
        self.derive_clearance()
        self.derive_supportive_care_days()
        self.derive_therapy_timing()
        self.derive_diameter_changes()
        self.derive_lesions()
        self.derive_survival()
        self.derive_selections()
        self.derive_regimen_counts()
        self.derive_current_doses()
