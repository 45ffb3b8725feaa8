"""ql1706kg: a sarcoma trial's eligibility criteria as a knowledge graph (the protocol is data).

The public API is small: :func:`screen` turns patient files or records into typed
:class:`Screening` results; :func:`lift` gives a patient's RDF graph.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    from .api import Screening, ScreeningError, patient_graph, screen
    from .pipeline.lift import lift
    from .pipeline.protocol_check import ProtocolRefused, checked_protocol
    from .pipeline.results import CriterionResult, PatientResult

# Where each public name lives; imported on first use (PEP 562), so that a command that needs
# only the protocol (``ql1706kg criteria``) does not pay for the readers and the pipeline.
_PUBLIC = {"Screening": "api", "ScreeningError": "api", "patient_graph": "api", "screen": "api",
           "lift": "pipeline.lift", "CriterionResult": "pipeline.results",
           "PatientResult": "pipeline.results", "checked_protocol": "pipeline.protocol_check",
           "ProtocolRefused": "pipeline.protocol_check"}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CriterionResult", "PatientResult", "ProtocolRefused", "Screening", "ScreeningError",
           "__version__", "checked_protocol", "lift", "patient_graph", "screen"]
