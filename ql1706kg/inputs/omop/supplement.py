"""The site supplement: what an OMOP CDM cannot hold, in the project's long table.

The ICF, the investigator's judgements (able to comply, confirmed at this institution,
extent, resectability, the RECIST assessment, expected survival), intolerance to a regimen,
lactation, childbearing potential and contraception have no place in the CDM. A site keeps
them in the bulk-table format every coordinator already uses (``.csv``/``.xlsx``, one row per
fact, docs and :mod:`ql1706kg.inputs.tables`), with the person_id in the ``patient`` column.
Without it they stay unknown, saying what to collect.

:func:`merge` joins a person's supplement to the record read from the CDM: lists are joined;
a regimen the supplement names (``group``) with no drugs of its own gives its intolerance or
end to the CDM's regimen of that name; a fact a patient has once that both give differently is
an input error for that person (resolve it at the source), except in the sections the mapping
lets the investigator's answer win (``[supplement] wins``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import chain, groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..fhir.index import release_memory
from ..table_files import table_body, text_only
from ..table_runs import NotPlain, Run, plain_rows, plain_runs, plain_table
from ..tables import patient_record
from .vocab import mapping

_PATIENT = itemgetter(0)
_NUMBER_CELLS = itemgetter(1, 2)  # a stored row's (row number, cells)


class Conflict(Exception):
    """The CDM and the supplement say different things of one fact."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field_name, message


class SupplementIndex:
    """The supplement's rows by person, on disk (a private SQLite file removed on close):
    memory stays flat however many persons it holds. A run of rows of one person (a long
    table is written person by person) is one entry; a batch's persons are looked up at
    once. A plain CSV file (:mod:`..table_runs`) is indexed as where each run lies in the
    file, read from there when its person is screened (1.5 s of CPU for 1.4 million rows
    instead of 3.8 s to parse, pickle and store every row, while the workers wait); any other
    file as its rows, parsed and pickled (the cells a workbook gives are not all text)."""

    AT_ONCE = 900  # persons per lookup (SQLite's bound-parameter limit is 999)

    def __init__(self, path: Path, stop: threading.Event | None = None) -> None:
        """Read and index the file (an unreadable one, or one without the columns, raises
        :class:`InputError` naming it); ``stop`` set: :class:`Stopped` at the next person."""
        self.path = path
        self.delimiter: str | None = None  # a plain file's: its runs are read from the file
        self._file: int | None = None  # (its descriptor, and what it was when indexed)
        self._seen: tuple[int, int, int] = (0, 0, 0)
        self.folder = tempfile.mkdtemp(prefix="ql1706kg-supplement-")
        opened: list[int] = []  # closed with the index
        self._finalizer = weakref.finalize(self, _remove, self.folder, opened)
        self._opened = opened
        # made in the thread that indexes it, then used by the reading process's main thread
        self.db = sqlite3.connect(str(Path(self.folder) / "rows.sqlite"), isolation_level=None,
                                  check_same_thread=False)
        try:
            # pages of 16 KB: a person's run (~0.9 KB pickled) seldom spills over a page,
            # 0.34 -> 0.21 s to index 100,000 persons (the page cache stays SQLite's 2 MB)
            for pragma in ("page_size = 16384", "journal_mode = OFF", "synchronous = OFF",
                           "locking_mode = EXCLUSIVE"):
                self.db.execute(f"PRAGMA {pragma}")
            self.db.execute("CREATE TABLE runs (patient TEXT, rows BLOB, start INTEGER, "
                            "length INTEGER, first INTEGER)")
            self.db.execute("BEGIN")
            if not self._index_plain(stop):
                self.header, body = table_body(path)
                self.db.executemany("INSERT INTO runs (patient, rows) VALUES (?, ?)",
                                    self._runs(body, stop))
            self.db.execute("CREATE INDEX runs_patient ON runs (patient)")
            self.db.execute("COMMIT")
        except BaseException:
            self.close()  # its file removed now, not when the object is collected
            raise

    def _index_plain(self, stop: threading.Event | None) -> bool:
        """Index a plain CSV file by where its runs lie (False: it is not plain, nothing
        is indexed)."""
        if not text_only(self.path):
            return False
        try:
            self._file = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False  # (the csv module's reading names the error)
        self._opened.append(self._file)
        self._seen = _state(os.fstat(self._file))
        try:
            table = plain_table(self.path)
            self.db.executemany("INSERT INTO runs (patient, start, length, first) "
                                "VALUES (?, ?, ?, ?)", _checked(plain_runs(self.path, table),
                                                                stop))
        except NotPlain:
            self.db.execute("DELETE FROM runs")
            os.close(self._opened.pop())  # (its rows are stored: the file is not read again)
            self._file = None
            return False
        if _state(os.stat(self.path)) != self._seen:
            raise InputError(str(self.path), "the file changed on disk while it was read; "
                                             "run again once it is written")
        self.header, self.delimiter = table.header, table.delimiter
        return True

    @staticmethod
    def _runs(body: Iterator[tuple[str, int, list]], stop: threading.Event | None
              ) -> Iterator[tuple[str, bytes]]:
        """Each run of rows of one person, pickled as the rows are read (patient, row number,
        cells): grouped by :func:`itertools.groupby` and pickled as they come, no step of
        Python's own a row."""
        for patient, run in groupby(body, _PATIENT):
            if stop is not None and stop.is_set():
                raise Stopped
            yield patient, pickle.dumps(list(run), pickle.HIGHEST_PROTOCOL)

    def rows(self, persons: list[str]) -> dict[str, tuple[Any, ...]]:
        """person -> its runs of rows in the file's order, for the persons that have any:
        each a pickled list of (patient, row number, cells), or a plain file's (first row
        number, the run's bytes; None if the file changed since it was indexed). Made into
        rows where the person is assembled (:func:`supplement_record`)."""
        out: dict[str, tuple[Any, ...]] = {}
        file = self._file
        if file is not None and _state(os.fstat(file)) != self._seen:
            file = None  # changed since it was indexed: no run of it is read
        for start in range(0, len(persons), self.AT_ONCE):
            chunk = persons[start:start + self.AT_ONCE]
            marks = ", ".join("?" * len(chunk))
            for patient, blob, at, length, first in self.db.execute(
                    "SELECT patient, rows, start, length, first FROM runs "
                    f"WHERE patient IN ({marks}) ORDER BY rowid", chunk):
                run = blob if blob is not None else (
                    first, os.pread(file, length, at) if file is not None else None)
                out[patient] = (*out.get(patient, ()), run)
        return out

    def persons(self) -> Iterator[str]:
        """Every person the supplement names."""
        for (patient,) in self.db.execute("SELECT DISTINCT patient FROM runs ORDER BY 1"):
            yield patient

    def close(self) -> None:
        self.db.close()
        self._finalizer()


def _remove(folder: str, opened: list[int]) -> None:
    """Close the indexed file and remove the index's folder."""
    while opened:
        with contextlib.suppress(OSError):
            os.close(opened.pop())
    shutil.rmtree(folder, True)


def _state(found: os.stat_result) -> tuple[int, int, int]:
    """What tells that a file changed: its inode, size and modification time."""
    return found.st_ino, found.st_size, found.st_mtime_ns


def _checked(runs: Iterator[Run], stop: threading.Event | None) -> Iterator[tuple]:
    for run in runs:
        if stop is not None and stop.is_set():
            raise Stopped
        yield run


class Stopped(Exception):
    """Indexing was stopped (the run ended before it needed the supplement)."""


def read_supplement(path: Path, stop: threading.Event | None = None
                    ) -> SupplementIndex | InputError:
    """The supplement, indexed (each person's record is assembled from its rows where the
    person is screened, :func:`supplement_record`); an unreadable file is an error."""
    try:
        return SupplementIndex(path, stop)
    except InputError as exc:
        return exc


class Indexing:
    """The supplement indexed in a thread while the reading process opens the database and
    sets its run up (DuckDB's and psycopg's statements release the GIL: the two overlap),
    its result asked for before anything of the run is given out, so that its error still
    comes first. :meth:`close` (the run's end, an error, Ctrl-C) stops the thread at its next
    person if it still runs, waits for it and removes the index: no thread or file is left."""

    def __init__(self, path: Path) -> None:
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="omop-supplement")
        self._future = self._pool.submit(self._index, path, self._stop)

    @staticmethod
    def _index(path: Path, stop: threading.Event) -> SupplementIndex | InputError:
        found = read_supplement(path, stop)
        if isinstance(found, SupplementIndex):
            release_memory()  # what reading it freed (before workers fork), off the main thread
        return found

    def result(self) -> SupplementIndex | InputError:
        """The index or the file's error, once indexed (what indexing raised, raised); the
        thread has ended (none is left when the workers fork)."""
        found = self._future.result()
        self._pool.shutdown(wait=True)
        return found

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)
        if not self._future.cancelled() and self._future.exception() is None:
            found = self._future.result()
            if isinstance(found, SupplementIndex):
                found.close()


def supplement_record(path: Path, person: str, runs: tuple[Any, ...], header: dict[str, int],
                      delimiter: str | None = None) -> dict | InputError:
    """The record the supplement's rows of one person give (``runs`` as
    :meth:`SupplementIndex.rows` gives them; ``delimiter``: a plain file's), or the error
    naming the row."""
    if delimiter is None:
        rows = list(map(_NUMBER_CELLS, chain.from_iterable(map(pickle.loads, runs))))
    else:
        rows = []
        for run in runs:
            found = _plain(path, person, run, delimiter, header["patient"])
            if isinstance(found, InputError):
                return found
            rows.extend(found)
    item = patient_record(path, person, rows, header,
                          validate=False)  # merged into the CDM's record, then validated
    if isinstance(item, InputError):
        return item
    return item.raw if isinstance(item.raw, dict) else {}  # (made for this call: no copy)


def _plain(path: Path, person: str, run: tuple[int, bytes | None], delimiter: str,
           at: int) -> list[tuple[int, list[str]]] | InputError:
    """A plain file's run as rows, each of them the person's (else the file changed after it
    was indexed, and none of its rows of the person can be trusted)."""
    first, data = run
    rows = plain_rows(data, first, delimiter) if data is not None else None
    stray = first if rows is None else next(
        (n for n, cells in rows if at >= len(cells) or cells[at].strip() != person), None)
    if stray is not None or rows is None:
        return InputError(f"{path}:{stray}", "the file changed on disk after it was indexed: "
                          "its rows of this person cannot be trusted; run again",
                          record=person, field="patient")
    return rows


def merge(record: dict, extra: dict, where: str) -> dict:
    """The CDM's record with the supplement's facts (raises :class:`Conflict`)."""
    wins = _wins()
    for key, value in extra.items():
        if key == "id":
            continue
        if key not in record:
            record[key] = value
        elif isinstance(value, list) and isinstance(record[key], list):
            if value:  # (nothing to join: the CDM's list as it is)
                record[key] = _join(key, record[key], value, where)
        elif isinstance(value, dict) and isinstance(record[key], dict):
            for name, item in value.items():
                known = record[key].get(name)
                if known is not None and known != item and key not in wins:
                    raise Conflict(f"{key}.{name}", f"the CDM gives {key}.{name} as "
                                   f"'{known}' and the supplement ({where}) as '{item}'; a "
                                   "patient has one, so resolve it at the source")
                record[key][name] = item
        elif isinstance(value, str) and value.startswith(f"{record[key]}-"):
            record[key] = value  # a date the CDM gives partly (a year of birth), refined
        elif record[key] != value and key not in wins:
            raise Conflict(key, f"the CDM gives {key} as '{record[key]}' and the supplement "
                                f"({where}) as '{value}'; resolve it at the source")
        else:
            record[key] = value
    return record


@cache
def _wins() -> frozenset[str]:
    """The sections where the investigator's answer wins (the mapping's, read once)."""
    return frozenset(mapping()["supplement"]["wins"])


def _join(key: str, known: list, extra: list, where: str) -> list:
    """Join a list section; a supplement regimen with no drugs completes the CDM's regimen
    of the same name."""
    out = list(known)
    for item in extra:
        target = _same_regimen(out, item) if key == "prior_therapies" else None
        if target is None:
            if item not in out:
                out.append(item)
            continue
        for name, value in item.items():
            if name in ("drugs", "name"):
                continue
            if target.get(name) is not None and target[name] != value:
                raise Conflict(f"prior_therapies.{name}", f"the CDM gives the regimen "
                               f"'{target['name']}' {name} '{target[name]}' and the supplement "
                               f"({where}) '{value}'; resolve it at the source")
            target[name] = value
    return out


def _same_regimen(regimens: list, item: Any) -> dict | None:
    if not isinstance(item, dict) or item.get("drugs") or not item.get("name"):
        return None
    name = str(item["name"]).strip().casefold()
    return next((r for r in regimens if isinstance(r, dict)
                 and str(r.get("name", "")).strip().casefold() == name), None)
