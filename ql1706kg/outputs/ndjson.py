"""What ``--resume`` reads from NDJSON output: which patients an earlier run already wrote,
and whether that run screened the same way.

Every NDJSON line (a patient, or an input that could not be read) carries, besides the
documented fields, ``window_days``, ``protocol_version``, ``protocol_hash`` (next to ``as_of``) and
``resolved_source``: the ``source`` with its file part resolved (absolute, symbolic links
followed), e.g. ``/data/cohort.json[12]`` for ``source`` ``./cohort.json[12]``. A run
resumes a file only when every line has its as-of date, window, protocol version and
protocol content hash (another protocol folder, ``--protocol DIR``, is another protocol), and
skips a patient when a line has the same ``resolved_source`` and ``id``, however the input
was spelled.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Ql1706kgError
from .render import dumps

_SEPARATORS = "[:#"  # what readers append to a file's name: [item], :line, #patient
# a URL (RFC 3986 scheme, two characters or more: ``C:/`` is a drive) that names no file: an
# OMOP database's person, duckdb:///cdm.duckdb#person/42, postgresql://host/cdm#person/42
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


class ResumeMismatch(Ql1706kgError):
    """The output to resume was screened differently (or has no keys to tell); usage error."""


@dataclass(frozen=True)
class RunKey:
    """What makes two runs' verdicts comparable."""

    as_of: str
    window_days: int
    protocol_version: str
    protocol_hash: str

    def fields(self) -> dict:
        return {"as_of": self.as_of, "window_days": self.window_days,
                "protocol_version": self.protocol_version, "protocol_hash": self.protocol_hash}

    def describe(self) -> str:
        return (f"as of {self.as_of} with a {self.window_days}-day window, protocol "
                f"{self.protocol_version} (content {self.protocol_hash})")


class SourceResolver:
    """A result's ``source`` with its file part resolved (see the module docstring), against
    the working folder of the moment it is made; a URL (but a ``file:`` one) names no file
    and is kept as written."""

    CACHE_SIZE = 65536

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}

    def __call__(self, source: str) -> str:
        if _URL.match(source) and source[:5].casefold() != "file:":
            return source  # no part of a URL is a file: no stat call a result
        # Shortest candidate first: the file's own name is usually the first one tried.
        for end in [i for i, char in enumerate(source) if char in _SEPARATORS]:
            real = self._real_file(source[:end])
            if real is not None:
                return real + source[end:]
        # the whole source is not cached: it is one a patient where no part of it is a file,
        # and memory stays flat
        return os.path.realpath(source) if source and os.path.isfile(source) else source

    def _real_file(self, candidate: str) -> str | None:
        if candidate not in self._cache:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[candidate] = (os.path.realpath(candidate)
                                      if candidate and os.path.isfile(candidate) else None)
        return self._cache[candidate]


def with_resolved_source(line: bytes, resolved: str) -> bytes:
    """An NDJSON line (one JSON object and a newline) with ``resolved_source`` added last."""
    if not line.endswith(b"}\n"):
        raise ValueError("not an NDJSON object line")
    return line[:-2] + b',"resolved_source":' + dumps(resolved) + b"}\n"


def error_key(resolved: str, error: dict) -> tuple:
    return (resolved, error.get("record"), error.get("field"), error.get("message"))


@dataclass
class Screened:
    """What an earlier run wrote to an NDJSON output."""

    patients: set[tuple[str, str]] = field(default_factory=set)  # (resolved_source, id)
    errors: set[tuple] = field(default_factory=set)  # error_key of each error line
    complete: int = 0  # bytes of whole lines (a last line cut short is dropped)
    cut: list[int] = field(default_factory=list)  # numbers of lines that are not JSON


def screened_before(path: Path, key: RunKey) -> Screened:
    """Read ``path`` line by line (a million-patient output is gigabytes); refuse it
    (:class:`ResumeMismatch`) if any line was screened with another key or has none."""
    found = Screened()
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return found
    with handle:
        for number, line in enumerate(handle, 1):
            whole = line.endswith(b"\n")
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                data = None
            if not isinstance(data, dict):
                found.cut.append(number)
            else:
                _check(path, number, data, key)
                resolved = data["resolved_source"]
                if "error" in data and isinstance(data["error"], dict):
                    found.errors.add(error_key(resolved, data["error"]))
                elif "id" in data:
                    found.patients.add((resolved, data["id"]))
            if whole:
                found.complete += len(line)
    return found


def _check(path: Path, number: int, data: dict, key: RunKey) -> None:
    missing = [name for name in (*key.fields(), "resolved_source") if name not in data]
    if missing:
        raise ResumeMismatch(
            f"cannot resume {path}: line {number} has no {', '.join(missing)} (written by an "
            "earlier version of ql1706kg, or not by ql1706kg); screen into a new file "
            "without --resume")
    theirs = RunKey(str(data["as_of"]), data["window_days"], str(data["protocol_version"]),
                    str(data["protocol_hash"]))
    if theirs != key:
        protocol = (theirs.protocol_version, theirs.protocol_hash)
        advice = ("the protocol changed (another protocol version or folder, --protocol): "
                  "screen again into a new file without --resume, or resume with the protocol "
                  "it was screened with"
                  if protocol != (key.protocol_version, key.protocol_hash) else
                  f"resume with --as-of {theirs.as_of} --window-days {theirs.window_days}, "
                  "or screen into a new file without --resume")
        raise ResumeMismatch(f"cannot resume {path}: it holds results {theirs.describe()} "
                             f"(line {number}), and this run is {key.describe()}; {advice}")
