"""Where each patient's rows lie in a plain CSV long table: runs of lines as byte ranges.

Why: the ``--omop`` reading process indexes the site supplement (1.4 million rows at 100,000
persons) before it hands out its first person, and the workers wait meanwhile. Parsing
every row with the csv module, pickling each person's rows and storing them took 3.8 s of
that wait. A *plain* file needs none of it: with no quote character, no NUL and no carriage
return but in CRLF line ends, each line is one row and its cells are the line split at the
separator, exactly as the csv module reads it. Then only where each person's lines are is
needed: a block of the file at a time, its lines, each line's patient cell and the lines
where a new run starts found by C loops (``str.split``, ``str.partition``, ``itertools``),
Python's own work one step a run of lines of one patient. The
rows are read from their byte range and split where the person is assembled
(:func:`plain_rows`).

A file that is not plain, anywhere, raises :class:`NotPlain`; its reader then reads it with
the csv module (:func:`.table_files.table_body`), so that a quoted cell or an undecodable
byte is read, or refused, as it always was.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import accumulate, compress, islice, pairwise
from operator import ne
from pathlib import Path
from typing import NamedTuple

from .table_files import _commented, _dialect, _header, kept_rows

BLOCK = 1 << 22  # bytes read at a time (4 MB: a block's lines are held as lists, ~200 KB)
_SEPARATORS = (",", ";", "\t")  # the separators _dialect chooses without csv.Sniffer
# a dialect's settings that must be the csv module's defaults for a line to split as it reads
_EXCEL = ("quotechar", "doublequote", "skipinitialspace", "quoting", "escapechar", "strict")


class NotPlain(Exception):
    """The file has a quote, a NUL, a lone carriage return or text that is not UTF-8 (read
    it with the csv module)."""


class Run(NamedTuple):
    """Consecutive rows of one patient: where they lie in the file and the first's number."""

    patient: str
    start: int  # byte offset of its first line
    length: int  # bytes, up to and with its last line's end
    first: int  # the first row's number (the csv module's, from 1: the header's is 1 or more)


class PlainTable(NamedTuple):
    header: dict[str, int]  # column -> index, as table_files reads it
    delimiter: str
    body: int  # byte offset of the first row after the header
    number: int  # the header row's number


def plain_table(path: Path) -> PlainTable:
    """The header of a plain file and where its body starts (:class:`NotPlain` if the part
    read is not plain; an :class:`~ql1706kg.errors.InputError` for a header without the
    required columns, as :func:`.table_files.table_body` gives it)."""
    with path.open("rb") as handle:
        lines: list[tuple[int, str]] = []  # (bytes, text) of each line up to the header's
        for raw in handle:
            text = _plain_text(raw, "utf-8-sig" if not lines else "utf-8")
            lines.append((len(raw), text))
            if text.strip() and not text.lstrip().startswith("#"):
                break  # the line the separator is chosen from
    found = next((t for _, t in lines if t.strip() and not t.lstrip().startswith("#")), "")
    dialect = _dialect(found.rstrip("\r\n"))
    delimiter = dialect.delimiter
    if delimiter not in _SEPARATORS or any(
            getattr(dialect, name, None) != getattr(csv.excel, name, None) for name in _EXCEL):
        raise NotPlain  # a dialect csv.Sniffer found: read by the csv module
    offset = 0
    for number, (size, text) in enumerate(lines, 1):
        offset += size
        row = _row(text, delimiter)
        if not _commented(row):
            return PlainTable(_header(iter([(number, row)]), str(path)), delimiter, offset,
                              number)
    raise NotPlain  # (no header line among those read: the csv module says why)


def plain_runs(path: Path, table: PlainTable) -> Iterator[Run]:
    """The runs of the body's rows, in the file's order, blank and comment rows left out
    (as :func:`.table_files.table_body` leaves them out); :class:`NotPlain` at the first
    block that is not plain. A run read in two blocks is one run."""
    runs = _runs(path, table)
    last = next(runs, None)
    if last is None:
        return
    for run in runs:
        if run.patient == last.patient and run.start == last.start + last.length:
            last = last._replace(length=last.length + run.length)
        else:
            yield last
            last = run
    yield last


def _runs(path: Path, table: PlainTable) -> Iterator[Run]:
    """:func:`plain_runs`, block by block (a run that spans two blocks comes as two)."""
    offset, number = table.body, table.number + 1
    with path.open("rb") as handle:
        handle.seek(offset)
        rest = b""
        while block := handle.read(BLOCK):
            data = rest + block
            cut = data.rfind(b"\n") + 1  # whole lines (a longer one waits for its end)
            data, rest = data[:cut], data[cut:]
            if data:
                yield from _block_runs(data, offset, number, table.header, table.delimiter)
                offset, number = offset + len(data), number + data.count(b"\n")
        if rest:  # the last line, without a line end
            yield from _block_runs(rest, offset, number, table.header, table.delimiter)


def _block_runs(data: bytes, offset: int, number: int, header: dict[str, int],
                delimiter: str) -> Iterator[Run]:
    at = header["patient"]
    text = _plain_text(data, "utf-8")
    lines = text.split("\n")
    # bytes before each line's end: line i spans [_start(i), _start(i + 1)) of the block
    ends = list(accumulate(map(len, lines if data.isascii() else data.split(b"\n"))))
    if data.endswith(b"\n"):
        lines.pop()  # (after the last line end: no line)
    if at == 0:  # each line's patient cell ('' where it has none)
        cells = [line.partition(delimiter)[0] for line in lines]
    else:
        cells = [parts[at] if len(parts := line.split(delimiter, at + 1)) > at else ""
                 for line in lines]
    size = len(data)
    if at != 0 and "#" in text:  # a comment row is told by its first cell: line by line
        yield from _line_runs(lines, 0, offset, number, ends, size, header, delimiter)
        return
    # the lines where a run starts (its cell differs from the line's before), found in C
    starts = [0, *compress(range(1, len(cells)), map(ne, islice(cells, 1, None), cells)),
              len(cells)]
    for line, after in pairwise(starts):
        patient = cells[line].strip()
        if not patient:  # blank rows are left out, a row without a patient is kept
            yield from _line_runs(lines[line:after], line, offset, number, ends, size,
                                  header, delimiter)
        elif patient[0] != "#":  # (at 0, the patient cell is the first: '#' is a comment)
            start = _start(ends, line, size)
            yield Run(patient, offset + start, _start(ends, after, size) - start,
                      number + line)


def _start(ends: list[int], line: int, size: int) -> int:
    """Where line ``line`` of a block starts (``size``: past its last line)."""
    return min(ends[line - 1] + line, size) if line else 0


def _line_runs(lines: list[str], first: int, offset: int, number: int, ends: list[int],
               size: int, header: dict[str, int], delimiter: str) -> Iterator[Run]:
    """The lines' rows one by one, kept as the csv path keeps them (:func:`kept_rows`): each
    a run of its own (rare: rows without a patient, blocks with a comment row)."""
    rows = ((number + index, _row(text, delimiter)) for index, text in enumerate(lines, first))
    for patient, row_number, _ in kept_rows(rows, header):
        index = row_number - number
        start = _start(ends, index, size)
        yield Run(patient, offset + start, _start(ends, index + 1, size) - start, row_number)


def plain_rows(data: bytes, first: int, delimiter: str) -> list[tuple[int, list[str]]]:
    """A run's rows as the csv module reads them: (row number, cells)."""
    lines = data.decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [(number, _row(text, delimiter)) for number, text in enumerate(lines, first)]


def _row(text: str, delimiter: str) -> list[str]:
    line = text.rstrip("\n").removesuffix("\r")
    return line.split(delimiter) if line else []


def _plain_text(data: bytes, encoding: str) -> str:
    if b'"' in data or b"\x00" in data or (
            b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        raise NotPlain
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise NotPlain from None
