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
    assert result.stderr == ("summary: 1 patient(s) screened: 1 eligible, 0 ineligible, "
                             "0 incomplete\n")


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


# Issue 11: outputs never land on inputs, options stay in range, exit codes as documented.


def inputs_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(BASE_FILE, folder / "x.json")
    return folder


@pytest.mark.parametrize("spell", ["same", "dotted", "absolute", "symlink", "hardlink",
                                   "inside-folder"])
def test_an_output_that_is_an_input_is_refused_and_the_input_untouched(tmp_path, spell,
                                                                       monkeypatch):
    folder = inputs_folder(tmp_path)
    source = folder / "x.json"
    before = source.read_bytes()
    monkeypatch.chdir(folder)
    given, target = {
        "same": ("x.json", "x.json"),
        "dotted": ("./x.json", "x.json"),
        "absolute": ("x.json", str(source)),
        "symlink": ("link.json", "x.json"),
        "hardlink": ("x.json", "hard.json"),
        "inside-folder": (str(folder), "x.json"),
    }[spell]
    if spell == "symlink":
        (folder / "link.json").symlink_to(source)
    if spell == "hardlink":
        (folder / "hard.json").hardlink_to(source)
    for option in ("-o", "--shacl-report"):
        result = run("screen", given, "--as-of", "2026-11-20", "--format", "json", option,
                     target)
        assert result.exit_code == 2, result.output
        assert "is one of the inputs" in result.stderr and option in result.stderr
        assert source.read_bytes() == before
    result = run("lift", given, "-o", target)
    assert result.exit_code == 2 and source.read_bytes() == before


def test_a_report_folder_that_is_an_input_is_refused(tmp_path):
    folder = inputs_folder(tmp_path)
    result = run("report", str(folder), "--as-of", "2026-11-20", "-o", str(folder))
    assert result.exit_code == 2 and "one of the inputs" in result.stderr
    result = run("report", str(folder), "--as-of", "2026-11-20", "-o", str(folder / "x.json"))
    assert result.exit_code == 2  # click's own check: a file is not a folder
    assert sorted(p.name for p in folder.iterdir()) == ["x.json"]


def test_two_outputs_on_one_file_are_refused(tmp_path):
    out = str(tmp_path / "same.ttl")
    result = run("screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "turtle", "-o", out,
                 "--shacl-report", out)
    assert result.exit_code == 2 and "also given to" in result.stderr


@pytest.mark.parametrize(("args", "named"), [
    (["--window-days", "100000000"], "'--window-days'"),
    (["--window-days", "3651"], "'--window-days'"),
    (["--as-of", "0001-01-05"], "'--as-of'"),
    (["--as-of", "9999-12-31"], "'--as-of'"),
    (["--as-of", "1899-12-31"], "'--as-of'"),
])
def test_dates_and_windows_out_of_range_are_usage_errors(args, named):
    for command in ("screen", "lift", "report"):
        extra = ["-o", "unused-folder"] if command == "report" else []
        result = run(command, BASE_FILE, *args, *extra)
        assert result.exit_code == 2, result.output
        assert f"Invalid value for {named}" in result.stderr
        assert "Traceback" not in result.output


def test_the_ends_of_the_ranges_are_accepted():
    for args in (["--as-of", "1900-01-01", "--window-days", "3650"],
                 ["--as-of", "2100-12-31", "--window-days", "0"]):
        result = run("screen", BASE_FILE, *args, "--format", "json")
        # 1900: the record's birth date is after the as-of date, an input error, no more
        assert result.exit_code in (0, 1) and "Traceback" not in result.output
        assert json.loads(result.stdout)["window_days"] == int(args[-1])
    assert "(0 to 3650)" in " ".join(run("screen", "--help").stdout.split())


def test_an_unwritable_output_is_exit_3_in_one_line_for_every_command(tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "out"
    for args in (["screen", BASE_FILE, "--as-of", "2026-11-20", "-o", str(missing)],
                 ["screen", BASE_FILE, "--as-of", "2026-11-20", "--format", "ndjson", "-o",
                  str(missing)],
                 ["lift", BASE_FILE, "-o", str(missing)],
                 ["export", "-o", str(missing)],
                 ["publish", "--as", "medical-trial", "-o", str(missing)]):
        result = run(*args)
        assert result.exit_code == 3, (args, result.output)
        assert result.stderr == f"Error: cannot write {missing}: No such file or directory\n"


def test_a_closed_pipe_is_an_output_failure_without_a_traceback():
    script = Path(sys.executable).with_name("ql1706kg")
    root = Path(__file__).resolve().parents[1]
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    run = subprocess.run([str(script), "screen", str(root / "examples" / "patients"),
                          "--as-of", "2026-11-20", "--quiet"], stdout=reader.stdin,
                         stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    reader.stdin.close()
    reader.wait(timeout=30)
    assert run.returncode in (0, 3), run.stderr  # 0 if everything fitted in the pipe
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


@pytest.mark.parametrize(("as_of", "window"), [("0001-01-05", 28), ("2026-11-20", 10**8),
                                               ("2026-11-20", -1)])
def test_the_api_refuses_assessments_out_of_range(as_of, window):
    from ql1706kg.api import assessment_for

    with pytest.raises(ValueError):
        assessment_for(as_of, window)


def test_an_internal_error_is_one_visible_line_with_exit_70(monkeypatch):
    import ql1706kg.cli.inspect as inspect_module

    def broken():
        raise RuntimeError("bad\nVerdict: ELIGIBLE")

    monkeypatch.setattr("ql1706kg.protocol.terminology.terminology", broken)
    result = run("criteria")
    assert result.exit_code == 70 and inspect_module is not None
    assert "internal error: RuntimeError: bad\\nVerdict" in result.stderr
    assert "\nVerdict" not in result.stderr
