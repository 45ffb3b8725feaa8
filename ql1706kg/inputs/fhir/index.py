"""The run's FHIR index: where every resource is, on disk, so an export of any size reads in
bounded memory.

A first pass reads each FHIR file once and records, for every resource, a row in an embedded
SQLite database (standard library) in a private temporary folder: its type, id, where it came
from (source, scope, folder), its fullUrl, the reference to its patient, and where to read it
again (the byte span of its NDJSON line, or its JSON itself, compressed, for a resource of a
Bundle or a single-resource file). Patients, DiagnosticReports and Medications are checked
against their models here (who is who, which results a report dates, what a drug reference
names depend on them); the rest are checked by whoever assembles their patient, and only when
a criterion can use them (:mod:`.relevance`).

:mod:`.grouping` then answers who is who with queries over the index, and :mod:`.person`
assembles one person at a time from it, in any process: the parent of a parallel screening
sends person numbers, never resources. :class:`~.workspace.Workspace` owns the folder and
removes it when the run ends, also on an error or an interruption.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast, overload

from ...errors import InputError
from ...protocol.terminology import terminology
from ..jsonio import json_loads
from .conformance import _is_fhir_type, model_problem
from .entries import REQUEST_ONLY, Entry, ReportLine
from .pool import read_types, subject_reference
from .workspace import _OPEN

UNCHECKED, CHECKED, MALFORMED, ASIDE = 0, 1, 2, 3
CHECKED_FIRST = frozenset({"Patient", "DiagnosticReport", "Medication"})
# Report phases: the order in which lift --report lists resources (then by input order).
READ, PATIENTS, RESOURCES, REFERENCED = 0, 1, 2, 3
FLUSH_EVERY = 5_000

SCHEMA = """
CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE scopes(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE res(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
                 file INTEGER NOT NULL, line INTEGER, scope INTEGER NOT NULL,
                 folder INTEGER NOT NULL, url TEXT, off INTEGER, len INTEGER, blob BLOB,
                 ref TEXT, has_subject INTEGER NOT NULL, state INTEGER NOT NULL, aside BLOB,
                 clean INTEGER NOT NULL DEFAULT 0);
CREATE TABLE patients(seq INTEGER PRIMARY KEY, rec_id TEXT NOT NULL, keys BLOB NOT NULL,
                      scope_name TEXT NOT NULL);
CREATE TABLE people(seq INTEGER PRIMARY KEY, person INTEGER NOT NULL);
CREATE TABLE persons(num INTEGER PRIMARY KEY, first INTEGER NOT NULL, scope INTEGER NOT NULL,
                     rec_id TEXT NOT NULL, final_id TEXT NOT NULL, scope_name TEXT NOT NULL);
CREATE TABLE idents(key TEXT PRIMARY KEY, person INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE reports(seq INTEGER PRIMARY KEY, date TEXT, refs BLOB NOT NULL);
CREATE TABLE dated(seq INTEGER PRIMARY KEY, date TEXT NOT NULL);
CREATE TABLE owners(target INTEGER PRIMARY KEY, ord INTEGER NOT NULL, patient INTEGER,
                    report INTEGER NOT NULL);
CREATE TABLE adopted(seq INTEGER PRIMARY KEY, report TEXT NOT NULL, patient INTEGER NOT NULL);
CREATE TABLE owned(person INTEGER NOT NULL, seq INTEGER NOT NULL,
                   PRIMARY KEY(person, seq)) WITHOUT ROWID;
CREATE TABLE orphans(seq INTEGER PRIMARY KEY, file TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE errors(seq INTEGER NOT NULL, error BLOB NOT NULL);
CREATE TABLE shared(n INTEGER PRIMARY KEY, scope INTEGER, key BLOB, url BLOB);
CREATE TABLE untied(person INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE effects(seq INTEGER PRIMARY KEY, key TEXT NOT NULL, folder INTEGER NOT NULL,
                     effect TEXT NOT NULL, source TEXT NOT NULL);
"""
INDEXES = """
CREATE INDEX res_key ON res(scope, key, seq);
CREATE INDEX res_scoped_url ON res(scope, url, seq) WHERE url IS NOT NULL;
CREATE INDEX res_url ON res(url, seq) WHERE url IS NOT NULL;
CREATE INDEX res_kind ON res(kind, seq);
CREATE INDEX errors_seq ON errors(seq);
"""
# One row of res as the look-ups and the assembly read it.
ROW = ("seq, kind, key, file, line, scope, folder, url, off, len, blob, ref, has_subject, state, "
       "aside, clean")


# The same without the resource itself, for look-ups that only need where it is.
LIGHT = ROW.replace("blob", "NULL")


def columns(alias: str, light: bool = False) -> str:
    """The columns of :data:`ROW` (or :data:`LIGHT`) of a table named ``alias`` in a join."""
    return ", ".join("NULL" if light and name == "blob" else f"{alias}.{name}"
                     for name in ROW.split(", "))


def connect(path: Path | str, write: bool = False) -> sqlite3.Connection:
    """A connection to an index: the writer's (no journal: the index is scratch, rebuilt by
    any rerun), or a reader's, read-only."""
    if write:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
    else:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                             check_same_thread=False)
    # pages kept in memory at most: the writer's builds the indexes, a reader's finds a few
    # rows per person (the operating system caches the file)
    db.execute(f"PRAGMA cache_size={-4000 if write else -2000}")
    return db


@overload
def enc(text: str) -> bytes: ...
@overload
def enc(text: None) -> None: ...
def enc(text: str | None) -> bytes | None:
    """Text from the input as the index keeps it: bytes, so that a lone surrogate (valid in
    JSON's escapes) is kept as written rather than refused by SQLite."""
    return None if text is None else text.encode("utf-8", "surrogatepass")


@overload
def dec(value: bytes) -> str: ...
@overload
def dec(value: None) -> None: ...
def dec(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "surrogatepass")


def pack(value: object) -> bytes:
    """JSON as written (NaN, lone surrogates and all), compressed: pickle keeps it exactly."""
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> object:
    return pickle.loads(zlib.decompress(blob))  # the run's own scratch file


def connection(index: str) -> tuple[sqlite3.Connection, RowReader]:
    """This process's read-only connection to an index, and its row reader."""
    found = _OPEN.get(index)
    if found is None or found[0] != os.getpid():
        db = connect(index)
        found = _OPEN[index] = (os.getpid(), db, RowReader(db))
    return found[1], found[2]


def release_memory() -> None:
    """Give back to the operating system what Python and SQLite freed (glibc keeps it in the
    process otherwise): a parent about to fork workers hands each its whole heap."""
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None elsewhere (looked up once: ``find_library`` runs
    ``ldconfig``, ~50 ms)."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    return None


class FhirIndex:
    """The first pass: every FHIR resource of the run as a row of the index (see the module's
    text). ``report``: keep a report line for every resource (``lift --report``)."""

    def __init__(self, folder: Path, report: bool = False,
                 types: frozenset[str] | None = None) -> None:
        self.types = types if types is not None else read_types(terminology())
        self.path = folder / "fhir-index.sqlite"
        self.db = connect(self.path, write=True)
        self.db.executescript(SCHEMA)
        self.db.execute("BEGIN")
        self.seq = 0
        self.lines: list[tuple[int, int, int, ReportLine]] | None = [] if report else None
        self._rows: list[tuple] = []
        self._patients: list[tuple] = []
        self._reports: list[tuple] = []
        self._scopes: dict[str, int] = {}
        self.files = 0

    # -- the first pass --------------------------------------------------------------------------
    def extend(self, items: Iterable[Entry | InputError], path: str | None = None) -> None:
        """Index the resources (or errors) read from one file, in order."""
        file_id = self._file(path) if path is not None else None
        prefix = f"{path}:"
        for item in items:
            self.seq += 1
            if isinstance(item, InputError):
                self.error(self.seq, item)
                continue
            if path is None or item.source == path:
                where, line = (file_id if path is not None else self._file(item.source)), None
            elif item.source.startswith(prefix) and item.source[len(prefix):].isdigit():
                where, line = file_id, int(item.source[len(prefix):])
            else:
                where, line = self._file(item.source), None
            self.add(item, cast(int, where), line)
            if len(self._rows) >= FLUSH_EVERY:
                self.flush()

    def add(self, entry: Entry, file_id: int, line: int | None) -> None:
        """Index one resource: report it if no criterion reads its type, check it now if
        identity or references depend on it."""
        seq, kind, data = self.seq, entry.type, entry.data
        entry.seq = seq
        fate = entry.fate
        if fate is not None:  # not a fact: a version replaced, a deletion, a request
            if fate.target is not None:
                self.db.execute("INSERT INTO effects VALUES (?, ?, ?, ?, ?)",
                                (seq, enc(fate.target), self._scope(entry.folder), fate.effect,
                                 enc(entry.source)))
            if self.lines is not None:
                key = entry.key if kind != REQUEST_ONLY else f"Bundle.entry[{data.get('id')}]"
                self.lines.append((READ, seq, len(self.lines), ReportLine(
                    entry.source, key, False, f"{fate.fate}: {fate.reason}" if fate.reason
                    else fate.fate)))
            return
        if kind == REQUEST_ONLY:
            self.line(READ, seq, entry, False, "a request without a resource (e.g. DELETE or GET)")
            return
        if kind not in self.types:
            if _is_fhir_type(kind):
                self.line(READ, seq, entry, False, "resource type not used by the protocol")
            else:
                self.error(seq, InputError(entry.source, f"'{kind}' is not a FHIR R4 resource "
                                           "type", record=entry.key, field="resourceType"))
                self.line(READ, seq, entry, False, "not a FHIR R4 resource type")
            return
        state = UNCHECKED
        if kind in CHECKED_FIRST:
            if entry.aside is None and self.malformed(seq, entry, model_problem(kind, data)):
                return
            state = CHECKED
            if kind == "Patient":  # one set aside is a person not screened, named
                self._patients.append((seq, *identity(entry)))
            elif (why := entry.aside[1] if entry.aside is not None else _distrusted(
                    kind, data)) is not None:  # a report or a drug that cannot be trusted:
                state = ASIDE  # never named by a reference (a drug read as unidentified)
                self.line(READ, seq, entry, False, f"set aside: {why}")
            elif kind == "DiagnosticReport":
                self._reports.append((seq, *report_results(data)))
        span = entry.span
        self._rows.append((
            seq, kind, enc(entry.key), file_id, line, self._scope(entry.scope),
            self._scope(entry.folder), enc(entry.full_url), span[0] if span else None,
            span[1] if span else None, None if span else pack(data),
            enc(subject_reference(kind, data)), int("subject" in data), state,
            pickle.dumps(entry.aside) if entry.aside is not None else None, int(entry.clean)))

    def malformed(self, seq: int, entry: Entry, problem: tuple[str, str] | None) -> bool:
        """Report a resource that breaks its FHIR model (an error naming the element)."""
        if problem is None:
            return False
        message, where = problem
        self.error(seq, InputError(entry.source, message, record=entry.key,
                                   field=f"{entry.type}.{where}"))
        self.line(READ, seq, entry, False, "malformed: " + message)
        return True

    def error(self, seq: int, error: InputError) -> None:
        self.db.execute("INSERT INTO errors VALUES (?, ?)", (seq, pickle.dumps(error)))

    def line(self, phase: int, seq: int, entry: Entry, used: bool, reason: str,
             patient: str = "", could_change: tuple[str, ...] = ()) -> None:
        if self.lines is not None:
            self.lines.append((phase, seq, len(self.lines), ReportLine(
                entry.source, entry.key, used, reason, patient, could_change)))

    def flush(self) -> None:
        self.db.executemany(f"INSERT INTO res({ROW}) VALUES ({', '.join('?' * 16)})",
                            self._rows)
        self.db.executemany("INSERT INTO patients(seq, rec_id, keys, scope_name) "
                            "VALUES (?, ?, ?, ?)", self._patients)
        self.db.executemany("INSERT INTO reports VALUES (?, ?, ?)", self._reports)
        self._rows, self._patients, self._reports = [], [], []

    def reopen(self) -> sqlite3.Connection:
        """Once grouped, the index is only read: the writer's connection (and its pages) go."""
        self.db.close()
        self.db = connect(self.path)
        return self.db

    def close(self) -> None:
        self.db.close()

    def _file(self, path: str) -> int:
        self.files += 1
        self.db.execute("INSERT INTO files VALUES (?, ?)", (self.files, enc(path)))
        return self.files

    def _scope(self, text: str) -> int:
        found = self._scopes.get(text)
        if found is None:
            if len(self._scopes) > 4096:  # a folder of many bundles: keep the memory bounded
                self._scopes.clear()
            self.db.execute("INSERT OR IGNORE INTO scopes(text) VALUES (?)", (enc(text),))
            found = self._scopes[text] = self.db.execute(
                "SELECT id FROM scopes WHERE text = ?", (enc(text),)).fetchone()[0]
        return found


class RowReader:
    """Index rows back into :class:`Entry` objects: the JSON read again from its NDJSON line
    (the files kept open, a few at a time) or unpacked from the index."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._paths: dict[int, str] = {}
        self._scopes: dict[int, str] = {}
        self._handles: dict[int, BinaryIO] = {}

    def entry(self, row: tuple) -> Entry:
        seq, _kind, _key, file_id, line, scope, folder, url, off, length, blob = row[:11]
        path = self.path(file_id)
        clean = bool(row[15]) if len(row) > 15 else False
        if blob is not None:
            data = cast(dict, unpack(blob))
        else:
            handle = self._handle(file_id, path)
            handle.seek(off)
            raw = handle.read(length)
            data = cast(dict, json_loads(raw.decode("utf-8")))
        contained = {str(c.get("id")): c for c in data.get("contained") or []
                     if isinstance(c, dict)} if isinstance(data.get("contained"), list) else {}
        aside = pickle.loads(row[14]) if len(row) > 14 and row[14] is not None else None
        return Entry(path if line is None else f"{path}:{line}", data, dec(url), contained,
                     self.scope(scope), self.scope(folder), seq=seq, aside=aside, clean=clean)

    def path(self, file_id: int) -> str:
        found = self._paths.get(file_id)
        if found is None:
            if len(self._paths) > 4096:
                self._paths.clear()
            found = self._paths[file_id] = dec(self.db.execute(
                "SELECT path FROM files WHERE id = ?", (file_id,)).fetchone()[0])
        return found

    def scope(self, scope_id: int) -> str:
        found = self._scopes.get(scope_id)
        if found is None:
            if len(self._scopes) > 4096:
                self._scopes.clear()
            found = self._scopes[scope_id] = dec(self.db.execute(
                "SELECT text FROM scopes WHERE id = ?", (scope_id,)).fetchone()[0])
        return found

    def _handle(self, file_id: int, path: str):
        handle = self._handles.get(file_id)
        if handle is None:
            if len(self._handles) >= 32:
                self.close()
            handle = self._handles[file_id] = open(path, "rb")  # noqa: SIM115 (kept open)
        return handle

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()


def _distrusted(kind: str, data: dict) -> str | None:
    """Why a Medication or a DiagnosticReport cannot be used by what references it: a modifier
    the reader does not understand, or a status that says it does not count (a report
    entered in error dates no result; a Medication entered in error names no drug)."""
    from .semantics import read

    reading = read(kind, data)
    if reading.set_aside is not None:
        return reading.set_aside[1]
    if not reading.status.counts:
        return reading.status.said
    return None


def identity(entry: Entry) -> tuple[bytes, bytes, bytes]:
    """What tells a Patient apart: its record id as the builder names it, the keys by which
    two Patients are one person (each identifier's system and value, and the resource's
    content: the same resource shipped twice), and the name of its scope."""
    data = entry.data
    rec_id = str(data.get("id") or _first_identifier(data) or entry.full_url)
    keys = [pickle.dumps(key) for key in
            [*_identifiers(data), ("copy", _content_key(data, entry.seq))]]
    return enc(rec_id), pickle.dumps(keys), enc(Path(entry.scope).name)


def report_results(data: dict) -> tuple[bytes | None, bytes]:
    """A DiagnosticReport's date (effective[x]) and the references of its results."""
    when = data.get("effectiveDateTime") or (data.get("effectivePeriod") or {}).get("start")
    refs = [item.get("reference") if isinstance(item, dict) else None
            for item in data.get("result") or []]
    return (enc(when) if isinstance(when, str) and when else None), pickle.dumps(refs)


def _content_key(data: dict, seq: int) -> str:
    """A Patient's identity as written (id and content, meta and narrative aside): the same
    resource shipped twice (a file and a bundle's copy) is one person."""
    import hashlib

    import orjson

    kept = {key: value for key, value in data.items() if key not in ("meta", "text")}
    try:
        text = orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return f"unwritable:{seq}"
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _identifiers(data: dict) -> list[tuple[str, str]]:
    """A Patient's identifiers (system, value), but those no longer valid (use 'old': a
    modifier of Identifier)."""
    return [(str(i["system"]), str(i["value"])) for i in data.get("identifier") or []
            if isinstance(i, dict) and i.get("system") and i.get("value")
            and i.get("use") != "old"]


def _first_identifier(data: dict) -> str | None:
    for identifier in data.get("identifier") or []:
        if identifier.get("value"):
            return identifier["value"]
    return None
