"""ql1706kg: the QL1706 sarcoma trial's eligibility criteria as a knowledge graph.

The public API is small: :func:`screen` turns patient files or records into typed
:class:`Screening` results; :func:`lift` gives a patient's RDF graph.
"""

from __future__ import annotations

from .api import Screening, ScreeningError, patient_graph, screen
from .pipeline.lift import lift
from .pipeline.results import CriterionResult, PatientResult
from .version import __version__

__all__ = ["CriterionResult", "PatientResult", "Screening", "ScreeningError", "__version__",
           "lift", "patient_graph", "screen"]
