"""The README a newcomer reads and the documentation site (issue 23): a README of one screen
whose links land and whose test command is the one CI runs; the site's generated pages made
from the project (criteria, named queries, every command's help), so they cannot go stale.
The site itself is built with ``mkdocs build --strict`` by .ci/run."""

from __future__ import annotations

import importlib.util
import re

import pytest

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_one_screen_of_what_a_newcomer_needs():
    assert len(README.splitlines()) <= 200
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    setup, tests = blocks[0].strip(), blocks[1].strip()
    assert ". .venv/bin/activate && ql1706kg screen examples/patients" in setup  # no bare
    assert "'.[report]'" in setup  # the main job's extra                      # ql1706kg
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.removeprefix("python3 -m venv .venv && ") in ci
    # mypy and the site are CI steps of their own, after it: the test command stays under
    # 3 minutes on 2 cores
    assert "mypy" not in tests and "mkdocs" not in tests
    assert ".venv/bin/mypy" in ci and "mkdocs build --strict" in ci
    assert ci.index("python -m pytest") < ci.index(".venv/bin/mypy")


def test_every_relative_link_of_the_readme_lands():
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README):
        if not re.match(r"[a-z]+://", target):
            assert (ROOT / target).exists(), target


def test_every_page_of_the_site_exists():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = re.findall(r":\s+([\w/-]+\.md)\s*$", nav, re.MULTILINE)
    assert len(pages) > 20
    for page in pages:
        assert (ROOT / "docs" / page).is_file() or page == "changelog.md", page


@pytest.fixture(scope="module")
def hooks():
    return _hooks()


def test_the_criteria_page_is_rendered_from_the_ontology_and_shapes(hooks):
    from ql1706kg.protocol.terminology import terminology

    table = hooks.criteria_table().splitlines()
    criteria = terminology().criteria
    assert len(table) == 2 + len(criteria) == 30
    row = next(line for line in table if line.startswith("| `IC9.1-ANC` "))
    assert "Neutrophil count" in row and "ANC ≥1.5 ×10⁹/L" in row and row.endswith("| yes |")


def test_the_named_queries_and_every_commands_help_are_generated(hooks):
    from ql1706kg.semweb.query import named_queries

    queries = hooks.named_queries()
    assert queries.count("```sparql") == len(named_queries()) == 5
    reference = hooks.cli_reference()
    for command in ("screen", "query", "serve", "push", "export", "docs", "publish", "report",
                    "criteria", "lift", "schema", "generate", "protocol export", "compare"):
        assert f"### `ql1706kg {command}`" in reference, command
    assert reference.count("Examples:") >= 14 and "-h, --help" in reference


def test_links_out_of_the_site_become_repository_paths(hooks):
    class Page:
        class file:
            abs_src_path = str(ROOT / "docs" / "inputs" / "fhir.md")

    text = "[the code](../../ql1706kg/api.py) and [a page](../fhir.md)"
    assert hooks.on_page_markdown(text, Page, None, None) == (
        "the code (`ql1706kg/api.py` in the repository) and [a page](../fhir.md)")
