"""The rows of a long-format table file (``.csv``, ``.xlsx``), as read: the file layer of
:mod:`.tables` (which assembles rows into records).

A CSV file is read row by row from the file, its separator chosen from its header line in
linear time; a workbook is measured before openpyxl opens it (:mod:`.workbook`), and a formula
whose result the file does not store is a value that is unknown, never an empty cell.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..protocol.resources import protocol_cache
from .workbook import check_workbook

REQUIRED = ("patient", "element", "value")
COLUMNS = (*REQUIRED, "unit", "uln", "lln", "date", "code", "system", "group", "site",
           "slice_thickness", "status", "end")
Rows = list[tuple[int, list[Any]]]  # (row number, the row's cells as read)


def table_body(path: Path) -> tuple[dict[str, int], Iterator[tuple[str, int, list[Any]]]]:
    """The header, and the rows as they are read: (patient, row number, cells), blank and
    comment rows left out. A CSV file is read row by row (its text once, not its rows: a
    site supplement of 100,000 persons is 1.4 million rows)."""
    if text_only(path):
        table = _csv_table(path)
        return next(table), table
    rows = iter(_xlsx_rows(path))
    header = _header(rows, str(path))
    at, columns = header["patient"], tuple(header.values())

    def body() -> Iterator[tuple[str, int, list[Any]]]:
        for number, raw in rows:
            patient = str(cell(raw, at) or "")
            if not patient and not any(cell(raw, index) not in (None, "")
                                       for index in columns):
                continue
            if patient.startswith("#"):
                continue
            yield patient.strip(), number, raw

    return header, body()


@lru_cache(maxsize=64)
def text_only(path: Path) -> bool:
    """Whether the file is read as CSV, whose cells are all text (never a number, a date or
    an :class:`UnsavedFormula`): every file but a workbook (``.xlsx``)."""
    return path.suffix.lower() != ".xlsx"


def _csv_table(path: Path) -> Iterator[Any]:
    """A CSV file's header (column -> index: the first item), then its rows as
    :func:`table_body` gives them (numbered from 1), read from the file as iterated (a site
    supplement of 100,000 persons is 200 MB of text: never all in memory). One loop reads,
    filters and numbers the rows, a cell's text is all it holds (no :func:`cell` per cell):
    the reading process of ``--omop`` reads the whole supplement before the CDM. An
    unreadable file raises :class:`InputError` when the row that cannot be read is asked for
    (the readers read a table whole before using any of it)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = next((line for line in handle if line.strip()
                          and not line.lstrip().startswith("#")), "")
            dialect = _dialect(first.rstrip("\r\n"))
            handle.seek(0)
            with _no_field_limit():
                rows = enumerate(csv.reader(handle, dialect), 1)
                header = _header((r for r in rows if not _commented(r[1])), str(path))
                yield header
                yield from kept_rows(rows, header)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot be read as UTF-8 text: {exc}") from None


def kept_rows(rows: Iterator[tuple[int, list[str]]], header: dict[str, int]
              ) -> Iterator[tuple[str, int, list[str]]]:
    """A text table's rows (row number, cells) as :func:`table_body` gives them: (patient,
    row number, cells), blank and comment rows left out (the one rule of every reader of a
    text table: the csv module's rows here, a plain file's lines in :mod:`.table_runs`)."""
    at, columns = header["patient"], tuple(header.values())
    for number, row in rows:
        if not row or ("#" in row[0] and _commented(row)):
            continue
        patient = row[at].strip() if at < len(row) else ""
        if not patient:
            if not any(row[i].strip() for i in columns if i < len(row)):
                continue  # a blank row
        elif patient[0] == "#":
            continue
        yield patient, number, row


def _commented(row: list[str]) -> bool:
    return bool(row) and row[0].lstrip().startswith("#")


SNIFF_CHARS = 1024  # csv.Sniffer is quadratic in its sample: 0.27 s for 4 KB, 1 s for 8 KB


def _dialect(header: str) -> type[csv.Dialect]:
    """The table's separator, from its header line in linear time: the one of comma,
    semicolon and tab that splits the header into the most known column names (then the most
    fields); only when none names a column, :class:`csv.Sniffer` on the header's first
    :data:`SNIFF_CHARS` characters (its cost grows with the square of its sample)."""
    best, score = None, (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            fields = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:
            continue
        named = sum(field.strip().lower() in COLUMNS for field in fields)
        if (named, len(fields)) > score and named:
            best, score = delimiter, (named, len(fields))
    if best is None:
        try:
            return csv.Sniffer().sniff(header[:SNIFF_CHARS], delimiters=",;\t")
        except csv.Error:
            return csv.excel
    return type("Found", (csv.excel,), {"delimiter": best})


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    """The csv module refuses a field over 128 KB with an error that names no row or patient:
    read every cell and let the record's own limits refuse the long one, naming its patient
    and field (``plausibility.MAX_TEXT``)."""
    saved = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(saved)


def _xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        import openpyxl
    except ImportError:
        raise InputError(str(path), "reading .xlsx needs openpyxl (pip install openpyxl)") from None
    check_workbook(path)  # sizes and cells counted before openpyxl reads anything
    try:
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        for book in (values, formulas):
            # rows are as wide as their cells, never as the sheet's declared dimension
            book.worksheets[0].reset_dimensions()
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InputError(str(path), f"not a readable .xlsx workbook: {exc}") from None
    pairs = zip(values.worksheets[0].iter_rows(values_only=True),
                formulas.worksheets[0].iter_rows(values_only=True), strict=False)
    rows = [(number, [UnsavedFormula(formula) if value is None and _is_formula(formula)
                      else value for value, formula in zip(row, written, strict=False)])
            for number, (row, written) in enumerate(pairs, 1) if row or written]
    values.close()
    formulas.close()
    return rows


class UnsavedFormula(str):
    """A cell holding a formula whose result the file does not store (a workbook written by a
    program, never opened and saved in a spreadsheet): its value is unknown, not empty."""

    def __new__(cls, formula: str) -> UnsavedFormula:
        return super().__new__(cls, f"(formula {formula[:40]} with no saved result)")


def _is_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith("=")


def _header(rows: Iterator[tuple[int, list[Any]]], source: str) -> dict[str, int]:
    """The header row (the first row, consumed): column name -> index."""
    first = next(rows, None)
    if first is None:
        raise InputError(source, "the table is empty (a header row is needed)")
    names = [str(c or "").strip().casefold() for c in first[1]]
    known = set(COLUMNS) | attribute_columns()
    header = {name: index for index, name in enumerate(names) if name in known}
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(missing)} (columns: "
                                 f"{', '.join(COLUMNS)})", field=missing[0])
    return header


@protocol_cache
def attribute_columns() -> frozenset[str]:
    """The columns the protocol's fact kinds declare as attributes (``ql:attributeKey``): a
    column each, read, not dropped as unknown (once per protocol)."""
    from ..protocol.terminology import terminology

    return frozenset(a.key.casefold() for kind in terminology().fact_kinds.values()
                     for a in kind.attributes)


def cell(row: list[Any], index: int) -> Any:
    """A row's cell (None past its end), stripped when text."""
    value = row[index] if index < len(row) else None
    if isinstance(value, UnsavedFormula):
        return value
    return value.strip() if isinstance(value, str) else value
