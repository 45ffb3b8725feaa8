"""Issue 20's classes in the project's own JSON record, one fixture each (tests/data/issue20):
bounds, partial dates, courses, resolved metastases, pregnancies, same-day results, facts set
aside, late facts, national ICD-10 codes, SNOMED morphology, unit spellings. The FHIR reader's
twins of these files (branch i20a) must give the same outcomes.
"""

from __future__ import annotations

import json
import re

import pytest

from ql1706kg import screen

from .conftest import AS_OF, DATA_DIR

FIXTURES = DATA_DIR / "issue20"


def _expected() -> dict[str, dict[str, str]]:
    """The expected outcomes, read from the fixtures' README table (one source of truth)."""
    rows = {}
    for line in (FIXTURES / "README.md").read_text().splitlines():
        found = re.match(r"^\| `([^`]+)\.json` \| .* \| (.+) \|$", line)
        if found:
            rows[found.group(1)] = dict(pair.split(" ") for pair in found.group(2).split(", "))
    return rows


EXPECTED = _expected()


def test_every_fixture_has_its_expectation():
    files = {p.stem for p in FIXTURES.glob("*.json")}
    assert files and files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_outcomes(name):
    record = json.loads((FIXTURES / f"{name}.json").read_text())
    result = screen([record], as_of=AS_OF)
    assert result.errors == []
    (patient,) = result.patients
    got = {c.id: c.outcome for c in patient.criteria}
    for criterion, outcome in EXPECTED[name].items():
        assert got[criterion] == outcome, (name, criterion, next(
            c.explanation for c in patient.criteria if c.id == criterion))
    if any(o == "unknown" for o in EXPECTED[name].values()):
        assert patient.verdict != "eligible"


def test_the_directory_screens_as_a_batch():
    result = screen([FIXTURES], as_of=AS_OF)
    assert result.errors == [] and len(result.patients) == len(EXPECTED)


@pytest.mark.parametrize(("name", "words"), [
    ("bound-anc-below-limit-cannot-decide", ("<2", "bound", "ANC ≥1.5")),
    ("course-end-month-may-be-in-window", ("2026-10", "12 to 42 days")),
    ("liver-metastasis-resolved-month-straddles", ("resolved",)),
    ("set-aside-observation", ("bundle.json#Observation/cr-2", "modifierExtension",
                               "unknown modifier extension")),
    ("result-month-may-be-outside-window", ("2026-10", "outside")),
])
def test_an_unknown_says_what_could_not_decide_it(name, words):
    record = json.loads((FIXTURES / f"{name}.json").read_text())
    (patient,) = screen([record], as_of=AS_OF).patients
    texts = " ".join(c.explanation for c in patient.criteria if c.outcome == "unknown")
    for word in words:
        assert word in texts, (word, texts[:600])
