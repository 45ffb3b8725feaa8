"""Read input files into patient records; the only step that touches patient files.

A file holds one record or a JSON list of records, or FHIR R4 (a Bundle, a resource, or an
NDJSON bulk export: see :mod:`ql1706kg.fhir`), or a long-format table (``.csv``/``.xlsx``: see
:mod:`ql1706kg.tables`); a folder is searched for all of them. A record that cannot be read
becomes an :class:`InputError` naming the file, the record and the field, and the other
records of the file are still read: nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from pydantic import ValidationError

from .errors import InputError
from .models import PatientRecord, _Strict

# Field names of every record model: a location part that is one of these is a field, even
# when it is also the name of a type that pydantic uses for a union branch ("date").
_FIELD_NAMES = frozenset(name for model in _Strict.__subclasses__() for name in model.model_fields)
_UNION_BRANCHES = frozenset({"str", "Coded", "float", "int", "date", "bool", "function-after"})

_DECODER = json.JSONDecoder()

INPUT_SUFFIXES = (".json", ".ndjson", ".csv", ".xlsx")


@dataclass(frozen=True)
class SourcedRecord:
    """A record with where it came from (file, and position in a list)."""

    source: str
    record: PatientRecord
    raw: dict | None = field(default=None, compare=False, repr=False)  # what was validated

    def __reduce__(self) -> tuple:
        # Sent to worker processes as the JSON value it was validated from, and validated
        # again there: pickling the pydantic model cost 4× a validation (0.29 ms a patient).
        if self.raw is None:
            return (SourcedRecord, (self.source, self.record))
        return (_validated, (self.source, self.raw))


    @property
    def id(self) -> str:
        """The patient's id."""
        return self.record.id


def _validated(source: str, raw: dict) -> SourcedRecord:
    return SourcedRecord(source, PatientRecord.model_validate(raw), raw)


@dataclass(frozen=True)
class RawRecord:
    """A record read but not validated yet: ``read_paths(..., validate=False)`` leaves the
    validation to the process that screens it, so a parent feeding workers only splits JSON."""

    source: str
    raw: object
    index: int | None = None

    @property
    def id(self) -> str | None:
        """The id the record gives (stripped, as validation would), if it gives one."""
        value = self.raw.get("id") if isinstance(self.raw, dict) else None
        return value.strip() if isinstance(value, str) else None

    def parse(self) -> SourcedRecord | InputError:
        """Validate: the record, or the error naming the source, the record and the field."""
        return parse_record(self.raw, self.source, self.index)


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


def read_file(path: Path, fhir_pool: list | None = None, validate: bool = True
              ) -> Iterator[SourcedRecord | RawRecord | InputError]:
    """Yield the records of one file, or an error for each record that cannot be read.

    FHIR resources are not records on their own: they go to ``fhir_pool`` (a patient's
    resources may be spread over several files of a bulk export) and are assembled later.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        from .tables import read_table

        yield from read_table(path)
        return
    if suffix == ".ndjson":
        if _first_line_is_fhir(path):
            from .fhir import ndjson_entries

            _pool(fhir_pool, source).extend(ndjson_entries(path))
        else:
            yield from _record_lines(path, validate)
        return
    try:
        if _starts_with(path, "["):
            yield from _array_records(path, validate)
            return
        data = json_loads(path.read_text(encoding="utf-8"))
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
    from .fhir import entries_of, is_fhir

    if is_fhir(data):
        _pool(fhir_pool, source).extend(entries_of(data, source))
        return
    yield parse_record(data, source) if validate else RawRecord(source, data)


def _starts_with(path: Path, char: str) -> bool:
    """Whether the file's first non-blank character is ``char``."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
        while not head:
            block = handle.read(65536)
            if not block:
                return False
            head = block.lstrip()
    return head[:1] == char.encode()


def _array_records(path: Path, validate: bool
                   ) -> Iterator[SourcedRecord | RawRecord | InputError]:
    """The records of a file holding a JSON list, read item by item (a list of a million
    records screens in the memory of a few); a syntax error ends the file with an error that
    names its line and column, after the records before it."""
    source = str(path)
    with path.open(encoding="utf-8") as handle:
        for index, item in enumerate(ArrayReader(handle)):
            label = f"{source}[{index}]"
            yield (parse_record(item, label, index) if validate
                   else RawRecord(label, item, index))


class ArrayReader:
    """Iterate over the items of a JSON array in a text stream, holding one chunk at a time.

    Each item is parsed by the standard library's decoder (``raw_decode``), so values and
    error messages are those of ``json.loads``; positions in errors are counted in the whole
    file. An item not yet followed by ',' or ']' in the text read so far is parsed again once
    more text is read, so an item is never cut at a chunk boundary.
    """

    CHUNK = 1 << 20
    _BLANK = " \t\n\r"

    def __init__(self, handle, chunk: int = CHUNK) -> None:
        self.handle, self.chunk = handle, chunk
        self.text, self.pos, self.eof = "", 0, False
        self.lines_before = 0  # newlines in the text already dropped
        self.column_before = 0  # characters of the current line already dropped

    def __iter__(self) -> Iterator[object]:
        self._expect("[", "Expecting value")
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                yield self._item()
                char = self._peek()
                self.pos += 1
                if char == "]":
                    break
                if char != ",":
                    self.pos -= 1
                    self._fail("Expecting ',' delimiter")
        if self._peek() != "":
            self._fail("Extra data")

    def _item(self) -> object:
        self._peek()
        while True:
            try:
                item, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self._read_more():
                    continue
                self.pos = exc.pos
                self._fail(exc.msg)
            if not self._delimited(end) and self._read_more():
                continue  # a number may go on in the next chunk ("1e" then "+21")
            self.pos = end
            self._drop_read()
            return item

    def _delimited(self, end: int) -> bool:
        """Whether the text read so far shows ',' or ']' after an item that ends at ``end``."""
        while end < len(self.text) and self.text[end] in self._BLANK:
            end += 1
        return end < len(self.text) and self.text[end] in ",]"

    def _peek(self) -> str:
        """The next non-blank character ('' at the end), reading more text as needed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in self._BLANK:
                self.pos += 1
            if self.pos < len(self.text) or not self._read_more():
                return self.text[self.pos:self.pos + 1]

    def _expect(self, char: str, message: str) -> None:
        if self._peek() != char:
            self._fail(message)
        self.pos += 1

    def _read_more(self) -> bool:
        if self.eof:
            return False
        # At least as much again as is held: an item that spans many chunks (or a syntax error
        # that makes the rest of the file look like one item) is parsed O(log n) times.
        block = self.handle.read(max(self.chunk, len(self.text) - self.pos))
        if not block:
            self.eof = True
            return False
        self.text += block
        return True

    def _drop_read(self) -> None:
        """Forget the text before the current position, counting its lines and columns."""
        if self.pos < self.chunk:
            return
        dropped = self.text[:self.pos]
        newlines = dropped.count("\n")
        if newlines:
            self.lines_before += newlines
            self.column_before = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.column_before += len(dropped)
        self.text, self.pos = self.text[self.pos:], 0

    def _fail(self, message: str) -> None:
        newlines = self.text.count("\n", 0, self.pos)
        line = self.lines_before + newlines + 1
        column = (self.column_before + self.pos + 1 if not newlines
                  else self.pos - self.text.rfind("\n", 0, self.pos))
        error = json.JSONDecodeError(message, self.text, self.pos)
        error.lineno, error.colno = line, column
        raise error


def json_loads(text: str) -> object:
    """Parse JSON with orjson (several times faster than json, and the parent process of a
    parallel screening parses every input file); what orjson refuses (NaN, lone surrogates,
    malformed text) goes to json, so the accepted values and the error messages stay those of
    the standard library. One difference remains: an integer beyond 64 bits is read as the
    nearest float, as JavaScript reads it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _first_line_is_fhir(path: Path) -> bool:
    """An NDJSON file is a FHIR bulk export when its lines are resources."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and "resourceType" in first
    return False


def _record_lines(path: Path, validate: bool = True
                  ) -> Iterator[SourcedRecord | RawRecord | InputError]:
    """One project record per line, read lazily: a million patients in constant memory."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                item = json_loads(line)
            except json.JSONDecodeError as exc:
                yield InputError(source, f"invalid JSON at column {exc.colno}: {exc.msg}")
                continue
            yield parse_record(item, source) if validate else RawRecord(source, item)


def parse_record(item: object, source: str, index: int | None = None) -> SourcedRecord | InputError:
    """Validate one JSON value as a patient record."""
    record_name = _record_name(item, index)
    if not isinstance(item, dict):
        return InputError(source, f"a patient record must be a JSON object, not "
                                  f"{type(item).__name__}", record=record_name)
    try:
        return SourcedRecord(source, PatientRecord.model_validate(item), item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(first["loc"])
        more = len(exc.errors()) - 1
        message = _describe(first) + (f" (and {more} more problem{'s' * (more > 1)})"
                                      if more else "")
        return InputError(source, message, record=record_name, field=field or None)


def _pool(pool: list | None, source: str) -> list:
    if pool is None:
        raise InputError(source, "FHIR input can only be read through read_paths")
    return pool


def read_paths(paths: Iterable[str | Path], fhir_report: list | None = None,
               validate: bool = True, jobs: int = 1
               ) -> Iterator[SourcedRecord | RawRecord | InputError]:
    """Yield every record (or error) of every input path, in order; FHIR patients last.

    ``fhir_report``, when given, receives one line per FHIR resource: used, or ignored and why.
    ``validate=False`` yields :class:`RawRecord` items, validated later by their ``parse``.
    ``jobs`` processes check FHIR resources against their models.
    """
    pool: list = []
    for path in expand_paths(paths):
        if isinstance(path, InputError):
            yield path
        else:
            try:
                yield from read_file(path, pool, validate)
            except InputError as exc:
                yield exc
    if not pool:
        return
    from .fhir import read_fhir

    assembled, report = read_fhir(pool, jobs)
    if fhir_report is not None:
        fhir_report.extend(report.lines)
    for item in assembled:
        if isinstance(item, InputError):
            yield item
        else:
            source = item.pop("__source__")
            yield parse_record(item, source) if validate else RawRecord(source, item)


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
