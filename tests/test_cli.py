"""The CLI through CliRunner (exact exit codes and streams) and once as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main

from .conftest import DATA_DIR, EXAMPLES

BASE_FILE = str(DATA_DIR / "base-eligible.json")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_screen_text_names_verdict_and_every_criterion():
    result = run("screen", BASE_FILE, "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.stderr
    assert "Verdict: ELIGIBLE" in result.stdout
    assert result.stdout.count("\n  met ") + result.stdout.count("\n  n/a ") == 28
    assert result.stderr == ""


def test_screen_json_has_the_documented_shape():
    result = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "json")
    data = json.loads(result.stdout)
    assert data["as_of"] == "2026-11-20" and data["protocol_version"]
    (patient,) = data["patients"]
    assert patient["verdict"] == "eligible" and patient["source"] == BASE_FILE
    assert len(patient["criteria"]) == 28
    assert {"id", "outcome", "explanation"} <= set(patient["criteria"][0])
    assert data["errors"] == []


def test_screen_turtle_parses():
    from rdflib import Graph

    result = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "turtle")
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert len(graph) > 100


def test_bad_file_is_reported_and_the_rest_screened(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "X1", "birth_date": "not a date"}')
    result = run("screen", BASE_FILE, str(bad), "--as-of", "2026-11-20")
    assert result.exit_code == 1
    assert "Patient BASE-001" in result.stdout
    assert f"error: {bad}, record X1, field birth_date:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_invalid_json_names_line_and_column(tmp_path: Path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"id": "X1",\n "sex": }')
    result = run("screen", str(bad), "--as-of", "2026-11-20")
    assert result.exit_code == 1
    assert f"error: {bad}: invalid JSON at line 2" in result.stderr


def test_missing_file_is_an_input_error():
    result = run("screen", "no/such/file.json")
    assert result.exit_code == 1
    assert "no/such/file.json: no such file or folder" in result.stderr


def test_usage_errors_exit_2():
    assert run("screen", BASE_FILE, "--as-of", "yesterday").exit_code == 2
    assert run("screen", BASE_FILE, "--format", "pdf").exit_code == 2
    assert run("screen").exit_code == 2
    assert run("screen", BASE_FILE, "--window-days", "-1").exit_code == 2


def test_output_file(tmp_path: Path):
    out = tmp_path / "result.json"
    result = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "json", "-o",
                 str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["patients"][0]["id"] == "BASE-001"


def test_criteria_lists_all_28_in_protocol_order():
    lines = run("criteria").stdout.splitlines()
    assert len(lines) == 28
    assert lines[0].startswith("IC1 ") and lines[-1].startswith("IC11 ")


def test_lift_writes_turtle_with_derived_values(tmp_path: Path):
    out = tmp_path / "p.ttl"
    assert run("lift", BASE_FILE, "--as-of", "2026-11-20", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "ql:ratioToULN" in text and "ql:screeningAST" in text


def test_screen_folder_of_examples():
    result = run("screen", str(EXAMPLES), "--as-of", "2026-11-20", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["patients"]) >= 10


def test_installed_script_as_subprocess(tmp_path: Path):
    """The console script runs from any directory (package data, not the source tree)."""
    script = shutil.which("ql1706kg") or str(Path(sys.executable).parent / "ql1706kg")
    proc = subprocess.run([script, "screen", BASE_FILE, "--as-of", "2026-11-20", "--format",
                           "json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["patients"][0]["verdict"] == "eligible"


@pytest.mark.parametrize("fmt", ["ttl", "jsonld", "xml", "nt"])
def test_export_command_writes_a_parseable_ontology(tmp_path: Path, fmt):
    from rdflib import Graph

    out = tmp_path / f"ontology.{fmt}"
    assert run("export", "--what", "all", "--format", fmt, "-o", str(out)).exit_code == 0
    graph = Graph().parse(out, format={"ttl": "turtle", "jsonld": "json-ld"}.get(fmt, fmt))
    assert len(graph) > 1000


def test_publish_command_writes_both_registry_records():
    trial = json.loads(run("publish", "--as", "medical-trial").stdout)
    study = json.loads(run("publish", "--as", "research-study", "--status",
                           "closed-to-accrual").stdout)
    assert trial["@type"] == "MedicalTrial"
    assert study["resourceType"] == "ResearchStudy" and study["status"] == "closed-to-accrual"


def test_jsonld_verdicts_carry_evidence_limits_and_versions_for_met_criteria_too():
    from rdflib import Graph, Literal

    from ql1706kg.protocol.namespaces import PROV, QL

    out = run("screen", str(EXAMPLES / "eligible-liver-metastasis-ast-3.5x-uln.json"),
              "--as-of", "2026-11-20", "--format", "jsonld")
    assert out.exit_code == 0 and '"@context"' in out.stdout
    graph = Graph().parse(data=out.stdout, format="json-ld")
    (result,) = graph.subjects(QL.criterion, QL["IC9.2-AST"])
    assert (result, QL.outcome, QL.Met) in graph
    assert (result, QL.limitApplied, Literal("AST ≤5 ×ULN because liver metastasis on record")) \
        in graph
    (evidence,) = [e for e in graph.objects(result, QL.evidence) if "observation" in str(e)]
    assert graph.value(evidence, QL.ratioToULN).toPython() == 3.5
    (assessment,) = graph.subjects(QL.hasResult, result)
    assert graph.value(assessment, QL.ontologyVersion) is not None
    assert graph.value(assessment, PROV.wasAssociatedWith) is not None


def test_shacl_report_is_a_w3c_validation_report(tmp_path: Path):
    from rdflib import Graph

    from ql1706kg.protocol.namespaces import SH

    report = tmp_path / "report.ttl"
    result = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "json",
                 "--shacl-report", str(report))
    assert result.exit_code == 0
    graph = Graph().parse(report)
    assert next(graph.subjects(None, SH.ValidationReport), None) is not None
