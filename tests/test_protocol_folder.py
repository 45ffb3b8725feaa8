"""Protocol folders: export, --protocol, the refusals, the hash in every verdict, --resume."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal

from ql1706kg.cli import main
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.resources import protocol, protocol_hash, use_protocol

from .conftest import AS_OF, DATA_DIR, EXAMPLES, ROOT

HAEMATOLOGY = "shapes/07-labs-haematology.ttl"
ANC_LIMIT = "qls:IC9.1-ANC-Limit"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def amended(exported: Path, tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the exported protocol with one edit (``old`` must occur exactly once)."""
    folder = tmp_path / "amended"
    shutil.copytree(exported, folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    (folder / file).write_text(text.replace(old, new), encoding="utf-8")
    return folder


def anc_limit(exported: Path, tmp_path: Path, limit: str) -> Path:
    return amended(exported, tmp_path, HAEMATOLOGY, "sh:minInclusive 1.5 ;",
                   f"sh:minInclusive {limit} ;")


def test_export_writes_every_protocol_file_and_a_manifest(exported: Path):
    for part, source in (("ontology", ROOT / "ontology"), ("shapes", ROOT / "shapes"),
                         ("queries", ROOT / "ql1706kg" / "queries")):
        names = sorted(p.name for p in source.iterdir() if p.suffix in (".ttl", ".rq"))
        assert sorted(p.name for p in (exported / part).iterdir()) == names
        for name in names:
            assert (exported / part / name).read_bytes() == (source / name).read_bytes()
    manifest = json.loads((exported / "MANIFEST.json").read_text())
    assert manifest["content_hash"] == protocol_hash()
    assert manifest["protocol_version"]


def test_export_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run("protocol", "export", tmp_path)
    assert result.exit_code == 2
    assert "is not empty" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "99-stale.ttl").write_text("# from an earlier export\n")
    assert run("protocol", "export", tmp_path, "--force").exit_code == 0
    assert not (tmp_path / "shapes" / "99-stale.ttl").exists()
    assert (tmp_path / HAEMATOLOGY).is_file() and (tmp_path / "notes.txt").is_file()


def test_the_exported_protocol_screens_byte_for_byte_as_the_bundled_one(exported: Path):
    bundled = run("screen", EXAMPLES, "--as-of", AS_OF, "--format", "json", "-j", "1")
    folder = run("screen", EXAMPLES, "--as-of", AS_OF, "--format", "json", "-j", "1",
                 "--protocol", exported)
    assert bundled.exit_code == folder.exit_code == 0
    assert bundled.stdout == folder.stdout
    assert json.loads(folder.stdout)["protocol_hash"] == protocol_hash()


def _anc_outcomes(output: str) -> dict[str, str]:
    return {p["id"]: next(c["outcome"] for c in p["criteria"] if c["id"] == "IC9.1-ANC")
            for p in json.loads(output)["patients"]}


def _screening_anc(folder: Path) -> dict[str, float]:
    """Each example's ANC in 10*9/L, read from the records themselves."""
    values = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        for rec in data if isinstance(data, list) else [data]:
            for obs in rec.get("observations", []):
                if obs["test"] == "ANC":
                    scale = {"10*9/L": 1, "/uL": 1e-3}[obs["unit"]]
                    values[rec["id"]] = obs["value"] * scale
    return values


def test_an_amended_limit_moves_outcomes_in_workers_and_from_fhir(exported, tmp_path):
    folder = anc_limit(exported, tmp_path, "3.0")
    anc = _screening_anc(EXAMPLES)
    result = run("screen", ROOT / "examples" / "fhir", "--as-of", AS_OF, "--format", "json",
                 "-j", "2", "--quiet", "--protocol", folder)
    assert result.exit_code == 0, result.stderr
    outcomes = _anc_outcomes(result.stdout)
    assert outcomes and set(outcomes) <= set(anc)
    for pid, outcome in outcomes.items():
        assert outcome == ("met" if anc[pid] >= 3.0 else "not_met"), pid
    assert "not_met" in outcomes.values() and "met" in outcomes.values()


def test_a_changed_limit_is_reported_against_the_quote(exported, tmp_path):
    folder = anc_limit(exported, tmp_path, "2.0")
    result = run("criteria", "--protocol", folder)
    assert result.exit_code == 0
    assert re.search(r"note: IC9\.1-ANC: the protocol text quotes 1\.5 .* limit is now 2\.0",
                     result.stderr)
    assert "note:" not in run("criteria", "--protocol", exported).stderr


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    (HAEMATOLOGY, "sh:minInclusive 1.5 ;", "sh:minInclusive 1.5 ,",
     r"07-labs-haematology\.ttl: line \d+: not valid Turtle"),
    (HAEMATOLOGY, "sh:minInclusive 1.5 ;", "sh:minInclusive 1.5 ; sh:minCount \"one\" ;",
     r"SHACL-SHACL meta-validation: .*07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-Limit"),
    (HAEMATOLOGY, "sh:minInclusive 1.5 ;", "sh:minInclusive \"1.5 x10^9/L\" ;",
     r"07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-Limit: the limit sh:minInclusive "
     r"\"1\.5 x10\^9/L\" is not a number"),
    ("shapes/01-consent-demographics.ttl", "sh:minInclusive 18 ;", "sh:minInclusive 80 ;",
     r"01-consent-demographics\.ttl: shape qls:IC2-AgeRange: the minimum sh:minInclusive 80 "
     r"is above the maximum sh:maxInclusive 75"),
    (HAEMATOLOGY, "qls:IC9.1-PLT-Recorded a sh:PropertyShape",
     "qls:IC9.1-ANC-Limit2 a sh:PropertyShape ; sh:targetClass ql:Patient ; "
     "ql:criterion ql:IC9.1-ANC ; ql:onViolation ql:NotMet ; "
     "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minInclusive 2.0 .\n"
     "qls:IC9.1-PLT-Recorded a sh:PropertyShape",
     r"07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-Limit2? sets sh:minInclusive .* the "
     r"protocol contradicts itself"),
    (HAEMATOLOGY, "sh:targetClass ql:Patient ; ql:criterion ql:IC9.1-ANC ; "
                  "ql:onViolation ql:NotMet",
     "sh:targetClass ql:Patient ; ql:criterion ql:IC9.1-NEUTROPHILS ; "
     "ql:onViolation ql:NotMet",
     r"07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-Limit names criterion "
     r"ql:IC9\.1-NEUTROPHILS, which the ontology lacks"),
    ("ontology/ql1706kg.ttl", "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion ;",
     "ql:IC9.1-ANC a owl:NamedIndividual ;",
     r"07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-\w+ names criterion ql:IC9\.1-ANC, "
     r"which the ontology lacks"),
    ("ontology/ql1706kg.ttl", "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion ;",
     "ql:IC9.1-ANCX a ql:AtomicCriterion ; ql:criterionId \"IC9.1-ANCX\" .\n"
     "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion ;",
     r"shapes: no shape names criterion IC9\.1-ANCX"),
    (HAEMATOLOGY, "ql:criterion ql:IC9.1-ANC ; ql:onViolation ql:Unknown",
     "ql:criterion ql:IC9.1-PLT ; ql:onViolation ql:Unknown",
     r"shapes: no shape makes IC9\.1-ANC unknown when its data is missing"),
    (HAEMATOLOGY, "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minCount 1 ;",
     "sh:path ( ql:screeningANC ) ; sh:minCount 1 ;",
     r"07-labs-haematology\.ttl: shape qls:IC9\.1-ANC-Limit sets a limit on a path that no "
     r"shape of IC9\.1-ANC requires .* a patient without that value would meet the limit"),
    (HAEMATOLOGY, 'sh:name "ANC ≥{sh:minInclusive} ×10⁹/L" ;',
     'sh:name "ANC ≥{sh:maxInclusive} ×10⁹/L" ;',
     r"07-labs-haematology\.ttl: qls:IC9\.1-ANC-Limit: '\{sh:maxInclusive\}' names no literal"),
    ("ontology/ql1706kg.ttl", "ql:parameterValue 28 ;", "ql:parameterValue -5 ;",
     r"ql1706kg\.ttl: rule parameter ql:ScreeningWindowDays: its value -5 is outside the range "
     r"the package allows \(0 to 3650\)"),
    ("ontology/ql1706kg.ttl", "ql:parameterValue 72 ;", 'ql:parameterValue "72 x" ;',
     r"rule parameter ql:CockcroftGaultCreatinineFactor: its value \"72 x\" is not a number"),
    ("ontology/ql1706kg.ttl", "ql:policy ql:MostRecentInWindow ;",
     "ql:policy ql:OldestInWindow ;",
     r"rule parameter ql:ScreeningResultSelection: its policy ql:OldestInWindow is not one "
     r"this software implements \(allowed: ql:MostRecentInWindow\)"),
    ("ontology/ql1706kg.ttl", "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion ;",
     "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion, ql:KnownConditionCriterion ;",
     r"IC9\.1-ANC is a ql:KnownConditionCriterion but not a ql:ExclusionCriterion"),
    ("ontology/ql1706kg.ttl", "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion ;",
     "ql:IC9.1-ANC a owl:NamedIndividual, ql:AtomicCriterion, ql:CohortLevelCriterion ;",
     r"IC9\.1-ANC is a ql:CohortLevelCriterion: every shape of it must say ql:NotApplicable"),
], ids=["turtle", "meta-shacl", "not-a-number", "min-above-max", "disagree",
        "unknown-criterion", "loses-a-criterion", "criterion-without-shape",
        "missing-data-not-unknown", "limit-path-not-required", "template-names-nothing",
        "parameter-out-of-range", "parameter-not-a-number", "undeclared-policy",
        "known-on-an-inclusion", "cohort-level-that-decides"])
def test_a_protocol_folder_that_cannot_be_used_is_refused(exported, tmp_path, file, old, new,
                                                          expected):
    folder = amended(exported, tmp_path, file, old, new)
    result = run("screen", EXAMPLES / "ineligible-age-77.json", "--as-of", AS_OF,
                 "--protocol", folder)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert re.search(expected, " ".join(result.stderr.split())), result.stderr


def test_a_folder_that_is_not_a_protocol_is_refused(tmp_path):
    result = run("criteria", "--protocol", tmp_path)
    assert result.exit_code == 2 and "holds no *.ttl file" in result.stderr


def test_every_verdict_carries_the_protocol_version_and_hash(exported, tmp_path):
    folder = anc_limit(exported, tmp_path, "2.0")
    result = run("screen", EXAMPLES / "ineligible-age-77.json", "--as-of", AS_OF,
                 "--format", "turtle", "--protocol", folder)
    assert result.exit_code == 0
    graph = Graph().parse(data=result.stdout, format="turtle")
    use_protocol(None)
    bundled_hash = protocol_hash()
    with protocol(folder):
        amended_hash = protocol_hash()
    assert amended_hash != bundled_hash
    assessments = list(graph.subjects(QL.protocolHash, None))
    assert assessments
    for assessment in assessments:
        assert graph.value(assessment, QL.protocolHash) == Literal(amended_hash)
        assert graph.value(assessment, QL.protocolVersion) is not None


def test_resume_refuses_an_output_screened_under_another_protocol(exported, tmp_path):
    output = tmp_path / "out.ndjson"
    first = run("screen", EXAMPLES / "ineligible-age-77.json", "--as-of", AS_OF,
                "--format", "ndjson", "-o", output)
    assert first.exit_code == 0
    line = json.loads(output.read_text().splitlines()[0])
    assert line["protocol_hash"] == protocol_hash()
    before = output.read_bytes()
    folder = anc_limit(exported, tmp_path, "2.0")
    again = run("screen", EXAMPLES / "ineligible-age-77.json", "--as-of", AS_OF,
                "--format", "ndjson", "-o", output, "--resume", "--protocol", folder)
    assert again.exit_code == 2
    assert "cannot resume" in again.stderr and "the protocol changed" in again.stderr
    assert output.read_bytes() == before
    same = run("screen", EXAMPLES / "ineligible-age-77.json", "--as-of", AS_OF,
               "--format", "ndjson", "-o", output, "--resume", "--protocol", exported)
    assert same.exit_code == 0  # the exported copy is the same protocol


def test_switching_protocols_in_one_process_forgets_the_tables(exported, tmp_path):
    from ql1706kg import screen

    folder = anc_limit(exported, tmp_path, "3.7")
    record = DATA_DIR / "compare" / "leiomyosarcoma-anc-1.8.json"
    assert screen([record], as_of=AS_OF).patients[0].verdict == "eligible"
    with protocol(folder):
        amended_result = screen([ROOT / "examples" / "patients" / "eligible-leiomyosarcoma.json"],
                                as_of=AS_OF)
    bundled = screen([ROOT / "examples" / "patients" / "eligible-leiomyosarcoma.json"],
                     as_of=AS_OF)
    assert amended_result.patients[0].verdict == "ineligible"  # ANC 3.6 < 3.7
    assert bundled.patients[0].verdict == "eligible"


def test_the_python_api_checks_a_folder_as_the_cli_does(exported, tmp_path):
    from ql1706kg import ProtocolRefused, checked_protocol

    folder = tmp_path / "unguarded"
    shutil.copytree(exported, folder)
    path = folder / HAEMATOLOGY
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("ql:criterion ql:IC9.1-ANC ; ql:onViolation ql:Unknown",
                                 "ql:criterion ql:IC9.1-PLT ; ql:onViolation ql:Unknown"),
                    encoding="utf-8")
    with (pytest.raises(ProtocolRefused, match=r"no shape makes IC9\.1-ANC unknown"),
          checked_protocol(folder)):
        pass
    with checked_protocol(exported) as notes:
        assert notes == []
