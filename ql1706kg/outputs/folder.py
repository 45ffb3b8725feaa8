"""A folder of outputs (the HTML report, the docs) by the rules of
:mod:`ql1706kg.outputs.files`: one lock for the folder, every file written to a temporary file
beside its place, and all of them renamed into place only when every one is complete (the
index last); on a failure or an interruption the temporary files and the folders this run
created are removed, and what was there before is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..errors import EnvironmentFailure
from ..leftovers import remove_stale_temps
from .files import Lock, OutputFile, failure, signals_deferred, sync_folder


class OutputFolder:
    """A folder of outputs (the HTML report): one lock, each file written to a temporary file
    and all renamed into place only when every one is complete (the index last)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = Lock(self.folder)
        self._files: list[OutputFile] = []
        self._made: list[Path] = []  # folders this run created (removed again on failure)

    def __enter__(self) -> OutputFolder:
        return self.open()

    def __exit__(self, kind, _exc, _tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()

    def open(self) -> OutputFolder:
        self._check_folder(self.folder)
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise failure(self.folder, exc) from None
        self._lock.acquire()
        try:
            self._make(self.folder)
            for where, _dirs, _files in os.walk(self.folder):
                remove_stale_temps(Path(where))  # what a killed run left (its owner gone)
        except BaseException:
            self.abort()
            raise
        return self

    def write_text(self, relative: str, text: str) -> Path:
        """Write ``folder/relative`` (put in place by :meth:`commit`); return its path."""
        return self.write_bytes(relative, text.encode("utf-8"))

    def write_bytes(self, relative: str, data: bytes) -> Path:
        """Write ``folder/relative`` (put in place by :meth:`commit`); return its path."""
        target = self.folder / relative
        self._make(target.parent)
        output = OutputFile(target, durable=False, lock=False).open()
        self._files.append(output)
        output.write(data)
        output.finish()
        return target

    def commit(self) -> None:
        with signals_deferred():
            try:
                for output in self._files:
                    output.publish()
                sync_folder(self.folder)
            except BaseException:
                self.abort()
                raise
            self._made.clear()
            self.abort()  # only releases the lock now

    def abort(self) -> None:
        with signals_deferred():
            for output in self._files:
                output.abort()
            self._files.clear()
            for folder in reversed(self._made):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: files already in place stay
            self._made.clear()
            self._lock.release()

    def _make(self, folder: Path) -> None:
        self._check_folder(folder)
        missing = [f for f in (folder, *folder.parents) if not f.exists()][::-1]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise failure(folder, exc) from None
        self._made.extend(missing)

    @staticmethod
    def _check_folder(folder: Path) -> None:
        try:
            status = os.lstat(folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise failure(folder, exc) from None
        if stat.S_ISLNK(status.st_mode):
            raise EnvironmentFailure(f"refusing to write into {folder}: it is a symbolic link "
                                     "(name the folder it points to)")
        if not stat.S_ISDIR(status.st_mode):
            raise EnvironmentFailure(f"refusing to write into {folder}: it is not a folder")
