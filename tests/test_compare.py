"""``ql1706kg compare``: an amended ANC limit changes exactly the patients whose screening ANC
lies between the two limits (read here from the records, not from the tool)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.protocol.resources import use_protocol

from .conftest import AS_OF, DATA_DIR, EXAMPLES

INPUTS = (EXAMPLES, DATA_DIR / "compare")
HAEMATOLOGY = "shapes/07-labs-haematology.ttl"


@pytest.fixture(scope="session")
def anc_protocols(tmp_path_factory) -> dict[str, Path]:
    """The exported protocol with the ANC limit 1.5 changed to 2.0, and to 1.0."""
    root = tmp_path_factory.mktemp("anc")
    assert CliRunner().invoke(main, ["protocol", "export", str(root / "bundled")]).exit_code == 0
    use_protocol(None)
    folders = {}
    for limit in ("2.0", "1.0"):
        folder = folders[limit] = root / f"anc-{limit}"
        shutil.copytree(root / "bundled", folder)
        shapes = folder / HAEMATOLOGY
        text = shapes.read_text(encoding="utf-8")
        assert text.count("sh:minInclusive 1.5 ;") == 1
        shapes.write_text(text.replace("sh:minInclusive 1.5 ;", f"sh:minInclusive {limit} ;"),
                          encoding="utf-8")
    return folders


def screening_anc() -> dict[str, float]:
    """Each input patient's screening ANC in 10*9/L, from the records (one ANC each, all in
    the screening window of AS_OF)."""
    values = {}
    for folder in INPUTS:
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text())
            for rec in data if isinstance(data, list) else [data]:
                for obs in rec.get("observations", []):
                    if obs["test"] == "ANC":
                        values[rec["id"]] = obs["value"] * {"10*9/L": 1, "/uL": 1e-3}[obs["unit"]]
    return values


def compare(*args) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main, ["compare", *map(str, INPUTS), "--as-of", AS_OF,
                                       "--format", "json", "-j", "1", *map(str, args)])
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


@pytest.mark.parametrize(("limit", "low", "high", "before", "after"), [
    ("2.0", 1.5, 2.0, "met", "not_met"),
    ("1.0", 1.0, 1.5, "not_met", "met"),
])
def test_an_amended_anc_limit_changes_exactly_the_patients_between_the_limits(
        anc_protocols, limit, low, high, before, after):
    expected = {pid for pid, anc in screening_anc().items() if low <= anc < high}
    assert expected  # tests/data/compare holds one patient between each pair of limits
    code, result, _ = compare("--protocol", anc_protocols[limit])
    assert code == 0
    assert {c["id"] for c in result["changed"]} == expected
    for change in result["changed"]:
        assert change["criteria"] == [{"id": "IC9.1-ANC", "before": before, "after": after}]
    counts = result["counts"]
    moved = len(expected)
    if after == "not_met":  # eligible patients that become ineligible
        assert counts["after"]["ineligible"] == counts["before"]["ineligible"] + moved
    else:
        assert counts["after"]["eligible"] == counts["before"]["eligible"] + moved
    assert result["before"]["protocol_hash"] != result["after"]["protocol_hash"]


def test_against_compares_two_amendments(anc_protocols):
    expected = {pid for pid, anc in screening_anc().items() if 1.0 <= anc < 2.0}
    code, result, _ = compare("--protocol", anc_protocols["2.0"], "--against",
                              anc_protocols["1.0"])
    assert code == 0
    assert {c["id"] for c in result["changed"]} == expected


def test_text_output_lists_both_outcomes_and_the_counts(anc_protocols):
    result = CliRunner().invoke(main, ["compare", *map(str, INPUTS), "--as-of", AS_OF,
                                       "-j", "1", "--protocol", str(anc_protocols["2.0"])])
    assert result.exit_code == 0
    assert "Patient QL-LMS-101" in result.stdout
    assert "IC9.1-ANC   met -> not_met" in result.stdout
    assert "ineligible" in result.stdout and "1 patient(s) change:" in result.stdout


def test_a_bad_input_is_reported_and_the_rest_compared(anc_protocols, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "X1", "birth_date": "not a date"}')
    result = CliRunner().invoke(main, ["compare", str(DATA_DIR / "compare"), str(bad),
                                       "--as-of", AS_OF, "--format", "json", "-j", "1",
                                       "--protocol", str(anc_protocols["2.0"])])
    assert result.exit_code == 1
    assert "bad.json" in result.stderr
    assert [c["id"] for c in json.loads(result.stdout)["changed"]] == ["QL-LMS-101"]


def test_a_refused_protocol_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["compare", str(DATA_DIR / "compare"), "--as-of", AS_OF,
                                       "--protocol", str(tmp_path)])
    assert result.exit_code == 2 and "'--protocol'" in result.stderr


def test_the_report_given_two_protocols_has_the_comparison(anc_protocols, tmp_path):
    result = CliRunner().invoke(main, ["report", str(DATA_DIR / "compare"), "--as-of", AS_OF,
                                       "-j", "1", "-o", str(tmp_path / "report"),
                                       "--protocol", str(anc_protocols["2.0"]),
                                       "--against", str(anc_protocols["1.0"])])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "report" / "index.html").read_text()
    assert "<h2>Protocol comparison</h2>" in index
    assert "QL-LMS-101" in index.split("Protocol comparison")[1]
    assert "QL-LMS-102" in index.split("Protocol comparison")[1]
    assert index.count("IC9.1-ANC: met &rarr; not_met") == 2  # ANC 1.2 and 1.8: in [1.0, 2.0)
