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
