"""FHIR resources checked against their R4 models (``fhir.resources``, R4B), in parallel when
the input is large.

Checking is the costly part of reading FHIR and needs nothing but each resource's JSON, so it
is kept apart from pooling and reading: one malformed resource is reported with its element
while the rest are still read, and the check can run in worker processes without them knowing
about pools or patients.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

from pydantic import ValidationError

from .entries import Entry

# Resources checked per task when checking runs in worker processes, and the fewest worth
# starting workers for (forking costs more than checking a few bundles).
CHECK_BATCH = 200
PARALLEL_FROM = 2_000


def model_problem(kind: str, data: dict) -> tuple[str, str] | None:
    """Check one resource against its FHIR R4 model: None, or the first problem as (message,
    element path). The model itself is not kept: records are assembled from the JSON."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(kind).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _pydantic_message(first), ".".join(str(p) for p in first["loc"])
    return None


def _problems_of(batch: list[tuple[str, dict]]) -> list[tuple[str, str] | None]:
    return [model_problem(kind, data) for kind, data in batch]


def model_problems(entries: list[Entry], jobs: int = 1) -> list[tuple[str, str] | None]:
    """:func:`model_problem` of every entry, in order.

    Checking against the FHIR models is about three quarters of the cost of reading FHIR,
    and resources are checked independently, so a large input is checked in ``jobs`` forked
    processes (the models are built first, in this process, for the workers to inherit).
    """
    pairs = [(entry.type, entry.data) for entry in entries]
    if jobs <= 1 or len(pairs) < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        return _problems_of(pairs)
    from fhir.resources.R4B import get_fhir_model_class

    for kind in {kind for kind, _ in pairs}:
        get_fhir_model_class(kind)
    batches = [pairs[start:start + CHECK_BATCH] for start in range(0, len(pairs), CHECK_BATCH)]
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as workers:
        return [problem for checked in workers.map(_problems_of, batches)
                for problem in checked]


def _is_fhir_type(name: str) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(name)
    except (KeyError, ValueError):
        return False
    return True


def _pydantic_message(error: dict) -> str:
    kind = str(error.get("type"))
    if kind == "missing" or kind.endswith(".missing"):
        return "required element is missing"
    if kind == "extra_forbidden":
        return "unknown element (not in FHIR R4)"
    shown = json.dumps(error.get("input"), default=str)[:60]
    return f"{error.get('msg', 'invalid').rstrip('.')} (got {shown})"
