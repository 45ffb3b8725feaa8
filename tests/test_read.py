"""Reading records: one bad record never stops the others; errors name file, record, field."""

from __future__ import annotations

import json
from pathlib import Path

from ql1706kg import screen
from ql1706kg.models import record_json_schema

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
    from ql1706kg.read import RawRecord, read_paths

    path = tmp_path / "two.json"
    good = {"id": "  P-1 ", "sex": "female"}
    path.write_text(json.dumps([good, {"id": "P-2", "sex": "dragon"}, 3]))
    raw = list(read_paths([path], validate=False))
    assert all(isinstance(r, RawRecord) for r in raw)
    assert [r.id for r in raw] == ["P-1", "P-2", None]
    assert [type(r.parse()).__name__ for r in raw] == [
        type(v).__name__ for v in read_paths([path])]
    assert [str(r.parse()) for r in raw[1:]] == [str(v) for v in list(read_paths([path]))[1:]]
