"""The Python API: screen patients from files or records; the CLI is a thin layer over it.

>>> from ql1706kg import screen
>>> result = screen(["examples/patients"], as_of="2026-11-20")
>>> [(p.id, p.verdict) for p in result.patients]   # doctest: +SKIP

Patients stream through read -> lift -> derive, are validated in small batches (one pySHACL
call per batch, never one graph of all patients), then judged and explained one by one.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, InputNote
from .inputs.fhir.workspace import Workspace

if TYPE_CHECKING:
    from .inputs.fhir.handle import FhirPerson
    from .inputs.omop.person import OmopPerson
from .inputs.models import PatientRecord
from .inputs.omop import OmopInput
from .inputs.read import RawRecord, SourcedRecord, read_paths
from .pipeline.assessment import Assessment
from .pipeline.batch import Item, batches, patient_graph, screen_batch, unique_ids
from .pipeline.parallel import fewer_collections, in_workers, on_cluster
from .pipeline.results import EncodedResult, PatientResult, Result, Screening, ScreeningError
from .protocol.terminology import terminology

__all__ = ["EncodedResult", "Screening", "ScreeningError", "assessment_for", "iter_screen",
           "patient_graph", "protocol_version", "screen"]

# Patients a worker screens per task: 50 measured 1.91× on 2 cores against 1.85× for 20 (less
# inter-process traffic per patient) and 1.85× for 100 (a longer tail at the end).
BATCH_SIZE = 50


Input = str | Path | PatientRecord | dict | OmopInput


def assessment_for(as_of: date | str | None, window_days: int | None = None
                   ) -> Assessment:
    """Build the assessment settings; ``as_of`` defaults to today, ``window_days`` to the
    protocol's screening window (``ql:ScreeningWindowDays``)."""
    if as_of is None:
        day = date.today()
    elif isinstance(as_of, str):
        day = date.fromisoformat(as_of)
    else:
        day = as_of
    # refuses what is out of range; no window: the protocol's
    return Assessment(day) if window_days is None else Assessment(day, window_days)


def screen(inputs: Iterable[Input] | Input, as_of: date | str | None = None,
           window_days: int | None = None, jobs: int = 1,
           keep_graphs: bool = True) -> Screening:
    """Screen files, folders, records or dicts; return every verdict and every input error.

    ``jobs`` > 1 screens batches in that many worker processes (results keep input order);
    ``keep_graphs=False`` drops each patient's RDF graph from its result (not needed for text
    or JSON, and costly to send back from a worker).
    """
    assessment = assessment_for(as_of, window_days)
    result = Screening(as_of=assessment.as_of, window_days=assessment.window_days,
                       protocol_version=protocol_version())
    def note(found: InputNote) -> None:
        result.notes.append(found)
        logging.getLogger("ql1706kg").warning("%s", found)

    for item in iter_screen(inputs, assessment, jobs=jobs, keep_graphs=keep_graphs,
                            on_note=note):
        if isinstance(item, ScreeningError):
            result.errors.append(item)
        elif isinstance(item, PatientResult):  # (no encode: never an EncodedResult)
            result.patients.append(item)
    return result


def iter_screen(inputs: Iterable[Input] | Input, assessment: Assessment,
                batch_size: int = BATCH_SIZE, jobs: int = 1, keep_graphs: bool = True,
                skip: Callable[[SourcedRecord | RawRecord | FhirPerson | OmopPerson], bool]
                | None = None,
                scheduler: str | None = None,
                encode: Callable[[PatientResult], bytes] | None = None,
                on_note: Callable[[InputNote], None] | None = None,
                on_people: Callable[[int], None] | None = None
                ) -> Iterator[Result]:
    """Yield results as they are ready, in input order, with bounded memory.

    Inputs are read lazily and at most ``2 × jobs`` batches are in flight, so a million
    patients stream through in the memory of a few batches. ``skip`` drops records already
    screened (``--resume``). ``scheduler`` sends the batches to a Dask distributed cluster
    instead (its address, e.g. ``tcp://10.0.0.5:8786``); ql1706kg must be installed there.
    ``encode`` (a picklable function) turns each result into bytes where it was screened,
    and :class:`EncodedResult` items are yielded instead of results. ``on_note`` receives
    what the readers found worth knowing but not an error (default: the logger).
    ``on_people`` is told how many people the FHIR input holds once it is grouped (before
    any of them is screened: a progress bar's total).
    """
    # FHIR persons are assembled where they are screened, from an index on disk that lives
    # as long as the screening (a cluster's workers cannot see it: there the parent assembles).
    with fewer_collections(), Workspace() as workspace:
        yield from _iter_screen(inputs, assessment, batch_size, jobs, keep_graphs, skip,
                                scheduler, encode, on_note,
                                workspace if scheduler is None else None, on_people)


def _iter_screen(inputs: Iterable[Input] | Input, assessment: Assessment, batch_size: int,
                 jobs: int, keep_graphs: bool,
                 skip: Callable[[SourcedRecord | RawRecord | FhirPerson | OmopPerson], bool]
                 | None,
                 scheduler: str | None, encode: Callable[[PatientResult], bytes] | None,
                 on_note: Callable[[InputNote], None] | None = None,
                 workspace: Workspace | None = None,
                 on_people: Callable[[int], None] | None = None) -> Iterator[Result]:
    records = unique_ids(_records(inputs, jobs, on_note, workspace, on_people))
    if skip is not None:
        records = (r for r in records if isinstance(r, InputError) or not skip(r))
    chunks = batches(records, batch_size)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    work = itertools.chain([first], [second] if second is not None else [], chunks)
    screen_chunk = functools.partial(screen_batch, assessment=assessment,
                                     keep_graphs=keep_graphs, encode=encode)
    if scheduler is not None:
        yield from on_cluster(screen_chunk, work, scheduler)
        return
    if jobs <= 1 or second is None:
        for chunk in work:
            yield from screen_chunk(chunk)
        return
    yield from in_workers(screen_chunk, work, jobs)


def _records(inputs: Iterable[Input] | Input, jobs: int = 1,
             on_note: Callable[[InputNote], None] | None = None,
             workspace: Workspace | None = None,
             on_people: Callable[[int], None] | None = None) -> Iterator[Item]:
    """Every input as a record to screen; files are read without validating their records,
    which is left to the process that screens them (the parent only splits the JSON). FHIR
    input is indexed in ``workspace`` and each person assembled by the process that screens
    them (without a workspace, here)."""
    if isinstance(inputs, str | Path | PatientRecord | dict | OmopInput):
        inputs = [inputs]
    paths: list[str | Path | OmopInput] = []
    for index, item in enumerate(inputs):
        if isinstance(item, PatientRecord):
            yield SourcedRecord(f"<record {item.id}>", item)
        elif isinstance(item, str | Path | OmopInput):
            paths.append(item)  # files, folders, and OMOP databases read in place
        else:
            # A dict is a record; anything else is reported as a bad record, not a crash.
            yield RawRecord(f"<input {index + 1}>", item)
    yield from read_paths(paths, validate=False, jobs=jobs, on_note=on_note,
                          fhir_workspace=workspace, on_people=on_people)


def protocol_version() -> str:
    """The version of the protocol the ontology encodes."""
    return terminology().protocol_version
