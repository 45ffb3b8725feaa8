"""Read input files into patient records; the only step that touches patient files.

A file holds one record or a JSON list of records, or FHIR R4 (a Bundle, a resource, or an
NDJSON bulk export: see :mod:`ql1706kg.fhir`), or a long-format table (``.csv``/``.xlsx``: see
:mod:`ql1706kg.tables`); a folder is searched for all of them. An OMOP CDM database is read in
place (an :class:`~ql1706kg.inputs.omop.OmopInput` among the paths, ``--omop``). A record that
cannot be read
becomes an :class:`InputError` naming the file, the record and the field, and the other
records of the file are still read: nothing is dropped silently.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..errors import InputError, InputNote
from . import sniff
from .jsonio import ArrayReader, Unreadable, json_loads, text_lines
from .models import PatientRecord
from .records import RawRecord, SourcedRecord, parse_record

if TYPE_CHECKING:
    from .fhir import FhirInput, FhirPerson, Workspace
    from .omop import OmopInput
    from .omop.person import OmopPerson

UTF8_BOM = b"\xef\xbb\xbf"
# The fields of a record: a JSON object with none of them (and no resourceType) is no record.
RECORD_FIELDS = frozenset(PatientRecord.model_fields)
# Files npm FHIR packages and tools put beside resources: never records, never resources.
PACKAGE_FILES = frozenset({"package.json", ".index.json", "package-lock.json"})
# Other JSON documents found beside exports, by the keys that say what they are (each a list of
# alternatives that must all be present); a document with no record field that is none of
# these is still an error (a record whose every field is misspelt must not pass as a note).
NOT_RECORDS = (
    ("an npm package manifest", (("name",), ("version",),
                                 ("fhirVersions", "dependencies", "canonical"))),
    ("an FHIR package index", (("index-version",), ("files",))),
    ("a log entry", (("level", "severity", "levelname"), ("msg", "message", "event"))),
    ("a bulk export manifest", (("transactionTime",), ("output",))),
)
INPUT_SUFFIXES = (".json", ".ndjson", ".csv", ".xlsx")


def expand_paths(paths: Iterable[str | Path],
                 on_skipped: Callable[[Path], None] | None = None
                 ) -> Iterator[Path | InputError]:
    """Yield input files: files as given, folders searched recursively, in a stable order.

    A protocol folder met in the search (one with ``ontology/`` and ``shapes/``, such as
    ``examples/protocols/...``) is not patient data: its files are left out and it is named to
    ``on_skipped`` (its patients are screened by naming them, with ``--protocol`` it)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            protocols = sorted(p for p in path.rglob("*") if p.is_dir() and is_protocol_folder(p))
            for folder in protocols:
                if on_skipped is not None:
                    on_skipped(folder)
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES
                              and p.is_file() and not any(f in p.parents for f in protocols))
        elif path.is_file():
            yield path
        else:
            yield InputError(str(path), "no such file or folder")


def is_protocol_folder(path: Path) -> bool:
    """Whether a folder is a protocol folder (``protocol export`` writes one)."""
    return (path / "ontology").is_dir() and (path / "shapes").is_dir()


def read_file(path: Path, fhir_pool: FhirInput | None = None, validate: bool = True
              ) -> Iterator[SourcedRecord | RawRecord | InputError | InputNote]:
    """Yield the records of one file, or an error for each record that cannot be read.

    FHIR resources are not records on their own: they are indexed by ``fhir_pool`` (a
    patient's resources may be spread over several files of a bulk export) and assembled
    later.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        from .tables import read_table

        yield from read_table(path)
        return
    rdf = sniff.SUFFIXES.get(suffix) or (sniff.rdf_syntax(path) if suffix != ".json"
                                         else None)
    if rdf is not None:
        yield InputError(source, _NOT_RECORDS.format(sniff.describe(rdf)))
        return
    if suffix == ".ndjson":
        if _first_line_is_fhir(path):
            from .fhir import ndjson_entries

            _pool(fhir_pool, source).extend(ndjson_entries(path), source)
        else:
            yield from _record_lines(path, validate)
        return
    try:
        if _starts_with(path, "["):
            yield from _array_records(path, validate)
            return
        data = json_loads(path.read_text(encoding="utf-8-sig"))
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
        _pool(fhir_pool, source).extend(entries_of(data, source), source)
        return
    if is_json_schema(data):
        return  # e.g. examples/patient-record.schema.json beside the records: not a patient
    if isinstance(data, dict) and ("@context" in data or "@graph" in data):
        yield InputError(source, _NOT_RECORDS.format(sniff.describe("json-ld")))
        return
    why = not_fhir_nor_record(data, path)
    if why is not None:  # an npm package's manifest or index, a log: skipped, said so
        yield InputNote(source, f"skipped: {why}")
        return
    yield parse_record(data, source) if validate else RawRecord(source, data)


_NOT_RECORDS = ("is {}, not a patient record: screening reads the project's JSON records, HL7 "
                "FHIR R4 (JSON, NDJSON) and tables (.csv, .xlsx); verdict graphs are read by "
                "'ql1706kg query', 'serve' and 'push'")


def not_fhir_nor_record(data: object, path: Path) -> str | None:
    """Why a JSON document is neither a FHIR resource nor a patient record (an npm FHIR
    package's manifest or index, a log...), or None when it may be a record (one with a
    field of the record, misspelt ones beside it, is an error naming them, not skipped)."""
    if path.name in PACKAGE_FILES:
        return f"{path.name} of an npm package, not patient data"
    if not isinstance(data, dict) or "resourceType" in data or data.keys() & RECORD_FIELDS:
        return None
    for kind, marks in NOT_RECORDS:
        if all(any(key in data for key in alternatives) for alternatives in marks):
            return f"{kind}, neither a FHIR resource nor a patient record"
    return None  # no record field, but nothing says what else it is: an error names it


def is_json_schema(data: object) -> bool:
    """Whether a JSON document is a JSON Schema (an object type with properties and a schema
    keyword, but no patient id), which a folder of records may hold beside them."""
    return (isinstance(data, dict) and data.get("type") == "object" and "properties" in data
            and bool({"$schema", "$id", "$defs"} & data.keys()) and "id" not in data)


def _starts_with(path: Path, char: str) -> bool:
    """Whether the file's first non-blank character is ``char``."""
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(UTF8_BOM).lstrip()
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
    with path.open(encoding="utf-8-sig") as handle:
        for index, item in enumerate(ArrayReader(handle)):
            label = f"{source}[{index}]"
            if isinstance(item, Unreadable):
                yield InputError(label, f"invalid JSON: {item.message}", record=f"#{index + 1}")
                continue
            yield (parse_record(item, label, index) if validate
                   else RawRecord(label, item, index))


def _first_line_is_fhir(path: Path) -> bool:
    """An NDJSON file is a FHIR bulk export when its lines are resources."""
    for _number, line in text_lines(path):
        if line is None:
            return False
        if line.strip():
            try:
                first = json_loads(line)
            except json.JSONDecodeError:
                return False
            return isinstance(first, dict) and "resourceType" in first
    return False


def _record_lines(path: Path, validate: bool = True
                  ) -> Iterator[SourcedRecord | RawRecord | InputError]:
    """One project record per line, read lazily: a million patients in constant memory."""
    for number, line in text_lines(path):
        source = f"{path}:{number}"
        if line is None:
            yield InputError(source, "this line is not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            item = json_loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(source, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        yield parse_record(item, source) if validate else RawRecord(source, item)


def _pool(pool: FhirInput | None, source: str) -> FhirInput:
    if pool is None:
        raise InputError(source, "FHIR input can only be read through read_paths")
    return pool


def read_paths(paths: Iterable[str | Path | OmopInput], fhir_report: list | None = None,
               validate: bool = True, jobs: int = 1,
               on_note: Callable[[InputNote], None] | None = None,
               fhir_workspace: Workspace | None = None,
               on_people: Callable[[int], None] | None = None
               ) -> Iterator[SourcedRecord | RawRecord | InputError | FhirPerson | OmopPerson]:
    """Yield every record (or error) of every input path, in order; FHIR patients last.

    ``fhir_report``, when given, receives one line per FHIR resource: used, or ignored and why.
    ``validate=False`` yields :class:`RawRecord` items, validated later by their ``parse``.
    ``on_note`` receives what is worth knowing but not an error (default: the ``ql1706kg``
    logger's warnings). An :class:`~.omop.OmopInput` among ``paths`` is read last, in place.
    FHIR resources are indexed on disk as they are read, then each person
    is assembled on its own (memory stays bounded however large the export): here, or, given
    ``fhir_workspace`` (which then owns the index, and removes it when the caller is done),
    by whoever screens them: a :class:`FhirPerson` is yielded for each person. ``on_people``
    is told how many people the FHIR input holds once it is grouped. ``jobs`` is
    accepted for compatibility (the FHIR models are checked where each person is assembled).
    """
    del jobs
    note = on_note or _log_note
    from .fhir.workspace import Workspace
    from .omop import OmopInput

    paths = list(paths)
    databases = [p for p in paths if isinstance(p, OmopInput)]  # --omop: read in place
    files = [p for p in paths if not isinstance(p, OmopInput)]
    workspace = fhir_workspace or Workspace()
    fhir = _FhirWhenRead(workspace, report=fhir_report is not None)
    try:
        def skipped(folder: Path) -> None:
            note(InputNote(str(folder), "skipped: a protocol folder, not patient data (screen "
                                        "its patients by naming them, with --protocol naming "
                                        "the folder)"))

        for path in expand_paths(files, skipped):
            if isinstance(path, InputError):
                yield path
            else:
                try:
                    for item in read_file(path, cast("FhirInput", fhir), validate):
                        if isinstance(item, InputNote):
                            note(item)
                        else:
                            yield item
                except InputError as exc:
                    yield exc
                except Exception as exc:  # a bug must cost this file, named, not the run
                    yield InputError(str(path), _internal(exc))
        items = fhir.people() if fhir_workspace is not None else fhir.records()
        try:
            first = next(items, None)  # the whole input grouped into people
        except Exception as exc:  # a bug: every FHIR file is named, none passes silently
            yield from (InputError(source, _internal(exc)) for source in fhir.files())
            return
        if on_people is not None and fhir.input is not None:
            on_people(fhir.input.people_count)
        for item in itertools.chain([first] if first is not None else [], items):
            if isinstance(item, InputNote):
                note(item)
            elif isinstance(item, RawRecord) and validate:
                yield item.parse()
            else:
                yield item
        if fhir_report is not None:
            fhir_report.extend(fhir.report_lines())
        if databases:
            from .omop.read import read_omop
        for database in databases:
            for found in read_omop(database, validate):
                if isinstance(found, InputNote):
                    note(found)
                else:
                    yield found
    finally:
        fhir.close()
        if fhir_workspace is None:
            workspace.close()


class _FhirWhenRead:
    """The run's :class:`FhirInput`, made when a file turns out to hold FHIR: a run of JSON
    records or tables never imports the FHIR reader (issue 13's cold start)."""

    def __init__(self, workspace: Workspace, report: bool) -> None:
        self.workspace, self.report = workspace, report
        self.input: FhirInput | None = None

    def extend(self, items, path: str | None = None) -> None:
        if self.input is None:
            from .fhir.read import FhirInput

            self.input = FhirInput(self.workspace, self.report)
        self.input.extend(items, path)

    def files(self) -> list[str]:
        return self.input.files() if self.input is not None else []

    def people(self) -> Iterator:
        return self.input.people() if self.input is not None else iter(())

    def records(self) -> Iterator:
        return self.input.records() if self.input is not None else iter(())

    def report_lines(self) -> list:
        return self.input.report_lines() if self.input is not None else []

    def close(self) -> None:
        if self.input is not None:
            self.input.close()


def _log_note(note: InputNote) -> None:
    logging.getLogger("ql1706kg").warning("%s", note)


def _internal(exc: Exception) -> str:
    return (f"could not be read: an internal error ({type(exc).__name__}: {str(exc)[:200]}); "
            "please report it with this file")
