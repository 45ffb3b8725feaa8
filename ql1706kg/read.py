"""Read input files into patient records; the only step that touches patient files.

A file holds one record or a JSON list of records; a folder is searched for ``*.json``. A
record that cannot be read becomes an :class:`InputError` naming the file, the record and the
field, and the other records of the file are still read: nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .errors import InputError
from .models import PatientRecord, _Strict

# Field names of every record model: a location part that is one of these is a field, even
# when it is also the name of a type that pydantic uses for a union branch ("date").
_FIELD_NAMES = frozenset(name for model in _Strict.__subclasses__() for name in model.model_fields)
_UNION_BRANCHES = frozenset({"str", "Coded", "float", "int", "date", "bool", "function-after"})

INPUT_SUFFIXES = (".json",)


@dataclass(frozen=True)
class SourcedRecord:
    """A record with where it came from (file, and position in a list)."""

    source: str
    record: PatientRecord


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path | InputError]:
    """Yield input files: files as given, folders searched recursively, in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES
                              and p.is_file())
        elif path.is_file():
            yield path
        else:
            yield InputError(str(path), "no such file or folder")


def read_file(path: Path) -> Iterator[SourcedRecord | InputError]:
    """Yield the records of one file, or an error for each record that cannot be read."""
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        yield InputError(source, "not a UTF-8 text file")
        return
    except json.JSONDecodeError as exc:
        yield InputError(source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: "
                                 f"{exc.msg}")
        return
    except OSError as exc:
        yield InputError(source, f"cannot be read: {exc.strerror}")
        return
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        label = source if len(items) == 1 and not isinstance(data, list) else f"{source}[{index}]"
        yield parse_record(item, label, index if isinstance(data, list) else None)


def parse_record(item: object, source: str, index: int | None = None) -> SourcedRecord | InputError:
    """Validate one JSON value as a patient record."""
    record_name = _record_name(item, index)
    if not isinstance(item, dict):
        return InputError(source, f"a patient record must be a JSON object, not "
                                  f"{type(item).__name__}", record=record_name)
    try:
        return SourcedRecord(source, PatientRecord.model_validate(item))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(first["loc"])
        more = len(exc.errors()) - 1
        message = _describe(first) + (f" (and {more} more problem{'s' * (more > 1)})"
                                      if more else "")
        return InputError(source, message, record=record_name, field=field or None)


def read_paths(paths: Iterable[str | Path]) -> Iterator[SourcedRecord | InputError]:
    """Yield every record (or error) of every input path, in order."""
    for path in expand_paths(paths):
        if isinstance(path, InputError):
            yield path
        else:
            yield from read_file(path)


def _record_name(item: object, index: int | None) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip():
        return item["id"].strip()
    return None if index is None else f"#{index + 1}"


def _field_path(loc: tuple) -> str:
    """Turn pydantic's location into 'observations[3].date' (union branch names dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (part in _UNION_BRANCHES and part not in _FIELD_NAMES) or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check its spelling against the record schema)"
    value = error.get("input")
    shown = json.dumps(value)[:60] if not isinstance(value, dict) else "an object"
    return f"{error['msg'].rstrip('.')} (got {shown})"
