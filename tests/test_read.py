"""Reading records: one bad record never stops the others; errors name file, record, field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.inputs.models import record_json_schema

from .conftest import BASE


def test_list_file_with_one_bad_record(tmp_path: Path):
    path = tmp_path / "cohort.json"
    bad = {**BASE, "id": "BAD-1", "observations": [{"test": "AST", "value": 3}]}
    path.write_text(json.dumps([BASE, bad, {**BASE, "id": "OK-2"}]))
    result = screen([path], as_of="2026-11-20")
    assert [p.id for p in result.patients] == ["BASE-001", "OK-2"]
    (error,) = result.errors
    assert (error.source, error.record, error.field) == (f"{path}[1]", "BAD-1",
                                                         "observations[0].date")
    assert error.message == "required field is missing"


def test_misspelt_field_is_an_error_not_ignored(tmp_path: Path):
    result = screen([{**BASE, "birthdate": "1970-01-01"}], as_of="2026-11-20")
    (error,) = result.errors
    assert error.field == "birthdate" and "unknown field" in error.message


def test_non_object_record():
    result = screen([[1, 2]], as_of="2026-11-20")
    assert result.errors and result.patients == []


def test_published_schema_matches_model():
    schema = record_json_schema()
    shipped = json.loads((Path(__file__).parents[1] / "examples" /
                          "patient-record.schema.json").read_text())
    assert shipped == schema
    assert {"id", "observations", "diagnosis"} <= set(schema["properties"])


def test_records_read_raw_are_validated_where_they_are_screened(tmp_path):
    """read_paths(validate=False) only splits the JSON; parse() gives what validation gives."""
    from ql1706kg.inputs.read import read_paths
    from ql1706kg.inputs.records import RawRecord

    path = tmp_path / "two.json"
    good = {"id": "  P-1 ", "sex": "female"}
    path.write_text(json.dumps([good, {"id": "P-2", "sex": "dragon"}, 3]))
    raw = list(read_paths([path], validate=False))
    assert all(isinstance(r, RawRecord) for r in raw)
    assert [r.id for r in raw] == ["P-1", "P-2", None]
    assert [type(r.parse()).__name__ for r in raw] == [
        type(v).__name__ for v in read_paths([path])]
    assert [str(r.parse()) for r in raw[1:]] == [str(v) for v in list(read_paths([path]))[1:]]


@pytest.mark.parametrize("text", [
    '{"id": "P-1", "weight": 70.5, "labs": [1, -0.0, 1e-7, 12345678901234567]}',
    '"caf\\u00e9 \u00e9"',
    '{"x": NaN, "y": Infinity}',  # not JSON, but json.loads reads it
    '"\\ud800"',  # a lone surrogate
    '{"a": 1, "a": 2}',  # a repeated key: the last wins
    "[]", "null", " 1 ",
])
def test_json_loads_reads_what_json_reads(text):
    """The fast parser changes nothing a user sees: the same values as the standard library."""
    from ql1706kg.inputs.jsonio import json_loads

    expected, got = json.loads(text), json_loads(text)
    assert json.dumps(got) == json.dumps(expected) and type(got) is type(expected)


def test_json_loads_reads_integers_beyond_64_bits_as_floats():
    """The one difference from the standard library, as in JavaScript and most JSON tools: an
    integer past 64 bits (never a clinical value) is read as the nearest float."""
    from ql1706kg.inputs.jsonio import json_loads

    assert json_loads('{"v": 123456789012345678901234567890}') == {"v": 1.2345678901234568e29}
    assert json_loads('{"v": 9223372036854775807}') == {"v": 9223372036854775807}


@pytest.mark.parametrize("text", ['{"id": "P-1",}', "[1, 2", "", '{"a" 1}', "{'a': 1}"])
def test_json_loads_errors_are_the_standard_library_errors(text):
    """Malformed JSON gets the standard library's message (line, column), which users quote."""
    from ql1706kg.inputs.jsonio import json_loads

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        json_loads(text)
    assert (got.value.msg, got.value.lineno, got.value.colno) == (
        expected.value.msg, expected.value.lineno, expected.value.colno)


def test_a_protocol_folder_inside_a_searched_folder_is_skipped_and_named(tmp_path):
    """A protocol folder (ontology/ and shapes/) is not patient data: its files (an expected
    outcomes JSON, its own patients) are left out of a folder search, with a note naming it;
    naming its patients folder reads them."""
    from ql1706kg.inputs.read import read_paths

    base = BASE
    (tmp_path / "one.json").write_text(json.dumps(base))
    trial = tmp_path / "protocols" / "other"
    for part in ("ontology", "shapes", "patients"):
        (trial / part).mkdir(parents=True)
    (trial / "expected.json").write_text('{"not": "a record"}')
    (trial / "patients" / "p.json").write_text(json.dumps({**base, "id": "OTHER-1"}))
    notes: list = []
    found = list(read_paths([tmp_path], on_note=notes.append))
    assert [item.record.id for item in found] == [base["id"]]
    assert [(n.source, n.message.split(":")[0]) for n in notes] == [(str(trial), "skipped")]
    named = list(read_paths([trial / "patients"], on_note=notes.append))
    assert [item.record.id for item in named] == ["OTHER-1"]
