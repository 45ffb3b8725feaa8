"""An ``.xlsx`` workbook measured before it is read: a small file must not become gigabytes.

An ``.xlsx`` file is a zip archive of XML parts. Two ways a file of a few kilobytes explodes:
its parts inflate to gigabytes (a zip bomb), or a sheet declares (``<dimension>``) or uses
cells far apart (``A1`` and ``XFD1048576``), and a reader that pads every row to the sheet's
width and fills the rows between makes billions of empty cells (a 1.6 KB file took 2.8 GB).
So, before openpyxl opens it:

- the archive's entries are counted, and their declared sizes (which a zip reader never reads
  beyond: more data fails the archive's check) are summed: at most :data:`MAX_ENTRIES`
  entries, :data:`MAX_PART_BYTES` a part and :data:`MAX_TOTAL_BYTES` in all;
- each worksheet is streamed (no tree kept) and its rows and cells counted: at most
  :data:`MAX_ROWS` rows and :data:`MAX_COLUMNS` columns by their references, at most
  :data:`MAX_SKIPPED_ROWS` rows skipped between rows (a reader makes each one), and at most
  :data:`MAX_CELLS` cells once every row is as wide as its last cell (what the reader makes).

The reader then reads rows only as wide as their cells (openpyxl's declared dimension is
reset). A workbook over a limit is refused with its file and the limit named.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

from ..errors import InputError

MAX_ENTRIES = 10_000
MAX_PART_BYTES = 256 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_ROWS = 1_048_576  # Excel's own limit
MAX_COLUMNS = 1_024  # a long-format table has 12 columns; Excel's limit (16,384) is a bomb
MAX_CELLS = 20_000_000
MAX_SKIPPED_ROWS = 100_000  # rows between rows (a reader makes each one)
_REFERENCE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def check_workbook(path: Path) -> None:
    """Refuse (:class:`InputError`) a workbook over a limit of the module docstring."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise _refused(path, f"holds {len(entries)} parts (at most {MAX_ENTRIES})")
            total = 0
            for entry in entries:
                if entry.file_size > MAX_PART_BYTES:
                    raise _refused(path, f"part {entry.filename} unpacks to "
                                         f"{entry.file_size:,} bytes (at most "
                                         f"{MAX_PART_BYTES:,})")
                total += entry.file_size
            if total > MAX_TOTAL_BYTES:
                raise _refused(path, f"unpacks to {total:,} bytes (at most {MAX_TOTAL_BYTES:,})")
            for entry in entries:
                if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(
                        ".xml"):
                    with archive.open(entry) as part:
                        _count_cells(path, entry.filename, part)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            NotImplementedError) as exc:
        raise InputError(str(path), f"not a readable .xlsx workbook: {exc}") from None


def _count_cells(path: Path, name: str, part) -> None:
    rows = cells = skipped = 0
    row = widest = 0
    holder = None  # sheetData: its finished rows are dropped as the stream goes
    try:
        for event, element in iterparse(part, events=("start", "end")):
            tag = element.tag
            if event == "start" and tag == f"{_MAIN}sheetData":
                holder = element
            elif event == "start" and tag == f"{_MAIN}row":
                number = element.get("r")
                row = int(number) if number and number.isdigit() else row + 1
                widest = 0
            elif event == "start" and tag == f"{_MAIN}c":
                widest = max(widest + 1, _column(element.get("r"), widest + 1))
                if widest > MAX_COLUMNS:
                    raise _refused(path, f"{name} has a cell beyond column {MAX_COLUMNS:,}")
            elif event == "end" and tag == f"{_MAIN}row":
                if row > MAX_ROWS:
                    raise _refused(path, f"{name} has a row beyond {MAX_ROWS:,}")
                skipped += row - rows - 1 if row > rows else 0
                if skipped > MAX_SKIPPED_ROWS:
                    raise _refused(path, f"{name} skips more than {MAX_SKIPPED_ROWS:,} rows "
                                         "between its rows")
                cells += widest
                rows = max(rows, row)
                if cells > MAX_CELLS:
                    raise _refused(path, f"{name} would make more than {MAX_CELLS:,} cells "
                                         "(its rows as wide as their last cell)")
                if holder is not None:
                    holder.clear()
    except ParseError as exc:
        raise InputError(str(path), f"not a readable .xlsx workbook: {name}: {exc}") from None


def _column(reference: str | None, default: int) -> int:
    if not reference:
        return default
    match = _REFERENCE.match(reference)
    if match is None:
        return default
    number = 0
    for letter in match.group(1).upper():
        number = number * 26 + ord(letter) - 64
    return number


def _refused(path: Path, why: str) -> InputError:
    return InputError(str(path), f"a workbook too large to read: it {why}")
