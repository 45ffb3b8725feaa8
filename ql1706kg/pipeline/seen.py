"""The patient ids a run has used, for the duplicate-id check, in memory that stays flat.

A run must know every id it has screened (one id names one person), but a stream of 100,000
patients cannot keep each one's id, source and fingerprint in Python objects (~300 bytes a
patient: the main process grew 45 MB from 10,000 to 100,000 NDJSON records). The ids, the
source that used each first and its fingerprint live in a private temporary SQLite database
instead (on disk, removed when the run ends; SQLite holds ~2 MB of it in memory), as the OMOP
supplement's rows do. A FHIR person's handle stays in memory (it is compared by assembling it,
and the run's FHIR index already holds every person)."""

from __future__ import annotations

import sqlite3
from typing import Generic, TypeVar

Handle = TypeVar("Handle")


class SeenIds(Generic[Handle]):
    """id -> (the source that used it first, its fingerprint, a handle or None)."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._handles: dict[str, tuple[str, Handle]] = {}

    def get(self, key: str) -> tuple[str, bytes | Handle | None] | None:
        handle = self._handles.get(key)
        if handle is not None:
            return handle
        if self._db is None:
            return None
        row = self._db.execute("SELECT source, digest FROM seen WHERE id = ?",
                               (_text(key),)).fetchone()
        return None if row is None else (row[0].decode("utf-8", "surrogatepass"), row[1])

    def put(self, key: str, source: str, digest: bytes | None) -> None:
        """The id's first source and the fingerprint of its record (None: differs from every
        other record), replacing a handle kept before."""
        self._handles.pop(key, None)
        if self._db is None:
            self._db = _database()
        self._db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
                         (_text(key), _text(source), digest))

    def keep(self, key: str, source: str, handle: Handle) -> None:
        """A person to be assembled only if its id is used again (kept in memory)."""
        self._handles[key] = (source, handle)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _text(value: str) -> bytes:
    """A string as SQLite keeps it, whatever it holds (a file name that is not UTF-8 is read
    with lone surrogates in it)."""
    return value.encode("utf-8", "surrogatepass")


def _database() -> sqlite3.Connection:
    # "": a private temporary database on disk, removed when it is closed; one transaction
    # never committed (nothing needs to survive the run), no journal
    db = sqlite3.connect("", check_same_thread=False)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("CREATE TABLE seen (id BLOB PRIMARY KEY, source BLOB, digest BLOB) "
               "WITHOUT ROWID")
    return db
