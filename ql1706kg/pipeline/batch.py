"""Patients through the pipeline in batches, where one patient's failure costs that patient only.

A batch is validated in one call (cheaper per patient than one call each), so one bad patient
could take the batch with it. Here every step that can fail for one patient (record
validation, dates against the assessment, lifting and deriving, judging and encoding) is
fenced per patient, and a batch that fails validation as a whole is validated again patient
by patient: whatever happens, each input becomes exactly one result or one error entry
(patients + errors = records). Identity is settled before batching: a patient id names one
person in a run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import cast

import orjson

from ..errors import InputError
from ..inputs.fhir.handle import FhirPerson
from ..inputs.models import PatientRecord
from ..inputs.omop.person import OmopPerson
from ..inputs.plausibility import date_problem
from ..inputs.records import RawRecord, SourcedRecord
from ..protocol.terminology import terminology
from .assessment import Assessment
from .derive import derive
from .graph import PatientGraph
from .judge import judge
from .lift import lift, patient_iri
from .results import EncodedResult, PatientResult, Result, ScreeningError
from .seen import SeenIds
from .validate import shapes, validate_graphs
from .window import window_fit

Item = SourcedRecord | RawRecord | InputError | FhirPerson | OmopPerson
# Persons assembled into a record where they are screened (FHIR from the run's index, OMOP
# from the facts the reading process sends along)
HANDLES = (FhirPerson, OmopPerson)


def patient_graph(record: PatientRecord, assessment: Assessment,
                  source: str | None = None) -> PatientGraph:
    """Lift one record and add its derived facts: the graph that is validated."""
    graph = lift(record, source)
    return derive(graph, patient_iri(record.id), assessment)


def unique_ids(items: Iterable[Item]) -> Iterator[Item]:
    """Pass every item on, but a record whose id an earlier, different record of the run
    already uses becomes an error naming both sources: two people under one id would merge
    into one patient in the verdict graph (the same record read twice is screened twice).

    A FHIR person (:class:`FhirPerson`) is assembled where it is screened; it is assembled
    here only when its id is already used, to compare the records. An OMOP person is not kept
    (its facts would hold the whole run in memory): another record under its id is another
    person (a person_id names one person of one CDM)."""
    seen: SeenIds[FhirPerson] = SeenIds()  # on disk: memory stays flat over any run
    try:
        yield from _unique(items, seen)
    finally:
        seen.close()


def _unique(items: Iterable[Item], seen: SeenIds[FhirPerson]) -> Iterator[Item]:
    for item in items:
        key = None if isinstance(item, InputError) else item.id
        if key is None:
            yield item
            continue
        first = seen.get(key)
        if first is not None and isinstance(item, HANDLES):
            *errors, item = item.assemble()  # compared as read: its record, or its error
            yield from errors
            if isinstance(item, InputError):
                yield item
                continue
        if first is not None and isinstance(first[1], HANDLES):
            assembled = first[1].assemble()[-1]
            # an error entry holds no id; a record is compared by what it says
            first = None if isinstance(assembled, InputError) else (
                first[0], _digest(cast(SourcedRecord | RawRecord, assembled)))
            if first is not None:
                seen.put(key, first[0], first[1])
        if first is None:
            if isinstance(item, FhirPerson):
                seen.keep(key, item.source, item)
            else:
                # an OMOP person is named by its database (its facts are not kept: another
                # record under its id is another person, a person_id naming one person)
                seen.put(key, item.run[0] if isinstance(item, OmopPerson) else item.source,
                         None if isinstance(item, OmopPerson)
                         else _digest(cast(SourcedRecord | RawRecord, item)))
            yield item
            continue
        digest = _digest(cast(SourcedRecord | RawRecord, item))
        if first[1] is not None and first[1] == digest:
            yield item
            continue
        yield InputError(item.source, f"the patient id '{key}' is already used by a different "
                         f"record ({first[0]}); one id must name one person",
                         record=key, field="id")


def _digest(item: SourcedRecord | RawRecord) -> bytes | None:
    """A fingerprint of what a record says (key order does not matter), or None if it cannot
    be written (then it counts as different from every other record)."""
    raw = item.raw
    try:
        data = orjson.dumps(raw if raw is not None else
                            cast(SourcedRecord, item).record.model_dump(mode="json"),
                            option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Group inputs into validation batches; a repeated patient id starts a new batch, since
    one patient IRI must stand for one record within a validated graph."""
    chunk: list[Item] = []
    ids: set[str] = set()
    for item in items:
        if not isinstance(item, InputError):
            if item.id in ids or len(ids) >= size:
                yield chunk
                chunk, ids = [], set()
            ids.add(cast(str, item.id))
        chunk.append(item)
    if chunk:
        yield chunk


def screen_batch(chunk: list[Item], assessment: Assessment, keep_graphs: bool,
                 encode: Callable[[PatientResult], bytes] | None = None) -> list[Result]:
    """Screen one batch: validate the records read raw, check their dates against the
    assessment, lift and derive each, validate the graphs, judge and encode each; every
    failure is an error entry of its own patient."""
    items = [_checked(item, assessment) for item in _assembled(chunk)]
    graphs: dict[int, PatientGraph] = {}
    for index, item in enumerate(items):
        if isinstance(item, SourcedRecord):
            try:
                graphs[index] = patient_graph(item.record, assessment, item.source)
            except Exception as exc:  # a bug must cost one patient, not the batch
                items[index] = _internal(item, "reading the record into the graph", exc)
    violations = _violations(graphs, items)
    out: list[Result] = []
    for index, item in enumerate(items):
        if isinstance(item, InputError):
            out.append(ScreeningError(item.source, item.detail, item.record, item.field))
            continue
        try:
            out.append(_judged(item, graphs[index], violations, assessment, keep_graphs,
                               encode))
        except Exception as exc:
            error = _internal(item, "judging the criteria", exc)
            out.append(ScreeningError(error.source, error.detail, error.record, error.field))
    return out


def _assembled(chunk: list[Item]) -> list[SourcedRecord | RawRecord | InputError]:
    """The batch with each FHIR person assembled from the run's index: the errors of its
    malformed resources, then its record (or the error that stands for it)."""
    out: list[SourcedRecord | RawRecord | InputError] = []
    for item in chunk:
        if isinstance(item, HANDLES):
            out.extend(item.assemble())
        else:
            out.append(item)
    return out


def _checked(item: Item, assessment: Assessment) -> SourcedRecord | InputError:
    """The record validated, with its dates checked against the assessment date."""
    try:
        if isinstance(item, RawRecord):
            item = item.parse()
        if isinstance(item, SourcedRecord):
            problem = date_problem(item.record, assessment.as_of)
            if problem is not None:
                return InputError(item.source, problem[1], record=item.id, field=problem[0])
    except Exception as exc:
        return _internal(item, "validating the record", exc)
    return cast(SourcedRecord | InputError, item)  # (assembled before: no FhirPerson)


def _violations(graphs: dict[int, PatientGraph], items: list) -> dict[object, list]:
    """Violations by focus node: the batch in one call, or, if that fails, each patient on
    its own (a patient whose graph cannot be validated becomes an error entry)."""
    by_focus: dict[object, list] = {}
    try:
        found = validate_graphs(list(graphs.values())) if graphs else []
    except Exception:
        found = []
        for index, graph in list(graphs.items()):
            try:
                found.extend(validate_graphs([graph]))
            except Exception as exc:
                items[index] = _internal(items[index], "validating the graph", exc)
                del graphs[index]
    for violation in found:
        by_focus.setdefault(violation.focus, []).append(violation)
    return by_focus


def _judged(item: SourcedRecord, graph: PatientGraph, violations: dict, assessment: Assessment,
            keep_graphs: bool, encode: Callable[[PatientResult], bytes] | None) -> Result:
    iri = patient_iri(item.record.id)
    result = judge(iri, graph, violations.get(iri, []), shapes(), terminology(), assessment,
                   item.source)
    fit = window_fit(graph, iri, assessment)
    if encode is not None:
        return EncodedResult(result.id, result.source, result.verdict, encode(result), fit)
    if keep_graphs:
        return dataclasses.replace(result, window_fit=fit)
    return dataclasses.replace(result, window_fit=fit, graph=None)


def _internal(item: Item, step: str, exc: Exception) -> InputError:
    """An unexpected failure while screening one patient, as that patient's error entry."""
    record = getattr(item, "id", None) if not isinstance(item, InputError) else item.record
    source = item.source
    return InputError(source, f"could not be screened: an internal error while {step} "
                              f"({type(exc).__name__}: {str(exc)[:200]}); please report it",
                      record=record)
