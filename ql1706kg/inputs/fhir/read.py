"""FHIR resources into patient records: the pool filled, each resource given to its patient.

This is the one place that knows the order of reading (pool and check every resource, date
results by their reports, build one record per Patient, give every other resource to its
patient's builder, account for the rest), so it sits on top of the modules that do each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...errors import InputError, InputNote
from ...protocol.namespaces import QL
from ...protocol.terminology import terminology
from .builder import RecordBuilder
from .codes import lookup
from .entries import Entry, FhirReport
from .observations import adopt_results_of_reports
from .pool import Pool


def read_fhir(items: Iterable[Entry | InputError], jobs: int = 1
              ) -> tuple[list[dict | InputError | InputNote], FhirReport]:
    """Assemble one record dict (project JSON form) per Patient; errors kept in order.
    ``jobs`` processes check the resources against their models."""
    pool = Pool()
    pool.add_all(items, jobs)
    _date_results_by_their_reports(pool)
    adopt_results_of_reports(pool)  # before any resource is given to its patient
    builders = _builders(pool)
    orphans: dict[str, list[str]] = {}
    for entry in pool.entries:
        if entry.type in ("Patient", "Medication", "DiagnosticReport"):
            continue
        patient = pool.patient_of(entry)
        owner = builders.get(id(patient)) if patient is not None else None
        if owner is None:
            pool.report.add(entry, False, "its subject is not a Patient in the input")
            orphans.setdefault(_file_of(entry.source), []).append(entry.key)
            continue
        try:
            used, reason = owner.take(entry)
        except Exception as exc:  # a bug must cost this patient (never screened without
            # the resource), not the run
            owner.conflicts.append(f"{entry.key} could not be read (internal error "
                                   f"{type(exc).__name__}: {str(exc)[:120]}; please report it)")
            used, reason = False, "could not be read (internal error)"
        could = () if used else _could_change(owner, entry, reason)
        pool.report.add(entry, used, reason, owner.rec.get("id", ""), could)
    for entry in pool.entries:
        if entry.type == "Medication":
            pool.report.add(entry, True, "read through the resources that reference it")
        elif entry.type == "DiagnosticReport":
            pool.report.add(entry, True, "its date dates those of its results that have none")
    orphaned = _orphans(orphans, any_patient=bool(builders))
    out: list[dict | InputError | InputNote] = [*pool.errors, *orphaned]
    for builder in dict.fromkeys(builders.values()):
        out.append(_record_or_conflict(builder))
    return out, pool.report


def _could_change(owner: RecordBuilder, entry: Entry, reason: str) -> tuple[str, ...]:
    """The criteria an ignored resource could have changed, had it been readable: what its
    reader said (an unidentified drug: by the classes it may belong to), or, for a result of a
    test the protocol uses with no date, that test's criteria."""
    said = owner.could_change.pop(entry.key, None)
    if said is not None:
        return said
    if entry.type == "Observation" and reason.startswith("no effective date"):
        term = owner.term
        tests = {lookup(term, part.get("code"), QL.Test)
                 for part in [entry.data, *(entry.data.get("component") or [])]
                 if isinstance(part, dict)}
        return tuple(crit["id"] for crit in term.criteria.values()
                     if tests & set(crit["tests"]))
    return ()


def _builders(pool: Pool) -> dict[int, RecordBuilder]:
    """One builder per person, by the id() of each of their Patient entries: Patients of
    different scopes are the same person only when an identifier (system and value) matches.
    Ids that stay ambiguous across scopes are told apart by the file or folder they came from."""
    term = terminology()
    builders: dict[int, RecordBuilder] = {}
    by_identifier: dict[tuple[str, str], RecordBuilder] = {}
    for entry in pool.entries:
        if entry.type != "Patient":
            continue
        keys = [*_identifiers(entry.data), ("copy", _content_key(entry.data))]
        same = next((by_identifier[k] for k in keys if k in by_identifier), None)
        if same is not None and same.patient.scope != entry.scope:
            same.read_patient(entry)
            builders[id(entry)] = same
            pool.report.add(entry, True, f"the patient {same.rec['id']} (same identifier)")
        else:
            same = RecordBuilder(entry, pool, term)
            builders[id(entry)] = same
            pool.report.add(entry, True, "; ".join(["the patient", *same.notes]))
        for key in keys:
            by_identifier.setdefault(key, same)
    _tell_apart(list(dict.fromkeys(builders.values())))
    return builders


def _content_key(data: dict) -> str:
    """A Patient's identity as written (id and content, meta and narrative aside): the same
    resource shipped twice (a file and a bundle's copy) is one person."""
    import hashlib

    import orjson

    kept = {key: value for key, value in data.items() if key not in ("meta", "text")}
    try:
        text = orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return f"unwritable:{id(data)}"
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _identifiers(data: dict) -> list[tuple[str, str]]:
    return [(str(i["system"]), str(i["value"])) for i in data.get("identifier") or []
            if isinstance(i, dict) and i.get("system") and i.get("value")]


def _tell_apart(people: list[RecordBuilder]) -> None:
    """Two people who share an id (``Patient/1`` in two bundles) keep it, qualified by where
    each came from, so neither is merged into nor mistaken for the other."""
    seen: dict[str, list[RecordBuilder]] = {}
    for person in people:
        seen.setdefault(person.rec["id"], []).append(person)
    for same_id in seen.values():
        if len(same_id) > 1:
            for person in same_id:
                person.rec["id"] = f"{person.rec['id']}@{Path(person.patient.scope).name}"


def _file_of(source: str) -> str:
    """The file a source names (an NDJSON source carries ':line')."""
    head, _, tail = source.rpartition(":")
    return head if head and tail.isdigit() else source


def _orphans(orphans: dict[str, list[str]], any_patient: bool
             ) -> list[InputError | InputNote]:
    """Resources whose patient is not in the input are not screened, and said so per file: a
    note beside the patients that were screened (an export may hold resources of people it
    does not include), an error when the FHIR input holds no patient at all (nothing of it
    could be screened: never a silent success)."""
    out: list[InputError | InputNote] = []
    for source, keys in orphans.items():
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        message = (f"{len(keys)} resource(s) are about a patient that is not in the input "
                   f"({shown}): they were not screened")
        out.append(InputNote(source, message) if any_patient else
                   InputError(source, message + "; give the file with their Patient too"))
    return out


def _record_or_conflict(builder: RecordBuilder) -> dict | InputError:
    record = builder.record()
    if not builder.conflicts:
        return record
    return InputError(record["__source__"], "; ".join(builder.conflicts),
                      record=builder.rec["id"], field="contradictory resources")


def _date_results_by_their_reports(pool: Pool) -> None:
    """Results often carry no date of their own: the DiagnosticReport that lists them does."""
    for entry in pool.entries:
        if entry.type != "DiagnosticReport":
            continue
        data = entry.data
        when = data.get("effectiveDateTime") or (data.get("effectivePeriod") or {}).get("start")
        if not when:
            continue
        for result in data.get("result") or []:
            target = pool.resolve(result.get("reference"), entry)
            if target is not None:
                pool.report_dates.setdefault(id(target), when)
