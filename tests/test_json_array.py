"""Reading a JSON list item by item (read.ArrayReader): the same items and the same errors,
at the same line and column, as json.loads on the whole text, whatever the chunk size."""

from __future__ import annotations

import io
import json
import random

import pytest

from ql1706kg import screen
from ql1706kg.inputs.jsonio import ArrayReader
from ql1706kg.inputs.read import read_paths


def outcome(read) -> tuple[list, tuple | None]:
    """The items read before any error, and the error as (message, line, column)."""
    items: list = []
    try:
        for item in read():
            items.append(item)
    except json.JSONDecodeError as exc:
        return items, (exc.msg, exc.lineno, exc.colno)
    return items, None


def expected(text: str) -> tuple[list, tuple | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, (exc.msg, exc.lineno, exc.colno)


def check(text: str, chunk: int) -> None:
    items, error = outcome(lambda: ArrayReader(io.StringIO(text), chunk))
    whole, whole_error = expected(text)
    assert error == whole_error, (text, chunk)
    if whole_error is None:
        assert items == whole
    else:
        assert items == [] or json.dumps(items)[:-1] in json.dumps(json.loads(
            text[:text.index("[")] + "[" + ",".join(json.dumps(i) for i in items) + "]"))


@pytest.mark.parametrize("text", [
    "[]", " [ ] ", "[1]", "[1, 2, 3]", '[{"a": [1, {"b": "]"}]}, "x,y"]', "[12345678901234567]",
    "[1.5e10, -0.0, true, false, null]", '["\\u00e9\\n", "caf\u00e9"]', "[NaN, Infinity]",
    "[\n  {\"id\": 1},\n  {\"id\": 2}\n]\n",
    # malformed
    "[", "[1", "[1,", "[1,]", "[1 2]", "[1] x", "[1]]", '[{"a": 1,}]', '[{"a" 1}]',
    '[\n  {"id": 1},\n  {"id": 2\n]\n', '["unterminated]', "[tru]", "[01]", "[1, @]",
    '[\n  {"id": 1},\n  {"id": 2},\n  {"id": 3}, {"oops"}\n]',
])
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 1 << 20])
def test_items_and_errors_match_json_loads(text, chunk):
    check(text, chunk)


def test_random_lists_and_corruptions_match_json_loads():
    """Seeded random lists, pretty or compact, each also with one character deleted,
    inserted or changed, read in random chunk sizes."""
    rng = random.Random(1706)

    def value(depth: int = 0):
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.randint(-10**6, 10**6)
        if kind == 1:
            return rng.choice([1.25, -3e-7, 0.0, 1e21])
        if kind == 2:
            return rng.choice(["", "a,b", "]", "é\n", '"q"', "x" * 40])
        if kind == 3:
            return rng.choice([True, False, None])
        if kind in (4, 5):
            return {f"k{i}": value(depth + 1) for i in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(300):
        items = [value() for _ in range(rng.randrange(6))]
        text = json.dumps(items, indent=rng.choice([None, 2]))
        texts = [text]
        if len(text) > 2:
            at = rng.randrange(1, len(text))
            texts += [text[:at] + text[at + 1:], text[:at] + rng.choice(',]}[{:"x 1') + text[at:],
                      text[:at] + rng.choice(',]}"x') + text[at + 1:]]
        for candidate in texts:
            if candidate.lstrip().startswith("["):
                check(candidate, rng.choice([1, 2, 7, 50, 4096]))


def test_a_large_list_is_read_with_bounded_text(tmp_path):
    """Only about two chunks of the file are ever held, however long the list."""
    records = [{"id": f"P-{i}", "sex": "female", "note": "x" * 50} for i in range(2000)]
    reader = ArrayReader(io.StringIO(json.dumps(records, indent=2)), chunk=4096)
    held = 0
    for got, want in zip(reader, records, strict=True):
        assert got == want
        held = max(held, len(reader.text))
    assert held <= 3 * 4096


def test_a_list_file_is_screened_record_by_record_and_a_late_syntax_error_is_reported(
        tmp_path):
    """The records before a syntax error are screened; the error names the line and column."""
    from .conftest import BASE

    good = json.dumps([{**BASE, "id": "P-1"}, {**BASE, "id": "P-2"}], indent=2)
    path = tmp_path / "cut.json"
    path.write_text(good[:-2] + ",\n  {\"id\": \"P-3\",\n")
    result = screen([path], as_of="2026-11-20")
    assert [p.id for p in result.patients] == ["P-1", "P-2"]
    (error,) = result.errors
    assert error.source == str(path)
    assert error.message.startswith("invalid JSON at line ")
    _, (msg, line, column) = outcome(lambda: iter([json.loads(path.read_text())]))
    assert error.message == f"invalid JSON at line {line}, column {column}: {msg}"


def test_labels_and_positions_are_those_of_the_list(tmp_path):
    path = tmp_path / "three.json"
    path.write_text(json.dumps([{"id": "A"}, 3, {"id": "C"}]))
    raw = list(read_paths([path], validate=False))
    assert [r.source for r in raw] == [f"{path}[0]", f"{path}[1]", f"{path}[2]"]
    assert [r.id for r in raw] == ["A", None, "C"]


def test_a_list_that_is_not_utf8_is_reported(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"id": "P-1", "note": "caf\xe9"}]')
    (error,) = read_paths([path])
    assert error.source == str(path) and error.detail == "not a UTF-8 text file"


@pytest.mark.parametrize("text", ["\ufeff[]", "  \n\n [1]", "1"])
def test_what_is_not_a_list_is_read_whole_as_before(tmp_path, text):
    """A byte-order mark is accepted (editors on Windows write one), as for CSV; blank lines
    before '[' are fine."""
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    items = list(read_paths([path], validate=False))
    if text.startswith("\ufeff"):
        assert items == []  # an empty list: no record, no error
    else:
        assert len(items) == 1
