"""Table inputs that are bombs: an .xlsx of a few kilobytes that would unpack to gigabytes or
make billions of empty cells, and a CSV whose separator the standard sniffer takes quadratic
time to guess, are refused (or read) quickly, in little memory, with the file named."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from ql1706kg.errors import InputError
from ql1706kg.inputs import workbook
from ql1706kg.inputs.tables import read_table

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HEADER = ('<row r="1"><c r="A1" t="inlineStr"><is><t>patient</t></is></c>'
          '<c r="B1" t="inlineStr"><is><t>element</t></is></c>'
          '<c r="C1" t="inlineStr"><is><t>value</t></is></c></row>')
FACT = ('<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>P1</t></is></c>'
        '<c r="B{r}" t="inlineStr"><is><t>sex</t></is></c>'
        '<c r="C{r}" t="inlineStr"><is><t>male</t></is></c></row>')


def xlsx(path: Path, rows: str, dimension: str = "", extra: dict | None = None) -> Path:
    """A minimal workbook (the parts openpyxl needs) with one sheet of ``rows``."""
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship '
                       f'Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/>'
                       '</Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{_MAIN}" xmlns:r="{_DOC}">'
                           '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets>'
                           '</workbook>',
        "xl/_rels/workbook.xml.rels":
            f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{_MAIN}">'
                                    f'{dimension}<sheetData>{rows}</sheetData></worksheet>',
        **(extra or {})}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def read(path: Path) -> tuple[list, float]:
    began = time.monotonic()
    found = list(read_table(path))
    return found, time.monotonic() - began


def test_a_declared_dimension_is_not_what_rows_are_padded_to(tmp_path):
    path = xlsx(tmp_path / "dimension.xlsx", HEADER + FACT.format(r=2),
                '<dimension ref="A1:XFD1048576"/>')
    assert path.stat().st_size < 2000
    found, took = read(path)
    assert took < 5
    assert [type(item).__name__ for item in found] == ["SourcedRecord"]


@pytest.mark.parametrize(("rows", "expected"), [
    (HEADER + '<row r="2"><c r="XFD2" t="inlineStr"><is><t>x</t></is></c></row>',
     r"has a cell beyond column 1,024"),
    (HEADER + FACT.format(r=1_048_000), r"skips more than 100,000 rows"),
    (HEADER + FACT.format(r=2_000_000), r"has a row beyond 1,048,576"),
], ids=["far-column", "far-row", "past-excel"])
def test_cells_far_apart_are_refused_before_reading(tmp_path, rows, expected):
    path = xlsx(tmp_path / "far.xlsx", rows)
    found, took = read(path)
    assert took < 2
    (error,) = found
    assert isinstance(error, InputError) and error.source == str(path)
    assert "a workbook too large to read" in str(error)
    assert re.search(expected, str(error))


def test_a_part_that_unpacks_to_gigabytes_is_refused_by_its_declared_size(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(workbook, "MAX_PART_BYTES", 1 << 20)
    path = xlsx(tmp_path / "zip-bomb.xlsx", HEADER + FACT.format(r=2),
                extra={"xl/sharedStrings.xml": "0" * (8 << 20)})
    assert path.stat().st_size < 100_000  # 8 MB of zeros deflate to a few kilobytes
    (error,) = read(path)[0]
    assert "xl/sharedStrings.xml unpacks to 8,388,608 bytes" in str(error)


def test_too_many_cells_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(workbook, "MAX_CELLS", 10)
    path = xlsx(tmp_path / "wide.xlsx", HEADER + "".join(FACT.format(r=r) for r in
                                                         range(2, 10)))
    (error,) = read(path)[0]
    assert "more than 10 cells" in str(error)


@pytest.mark.parametrize("line", [',"' * 50_000, "a" * 200_000, '"a",' * 40_000],
                         ids=["quotes", "one-field", "quoted-fields"])
def test_a_long_csv_line_is_read_in_linear_time(tmp_path, line):
    path = tmp_path / "long.csv"
    path.write_text(line + "\n", encoding="utf-8")
    found, took = read(path)
    assert took < 2
    assert all(isinstance(item, InputError) for item in found)


def test_the_separator_comes_from_the_header(tmp_path):
    path = tmp_path / "semicolons.csv"
    path.write_text("patient;element;value\nP1;sex;male\nP1;birth_date;1970-01-01\n",
                    encoding="utf-8")
    (record,) = read(path)[0]
    assert record.record.sex == "male"
