"""Whether an output would land on one of the inputs: ``-o x.json`` with ``x.json`` (or a
folder holding it) as input would otherwise destroy the input it is reading.

A target clashes with an input when its resolved path is the resolved path of an input given
(a file, or a folder for the report), or when it exists and is one of the files read, found
by the same search the readers use (files given, ``*.json`` … inside folders given), compared
by resolved path and by device and inode (a hard link is the same file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError


class InputFiles:
    """The inputs of a run, for checking outputs against them (searched once, when needed)."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._files: dict[tuple[int, int], Path] | None = None

    def clash(self, target: Path) -> Path | None:
        """The input ``target`` would overwrite, if any."""
        resolved = os.path.realpath(target)
        for path in self.paths:
            if os.path.realpath(path) == resolved:
                return path
        try:
            status = os.stat(target)
        except OSError:
            return None  # not there: it can only be an input given by name (checked above)
        return self._by_identity().get((status.st_dev, status.st_ino))

    def inside(self, folder: Path) -> Path | None:
        """An input given by name that lies in ``folder`` (which an output would fill)."""
        root = os.path.join(os.path.realpath(folder), "")
        for path in self.paths:
            if os.path.realpath(path).startswith(root):
                return path
        return None

    def _by_identity(self) -> dict[tuple[int, int], Path]:
        if self._files is None:
            self._files = {}
            from ..inputs.read import expand_paths  # the readers: only when inputs are

            for path in expand_paths(self.paths):
                if isinstance(path, InputError):
                    continue
                try:
                    status = os.stat(path)
                except OSError:
                    continue
                self._files.setdefault((status.st_dev, status.st_ino), path)
        return self._files
