"""Shared fixtures: a complete eligible record, and a way to screen a changed copy of it.

Boundary tables change one element of ``BASE`` and check one criterion's outcome, so each
case reads as a line of the protocol ("AST exactly 2.5 × ULN -> met").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ql1706kg import screen

AS_OF = "2026-11-20"
DATA_DIR = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"

BASE: dict = json.loads((DATA_DIR / "base-eligible.json").read_text())


def record(**changes) -> dict:
    """Return a copy of the eligible base record with top-level fields replaced."""
    rec = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


def with_observation(rec: dict, test: str, value, unit=None, uln=None, date="2026-11-12",
                     replace: bool = True) -> dict:
    """Return ``rec`` with its observation of ``test`` replaced (or removed when value is None)."""
    rec = copy.deepcopy(rec)
    if replace:
        rec["observations"] = [o for o in rec["observations"] if o["test"] != test]
    if value is not None:
        obs = {"test": test, "value": value, "date": date}
        if unit is not None:
            obs["unit"] = unit
        if uln is not None:
            obs["uln"] = uln
        rec["observations"].append(obs)
    return rec


def outcomes(rec: dict, as_of: str = AS_OF, window_days: int = 28) -> dict[str, str]:
    """Screen one record and return {criterion id: outcome}."""
    result = screen([rec], as_of=as_of, window_days=window_days)
    assert not result.errors, result.errors
    (patient,) = result.patients
    return {c.id: c.outcome for c in patient.criteria}


def explain(rec: dict, criterion: str, as_of: str = AS_OF) -> str:
    """Screen one record and return one criterion's explanation."""
    (patient,) = screen([rec], as_of=as_of).patients
    return next(c.explanation for c in patient.criteria if c.id == criterion)


@pytest.fixture
def base() -> dict:
    """A fresh copy of the eligible base record."""
    return copy.deepcopy(BASE)


def pytest_configure(config) -> None:
    """The controller names the folder the session's PostgreSQL cluster will live in (the
    xdist workers inherit it, so they share one cluster: tests/omop_support.py)."""
    if not hasattr(config, "workerinput"):
        import os
        import tempfile

        from .omop_support import STATE_VARIABLE

        os.environ[STATE_VARIABLE] = tempfile.mkdtemp(prefix="qlpg-", dir="/tmp")


def pytest_sessionfinish(session, exitstatus) -> None:
    """The controller stops and removes the session's PostgreSQL cluster, if one started."""
    if not hasattr(session.config, "workerinput"):
        from .omop_support import stop_cluster

        stop_cluster()


def protocol_criteria_rows() -> int:
    """How many rows the ``protocol-criteria`` query gives: one per criterion and limit shape,
    counted with rdflib over the published ontology and shapes (not a number that goes stale
    when the protocol gains a limit)."""
    from rdflib import Dataset, URIRef

    from ql1706kg.semweb.publish.export import publication_graph
    from ql1706kg.semweb.query import named_queries

    dataset = Dataset()
    for what, name in (("ontology", "https://w3id.org/ql1706kg"),
                       ("shapes", "https://w3id.org/ql1706kg/shapes")):
        dataset.graph(URIRef(name)).__iadd__(publication_graph(what))
    return len(list(dataset.query(named_queries()["protocol-criteria"].text)))
