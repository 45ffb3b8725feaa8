"""The quick look at a resource's compact JSON (conformance._null_element) answers exactly as
the walk it stands in front of: the first null and whether any string could be JSON text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ql1706kg.inputs.fhir import conformance


def walked(data: object, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, bool]:
    """The walk alone (the compact JSON refused, as orjson refuses what it cannot write)."""
    with monkeypatch.context() as patch:
        def refuse(_data: object) -> bytes:
            raise TypeError("walk")

        patch.setattr(conformance.orjson, "dumps", refuse)
        return conformance._null_element(data)


CASES = [
    {"resourceType": "Observation", "status": "final", "code": {"text": "ANC"}},
    {"resourceType": "Observation", "status": None},
    {"resourceType": "Patient", "name": [{"given": ["A", None]}]},
    {"resourceType": "Patient", "name": [{"given": ["A", None], "_given": [None, {}]}]},
    {"resourceType": "Patient", "subject": "{\"reference\": \"Patient/1\"}"},
    {"resourceType": "Patient", "note": [" [1, 2]"]},
    {"resourceType": "Patient", "note": ["\t\n{"]},
    {"resourceType": "Patient", "note": ["\xa0{", "\u2003["]},
    {"resourceType": "Patient", "text": {"div": "<div title=\" {x}\">null</div>"}},
    {"resourceType": "Patient", "{": "key only", "[": ["a"]},
    {"resourceType": "Patient", "id": "\ud800"},  # orjson will not write a lone surrogate
    {"resourceType": "Patient", "value": 2**70},  # nor an integer beyond 64 bits
    {"resourceType": "Patient", "value": float("nan")},
]


@pytest.mark.parametrize("data", CASES)
def test_the_quick_look_answers_as_the_walk(data, monkeypatch):
    assert conformance._null_element(data) == walked(data, monkeypatch)


_TEXT = st.text(alphabet=st.sampled_from([" ", "{", "[", "\t", "\n", "\xa0", "\u2003", "\x1c",
                                          "a", '"', "\\", "n", "u", "l", "}", "]", "é"]),
                max_size=4)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-9, 9) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(_JSON)
def test_the_quick_look_answers_as_the_walk_on_any_json(value):
    data = {"resourceType": "Basic", "x": value}
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert conformance._null_element(data) == walked(data, monkeypatch)
