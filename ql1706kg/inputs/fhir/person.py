"""One person's record assembled from the run's index, in whichever process screens them.

The parent of a parallel screening sends :class:`FhirPerson` items (the index's path and a
person number: a few bytes); the worker that screens the person reads the person's resources
again from the input files (or the index), checks against their FHIR models those a criterion
can use (:mod:`.relevance`), and reads them into a record exactly as the in-memory reader did:
the person's Patients first, then every resource in input order. Each assembly yields the
errors of the person's malformed resources, then the record or the error that stands for it,
and (for ``lift --report``) a line per resource.
"""

from __future__ import annotations

import sqlite3

from ...errors import InputError
from ...protocol.namespaces import QL
from ...protocol.terminology import terminology
from ..records import RawRecord
from .builder import RecordBuilder
from .codes import lookup
from .conformance import model_problem
from .entries import Entry, ReportLine
from .grouping import Lookups
from .index import (
    CHECKED,
    PATIENTS,
    READ,
    RESOURCES,
    ROW,
    UNCHECKED,
    RowReader,
    columns,
    connection,
    dec,
)
from .pool import Pool
from .relevance import can_be_used

Line = tuple[int, int, ReportLine]
# What a resource that names no patient would give (index path, seq) -> (entry, sections):
# read once, set aside for each patient of its bundle or folder.
_UNTIED: dict[tuple[str, int], tuple[Entry, list]] = {}


def assemble(index: str, person: int, source: str = "", rec_id: str = "",
             report: bool = False) -> tuple[list[InputError | RawRecord], list[Line]]:
    """One person from the index: the errors, then the record or its error entry; with the
    report lines of its resources when ``report``. A failure here costs this person only."""
    try:
        return _assemble(index, person, report)
    except Exception as exc:  # a bug: the person is an error entry, never screened without
        # their resources
        return [InputError(source, f"could not be read: an internal error "
                                   f"({type(exc).__name__}: {str(exc)[:200]}); please report "
                                   "it with this file", record=rec_id or None)], []


def _assemble(index: str, person: int, report: bool
              ) -> tuple[list[InputError | RawRecord], list[Line]]:
    db, rows = connection(index)
    final_id = dec(db.execute("SELECT final_id FROM persons WHERE num = ?",
                              (person,)).fetchone()[0])
    pool = IndexPool(index, db, rows)
    members: list[tuple[Entry, int]] = []
    for date, adopted, *row in db.execute(
            f"SELECT d.date, a.report, {columns('r')} FROM owned o JOIN res r ON r.seq = o.seq "
            "LEFT JOIN dated d ON d.seq = o.seq LEFT JOIN adopted a ON a.seq = o.seq "
            "WHERE o.person = ? ORDER BY o.seq", (person,)).fetchall():
        entry = pool.load(row)
        if date:
            pool.report_dates[id(entry.data)] = dec(date)
        if adopted:
            pool.adopted[id(entry.data)] = dec(adopted)
        members.append((entry, row[13]))
    lines: list[Line] = []

    def line(phase: int, entry: Entry, used: bool, reason: str, patient: str = "",
             could: tuple[str, ...] = ()) -> None:
        if report:
            lines.append((phase, entry.seq, ReportLine(entry.source, entry.key, used, reason,
                                                       patient, could)))

    term = terminology()
    patients = [entry for entry, _ in members if entry.type == "Patient"]
    builder = RecordBuilder(patients[0], pool, term)
    line(PATIENTS, patients[0], True, "; ".join(["the patient", *builder.notes]))
    for patient in patients[1:]:
        builder.read_patient(patient)
        line(PATIENTS, patient, True, f"the patient {builder.rec['id']} (same identifier)")
    builder.rec["id"] = final_id
    errors: list[InputError | RawRecord] = []
    for entry, state in members:
        if entry.type == "Patient":
            continue
        skip_check = state == CHECKED or entry.aside is not None or not can_be_used(
            term, entry.type, entry.data)  # a resource set aside is not read as R4
        problem = None if skip_check else pool.problem(entry)
        if problem is None:
            try:
                used, reason = builder.take(entry)
            except Exception as exc:  # a bug must cost this patient (never screened without
                # the resource), not the run; or a resource no criterion reads that breaks
                # its model after all
                problem = pool.problem(entry) if state == UNCHECKED else None
                if problem is None:
                    builder.conflicts.append(
                        f"{entry.key} could not be read (internal error {type(exc).__name__}: "
                        f"{str(exc)[:120]}; please report it)")
                    used, reason = False, "could not be read (internal error)"
        if problem is not None:
            message, where = problem
            errors.append(InputError(entry.source, message, record=entry.key,
                                     field=f"{entry.type}.{where}"))
            # what it would have said, had it been well formed, cannot count either
            _, said = builder.set_aside(entry, f"{entry.type}.{where}", f"malformed: {message}")
            line(READ, entry, False, said if said.startswith("set aside") else
                 "malformed: " + message)
            continue
        could = () if used else could_change(builder, entry, reason)
        line(RESOURCES, entry, used, reason, builder.rec.get("id", ""), could)
    for row in db.execute(f"SELECT {columns('r')} FROM untied u JOIN res r ON r.seq = u.seq "
                          "WHERE u.person = ? ORDER BY r.seq", (person,)).fetchall():
        if builder.excluded is not None:
            continue
        field = f"{row[1]}.{'patient' if row[1] == 'Consent' else 'subject'}"
        why = ("it names no patient, and its bundle or folder holds this one: it may be this "
               "patient's")
        known = _UNTIED.get((index, row[0]))
        if known is None:  # read once per process; every other patient it may be about
            entry = pool.load(row)  # gets the same entries
            found = builder.would_give(entry)
            if len(_UNTIED) > 4_096:
                _UNTIED.clear()
            known = _UNTIED[(index, row[0])] = (entry, found)
        entry, found = known
        for section, test in found:
            builder.aside_fact(entry, section, test, field, why)
        line(RESOURCES, entry, False, f"set aside: {why}" if found else
             "it names no patient; no criterion reads what it says", builder.rec.get("id", ""))
    return [*errors, _record_or_conflict(builder)], lines


def could_change(owner: RecordBuilder, entry: Entry, reason: str) -> tuple[str, ...]:
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


def _record_or_conflict(builder: RecordBuilder) -> RawRecord | InputError:
    record = builder.record()
    if isinstance(record, InputError):
        return record
    source = record.pop("__source__")
    if not builder.conflicts:
        return RawRecord(source, record)
    return InputError(source, "; ".join(builder.conflicts), record=builder.rec["id"],
                      field="contradictory resources")


class IndexPool(Pool):
    """The resources one person's readers may look up, read from the index as they are named;
    a resource not checked yet is checked against its model before a reference may name it."""

    def __init__(self, index: str, db: sqlite3.Connection, rows: RowReader) -> None:
        super().__init__()
        self.index, self.db, self.rows = index, db, rows
        self.lookups = Lookups(db, self.usable)
        self.loaded: dict[int, Entry] = {}
        self.problems: dict[int, tuple[str, str] | None] = {}
        self._where: dict[int, tuple[int, int]] = {}

    def load(self, row: tuple) -> Entry:
        entry = self.loaded.get(row[0])
        if entry is None:
            entry = self.loaded[row[0]] = self.rows.entry(row)
            self._where[row[0]] = (row[5], row[6])
        return entry

    def where(self, entry: Entry) -> tuple[object, object]:
        return self._where[entry.seq]

    def by_url(self, scope: object, url: str) -> Entry | None:
        return self._entry(self.lookups.by_url(scope, url))

    def by_key(self, scope: object, key: str) -> Entry | None:
        return self._entry(self.lookups.by_key(scope, key))

    def _entry(self, hit: tuple[int, str] | None) -> Entry | None:
        if hit is None:
            return None
        found = self.loaded.get(hit[0])
        if found is not None:
            return found
        return self.load(self.db.execute(f"SELECT {ROW} FROM res WHERE seq = ?",
                                         (hit[0],)).fetchone())

    def usable(self, seq: int) -> bool:
        found = self.loaded.get(seq)
        if found is None:
            found = self.load(self.db.execute(f"SELECT {ROW} FROM res WHERE seq = ?",
                                              (seq,)).fetchone())
        return self.problem(found) is None

    def problem(self, entry: Entry) -> tuple[str, str] | None:
        """What the FHIR model finds wrong with a resource (checked once per person)."""
        if entry.seq not in self.problems:
            self.problems[entry.seq] = model_problem(entry.type, entry.data)
        return self.problems[entry.seq]
