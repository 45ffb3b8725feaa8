"""An exclusion criterion is met when its excluding condition is absent: every output says so,
driven by the criterion's ql:ExclusionCriterion type (one SARC028 patient screened, its study
published); an inclusion criterion says nothing of the kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import RDF, Graph, Namespace

from ql1706kg.cli import main

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "protocols" / "sarc028"
PATIENT = FOLDER / "patients" / "ineligible-prior-nivolumab.json"
READING = "(exclusion: met = this condition absent)"
QL = Namespace("https://w3id.org/ql1706kg#")


@pytest.fixture(scope="module")
def exclusions() -> set[str]:
    """The folder's exclusion criteria, by their type in its ontology."""
    graph = Graph()
    for path in (FOLDER / "ontology").glob("*.ttl"):
        graph.parse(path)
    return {str(graph.value(c, QL.criterionId))
            for c in graph.subjects(RDF.type, QL.ExclusionCriterion)}


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    runner = CliRunner()
    args = ["--protocol", str(FOLDER)]
    found = {}
    for fmt in ("json", "text"):
        result = runner.invoke(main, ["screen", str(PATIENT), *args, "--as-of", "2027-03-15",
                                      "--format", fmt])
        assert result.exit_code in (0, 1, 3), result.output
        found[fmt] = result.stdout
    published = runner.invoke(main, ["publish", *args, "--as", "research-study"])
    assert published.exit_code == 0, published.output
    found["publish"] = published.stdout
    return found


def _criteria(text: str) -> dict[str, str]:
    return {c["id"]: c["explanation"] for c in json.loads(text)["patients"][0]["criteria"]}


def test_every_exclusion_explanation_says_met_means_absent(outputs, exclusions):
    explained = _criteria(outputs["json"])
    assert exclusions & set(explained)  # the folder's exclusion criteria were screened
    for cid, text in explained.items():
        assert (READING in text) == (cid in exclusions), (cid, text)
    assert READING in outputs["text"]


def test_the_published_study_says_it_too(outputs, exclusions):
    group = json.loads(outputs["publish"])["contained"][0]
    lines = [c["code"]["text"] for c in group["characteristic"]]
    assert lines and group["name"].endswith(f"{len(lines)} atomic criteria")  # not "inclusion"
    for line in lines:
        assert line.endswith(READING) == (line.split(":", 1)[0] in exclusions), line
