"""A plain CSV long table indexed by where each patient's rows lie (ql1706kg/inputs/table_runs.py)
gives the rows the csv module reads (table_files.table_body), row numbers and cells alike,
whatever the separator, the patient column's place, line ends, blank and comment rows, short
rows, text beyond ASCII and the block boundaries; a file that is not plain is refused as such
(NotPlain) and read by the csv module; the site supplement reads either kind the same way, and
a plain file changed after it was indexed makes its person an input error, never other rows."""

from __future__ import annotations

import os
from itertools import groupby
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ql1706kg.errors import InputError
from ql1706kg.inputs import table_runs
from ql1706kg.inputs.omop.supplement import SupplementIndex, supplement_record
from ql1706kg.inputs.table_files import table_body
from ql1706kg.inputs.table_runs import NotPlain, plain_rows, plain_runs, plain_table

COLUMNS = ["patient", "element", "value", "unit", "date"]
# what a cell may hold: separators of the other kinds, '#', spaces, text past ASCII, the
# characters str.splitlines would split at but the csv module does not
CELL = st.text(alphabet=st.sampled_from(list("12ab #;,\t é\u2028\x85\x0c")), max_size=4)


def csv_rows(path: Path) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    """What the csv module reads: runs of rows of one patient, in the file's order."""
    _, body = table_body(path)
    return [(patient, [(n, cells) for _, n, cells in run])
            for patient, run in groupby(body, lambda r: r[0])]


def indexed_rows(path: Path) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    table = plain_table(path)
    data = path.read_bytes()
    return [(run.patient, plain_rows(data[run.start:run.start + run.length], run.first,
                                     table.delimiter)) for run in plain_runs(path, table)]


@st.composite
def plain_files(draw) -> bytes:
    separator = draw(st.sampled_from([",", ";", "\t"]))
    names = draw(st.permutations(COLUMNS))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    cell = CELL.filter(lambda c: separator not in c)
    patient = st.sampled_from(["1", "2", " 2", "10", "", " ", "#3", "é"])
    lines = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["row", "row", "row", "short", "blank", "comment"]))
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", separator * len(names), " "])))
        elif kind == "comment":
            lines.append("# a note" + separator + draw(cell))
        else:
            cells = [draw(patient) if name == "patient" else draw(cell) for name in names]
            lines.append(separator.join(cells[:draw(st.integers(1, len(cells)))]
                                        if kind == "short" else cells))
    head = draw(st.sampled_from(["", "# exported\n", "\ufeff"]))
    text = head + separator.join(names) + end + end.join(lines)
    return (text + (end if draw(st.booleans()) else "")).encode("utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=plain_files(), block=st.sampled_from([1, 7, 64, 1 << 22]))
def test_a_plain_file_gives_the_rows_the_csv_module_reads(tmp_path, monkeypatch, data, block):
    monkeypatch.setattr(table_runs, "BLOCK", block)
    path = tmp_path / "supplement.csv"
    path.write_bytes(data)
    expected = csv_rows(path)
    found = indexed_rows(path)
    # (one patient's rows may be one run or several; in order, they are the same rows)
    assert _joined(found) == _joined(expected)
    assert plain_table(path).header == table_body(path)[0]


def _joined(runs: list) -> list:
    return [(patient, [row for _, rows in group for row in rows])
            for patient, group in groupby(runs, lambda r: r[0])]


@pytest.mark.parametrize("text", [
    'patient,element,value\n1,icf_signed,"2026-11-10"\n',  # a quote: the csv module's
    "patient,element,value\n1,icf_signed,2026-11-10\r2,icf_signed,2026-11-10\n",  # lone CR
    "patient,element,value\n1,icf_signed,\x00\n",
    "patient,element,value\n1,icf_signed,\xff\n",  # (written as latin-1 below: not UTF-8)
    "",
])
def test_a_file_that_is_not_plain_is_refused_as_such(tmp_path, text):
    path = tmp_path / "supplement.csv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(NotPlain):
        list(plain_runs(path, plain_table(path)))


def test_a_header_without_the_required_columns_is_the_csv_paths_error(tmp_path):
    path = tmp_path / "supplement.csv"
    path.write_text("person,element,value\n1,icf_signed,2026-11-10\n")
    with pytest.raises(InputError) as plain:
        plain_table(path)
    with pytest.raises(InputError) as read:
        table_body(path)
    assert str(plain.value) == str(read.value)


SUPPLEMENT = ("patient,element,value\n1,icf_signed,2026-11-10\n2,icf_signed,2026-11-11\n"
              "1,able_to_comply,yes\n")


@pytest.mark.parametrize("quoted", [False, True])
def test_the_supplement_reads_a_plain_file_and_any_other_alike(tmp_path, quoted):
    path = tmp_path / "supplement.csv"
    path.write_text(SUPPLEMENT.replace("yes", '"yes"') if quoted else SUPPLEMENT)
    index = SupplementIndex(path)
    try:
        assert (index.delimiter is None) is quoted
        runs = index.rows(["1", "2", "3"])
        assert sorted(runs) == ["1", "2"] and len(runs["1"]) == 2
        record = supplement_record(path, "1", runs["1"], index.header, index.delimiter)
        assert record == {"id": "1", "observations": [],
                          "consent": {"icf_signed": "2026-11-10", "able_to_comply": True}}
    finally:
        index.close()


@pytest.mark.parametrize("change", ["rewritten", "grown"])
def test_a_plain_file_changed_after_indexing_is_an_error_of_its_persons(tmp_path, change):
    path = tmp_path / "supplement.csv"
    path.write_text(SUPPLEMENT)
    index = SupplementIndex(path)
    try:
        if change == "rewritten":  # same size and time: only the rows tell
            seen = os.stat(path)
            path.write_text(SUPPLEMENT.replace("1,icf", "3,icf"))
            os.utime(path, ns=(seen.st_atime_ns, seen.st_mtime_ns))
        else:
            with path.open("a") as handle:
                handle.write("3,icf_signed,2026-11-12\n")
        runs = index.rows(["1", "2"])
        found = supplement_record(path, "1", runs["1"], index.header, index.delimiter)
        assert isinstance(found, InputError) and "changed on disk" in str(found)
        assert found.record == "1"
    finally:
        index.close()
