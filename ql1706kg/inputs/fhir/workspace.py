"""The private temporary folder of one run's FHIR index, and this process's connections to it.

Its own small module so that screening JSON records (which never makes the folder) need not
import the FHIR reader: the API opens a :class:`Workspace` for every run, and the folder is
made only when an FHIR resource is read (issue 13's cold start).
"""

from __future__ import annotations

import os
import shutil
import weakref
from pathlib import Path

from ...leftovers import make_owned_folder

# This process's read-only connections to indexes (a forked worker opens its own).
# index path: (pid, sqlite3 connection, index.RowReader); typed loosely, so that this
# module need not import the index (which imports it)
_OPEN: dict[str, tuple] = {}


def forget(folder: str | None) -> None:
    """Close this process's connections to the indexes of a folder about to be removed."""
    for index in [path for path in _OPEN if folder and path.startswith(str(folder))]:
        pid, db, rows = _OPEN.pop(index)
        if pid == os.getpid():
            rows.close()
            db.close()


def _remove(folder: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


class Workspace:
    """A private temporary folder for one run's FHIR index, made when first needed and removed
    when the run ends (also on an error or Ctrl-C), by the process that made it only (forked
    workers inherit this object and must leave the folder to their parent)."""

    def __init__(self) -> None:
        self._folder: str | None = None
        self._owner = os.getpid()
        self._finalizer: weakref.finalize | None = None

    def folder(self) -> Path:
        if self._folder is None:
            # marked with its owner: a run killed outright leaves it, and the next run that
            # makes one removes it (ql1706kg.leftovers)
            self._folder = str(make_owned_folder("fhir"))
            self._finalizer = weakref.finalize(self, _remove, self._folder, self._owner)
        return Path(self._folder)

    def close(self) -> None:
        if self._finalizer is not None:
            forget(self._folder)
            self._finalizer()
            self._folder = self._finalizer = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
