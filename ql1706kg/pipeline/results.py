"""What screening produces: per criterion, per patient and per batch, in plain data types.

Every step after judging (rendering, reports, verdict graphs, the API) reads these types and
nothing else, so they sit below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rdflib import URIRef

from ..protocol.resources import protocol_hash
from ..version import __version__
from .graph import PatientGraph

OUTCOMES = ("met", "not_met", "unknown", "not_applicable")


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one atomic criterion for one patient, with its explanation."""

    id: str
    text: str
    outcome: str
    explanation: str
    evidence: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    to_collect: str | None = None
    shapes: tuple[str, ...] = ()
    evidence_nodes: tuple[str, ...] = ()  # IRIs of the facts cited (observations, derived...)
    change_needed: str | None = None  # values, limits and changes needed (pipeline/what_if)

    def fields(self) -> tuple[str, str, str, str, tuple[str, ...], tuple[str, ...], str | None,
                              tuple[str, ...], tuple[str, ...], str | None]:
        """The fields in order: the compact form results travel in between processes."""
        return (self.id, self.text, self.outcome, self.explanation, self.evidence, self.limits,
                self.to_collect, self.shapes, self.evidence_nodes, self.change_needed)

    def as_dict(self) -> dict:
        """Return the JSON form of the result."""
        return {"id": self.id, "outcome": self.outcome, "explanation": self.explanation,
                "text": self.text, "evidence": list(self.evidence), "limits": list(self.limits),
                "to_collect": self.to_collect, "violated_shapes": list(self.shapes),
                "change_needed": self.change_needed}


@dataclass(frozen=True)
class WindowFit:
    """How a patient's dated results of the tests a windowed criterion uses sit against the
    screening window: how many are inside it, how many outside (too old, or after the as-of
    date), and the earliest and latest of their dates. A run whose results all lie outside
    was probably screened as of the wrong date, and can say which ``--as-of`` would fit."""

    inside: int = 0
    outside: int = 0
    earliest: date | None = None
    latest: date | None = None


@dataclass(frozen=True)
class PatientResult:
    """The screening of one patient."""

    id: str
    source: str
    verdict: str
    as_of: date
    criteria: tuple[CriterionResult, ...]
    iri: URIRef | None = None
    graph: PatientGraph | None = field(default=None, compare=False, repr=False)
    # what would change the verdict (pipeline/what_if.py): the last as-of date with the same
    # verdict as results leave the window; where a waiting period is the only obstacle, the
    # first date new screening labs may be drawn
    valid_until: date | None = None
    eligible_from: date | None = None
    window_fit: WindowFit | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple:
        # Pickled as plain tuples: results come back from worker processes, and pickle's
        # generic path for ~30 dataclass objects a patient doubled the parent's share of work.
        return (_rebuild, (self.id, self.source, self.verdict, self.as_of,
                           tuple(c.fields() for c in self.criteria), self.iri, self.graph,
                           self.valid_until, self.eligible_from, self.window_fit))

    def outcome(self, criterion_id: str) -> str:
        """Return the outcome of one criterion by id."""
        return next(c.outcome for c in self.criteria if c.id == criterion_id)

    def as_dict(self) -> dict:
        """Return the JSON form of the result."""
        return {"id": self.id, "source": self.source, "verdict": self.verdict,
                "counts": {o: sum(c.outcome == o for c in self.criteria) for o in OUTCOMES},
                "criteria": [c.as_dict() for c in self.criteria],
                "valid_until": _iso(self.valid_until), "eligible_from": _iso(self.eligible_from)}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _rebuild(patient_id: str, source: str, verdict: str, as_of: date, criteria: tuple,
             iri: URIRef | None, graph: PatientGraph | None, valid_until: date | None = None,
             eligible_from: date | None = None, window_fit: WindowFit | None = None
             ) -> PatientResult:
    return PatientResult(patient_id, source, verdict, as_of,
                         tuple(CriterionResult(*c) for c in criteria), iri, graph,
                         valid_until, eligible_from, window_fit)


@dataclass(frozen=True)
class ScreeningError:
    """An input that could not be screened: where it was and what is wrong."""

    source: str
    message: str
    record: str | None = None
    field: str | None = None

    def as_dict(self) -> dict:
        """Return the JSON form."""
        return {"source": self.source, "record": self.record, "field": self.field,
                "message": self.message}


@dataclass(frozen=True)
class EncodedResult:
    """A patient's result already written out by the process that screened it.

    Sending back these bytes instead of the result objects keeps the parent process (which
    reads the inputs and writes the output) from becoming the bottleneck of ``--jobs``.
    """

    id: str
    source: str
    verdict: str
    data: bytes
    window_fit: WindowFit | None = None


Result = PatientResult | EncodedResult | ScreeningError


@dataclass
class Screening:
    """The result of screening a batch: every patient's verdict, and every unreadable input."""

    as_of: date
    window_days: int
    protocol_version: str
    patients: list[PatientResult] = field(default_factory=list)
    errors: list[ScreeningError] = field(default_factory=list)
    notes: list = field(default_factory=list)  # InputNote: read, not screened, said
    protocol_hash: str = field(default_factory=protocol_hash)  # the protocol's content

    def as_dict(self) -> dict:
        """Return the JSON form documented in the README."""
        return {"as_of": self.as_of.isoformat(), "window_days": self.window_days,
                "protocol_version": self.protocol_version, "protocol_hash": self.protocol_hash,
                "software_version": __version__,
                "patients": [p.as_dict() for p in self.patients],
                "errors": [e.as_dict() for e in self.errors]}
