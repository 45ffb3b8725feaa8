"""Every FHIR resource the project writes uses only what FHIR R4 defines (issue 22).

Checked against R4's own element definitions (tests/fhir_structure.py): the ResearchStudy and
its enrolment Group of ``publish --as research-study``, the bundles ``inputs/fhir_write`` makes of
records (``generate --format fhir``, the FHIR twins of the tests) in both reference styles, and
the bundled FHIR examples. The check itself is tested on broken resources, so it can fail.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.fhir_write import to_bundle
from ql1706kg.inputs.synthetic import patients
from tests.fhir_structure import problems

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "fhir"


def test_the_published_research_study_uses_only_r4_elements():
    result = CliRunner().invoke(main, ["publish", "--as", "research-study"])
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout)
    assert study["resourceType"] == "ResearchStudy" and study["contained"]
    assert problems(study) == []


@pytest.mark.parametrize("style", ["relative", "uuid"])
def test_written_bundles_use_only_r4_elements(style):
    for record in patients(60, seed=22):
        bundle = to_bundle(record, style)
        assert problems(bundle) == [], record["id"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_bundled_fhir_examples_use_only_r4_elements(path):
    assert problems(json.loads(path.read_text(encoding="utf-8"))) == []


BROKEN = [
    (lambda r: r.update(bogus=1), "Consent.bogus: no such element"),
    (lambda r: r.pop("status"), "status is required"),
    (lambda r: r.update(status="signed"), "'signed' is not in the required value set"),
    (lambda r: r.update(dateTime="2026-13-01"), "is not a valid R4 dateTime"),
    (lambda r: r.update(scope=[r["scope"]]), "a single value is expected"),
    (lambda r: r.update(category=r["category"][0]), "an array is expected"),
    (lambda r: r.update(sourceBogus="x"), "sourceBogus: no such element"),
]


@pytest.mark.parametrize(("damage", "said"), BROKEN, ids=[s for _, s in BROKEN])
def test_the_check_finds_what_r4_does_not_define(damage, said):
    bundle = json.loads((EXAMPLES / "eligible-leiomyosarcoma.json").read_text(encoding="utf-8"))
    consent = next(e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Consent")
    assert problems(copy.deepcopy(bundle)) == []
    damage(consent)
    assert any(said in line for line in problems(bundle)), problems(bundle)
