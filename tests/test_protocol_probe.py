"""The behavioural check of a protocol folder, class by class: whatever the text does, a
folder under which a patient with missing, unreadable or out-of-range data meets a criterion
is refused, naming the criterion and its shapes; amendments that keep the property are used.
Also: meta-constraints live in the package, policies are an enumerated set, shapes may not
form a cycle, and a folder's ids and texts reach no output raw."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.pipeline.protocol_check import ProtocolRefused, check_protocol

from .conftest import AS_OF, EXAMPLES

H = "shapes/07-labs-haematology.ttl"
ONTOLOGY = "ontology/ql1706kg.ttl"
ANC_RECORDED = "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minCount 1 ;"
ANC_LIMIT = "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minInclusive 1.5 ;"
PROBE = r"criterion IC9\.1-ANC \(shapes qls:IC9\.1-ANC-Limit, qls:IC9\.1-ANC-Recorded\): a " \
        r"synthetic patient \(PROBE-\d\) with "


def edited(exported: Path, tmp_path: Path, *edits: tuple[str, str, str]) -> Path:
    folder = tmp_path / "folder"
    shutil.copytree(exported, folder)
    for file, old, new in edits:
        text = (folder / file).read_text(encoding="utf-8")
        assert text.count(old) == 1, old
        (folder / file).write_text(text.replace(old, new), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("edit", "expected"), [
    ((H, ANC_RECORDED, "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minCount 0 ;"),
     PROBE + r"its facts missing \(ql:screeningANC / ql:normalisedValue\) is met under this "
             r"protocol"),
    ((H, "qls:IC9.1-ANC-Recorded a sh:PropertyShape ;",
      "qls:IC9.1-ANC-Recorded a sh:PropertyShape ; sh:deactivated true ;"), PROBE),
    ((H, "qls:IC9.1-ANC-Recorded a sh:PropertyShape ;\n    sh:targetClass ql:Patient ;",
      "qls:IC9.1-ANC-Recorded a sh:PropertyShape ;\n    sh:targetClass ql:Condition ;"), PROBE),
    ((H, "qls:IC9.1-ANC-Recorded a sh:PropertyShape ;\n    sh:targetClass ql:Patient ;",
      "qls:IC9.1-ANC-Recorded a sh:PropertyShape ;\n    sh:targetNode ql:Condition ;"), PROBE),
    ((H, ANC_RECORDED, "sh:not [ sh:not [ sh:path ( ql:screeningANC ql:normalisedValue ) ; "
                       "sh:minCount 1 ] ] ; sh:or ( [ sh:path ql:sex ; sh:minCount 1 ] "
                       "[ sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minCount 1 ] ) ;"
                       " sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:minCount 0 ;"),
     PROBE),
    ((H, ANC_LIMIT, "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:or ( "
                    "[ sh:minInclusive 1.5 ] [ sh:hasValue 0.7 ] ) ;"),
     PROBE + r"ql:screeningANC / ql:normalisedValue = 0\.7, below its minimum 1\.5 .* is met"),
    ((H, ANC_LIMIT, "sh:path ( ql:screeningANC ql:normalisedValue ) ; sh:xone ( "
                    "[ sh:minInclusive 1.5 ] [ sh:maxInclusive 0.5 ] ) ;"),
     PROBE + r"ql:screeningANC / ql:normalisedValue = [-0-9.]+, below its minimum 1\.5"),
], ids=["minCount-0", "deactivated", "target-nobody", "target-node", "logic-hatch",
        "hasValue-hatch", "xone-hatch"])
def test_a_folder_that_lets_missing_or_out_of_range_data_through_is_refused(
        exported, tmp_path, edit, expected):
    folder = edited(exported, tmp_path, edit)
    with pytest.raises(ProtocolRefused) as refused:
        check_protocol(folder)
    assert re.search(expected, " ".join(str(refused.value).split())), str(refused.value)


def test_the_cli_refuses_it_with_exit_2_and_one_message(exported, tmp_path):
    folder = edited(exported, tmp_path, (H, ANC_RECORDED, ANC_RECORDED.replace("1 ;", "0 ;")))
    result = CliRunner().invoke(main, ["screen", str(EXAMPLES / "ineligible-age-77.json"),
                                       "--as-of", AS_OF, "--protocol", str(folder)])
    assert result.exit_code == 2 and result.stdout == "" and "Traceback" not in result.output
    assert re.search(PROBE, " ".join(result.stderr.split()))


@pytest.mark.parametrize("edit", [
    (H, "sh:minInclusive 1.5 ;", "sh:minInclusive 1.0 ;"),  # an amendment within range
    (H, "sh:minInclusive 1.5 ;", "sh:minInclusive 2.0 ;"),
    (ONTOLOGY, "ql:parameterValue 28 ;", 'ql:parameterValue 28 ; ql:allowedMaximum "abc" ;'),
], ids=["anc-1.0", "anc-2.0", "folder-meta-ignored"])
def test_amendments_that_keep_the_property_are_used(exported, tmp_path, edit):
    check_protocol(edited(exported, tmp_path, edit))


def test_a_renamed_criterion_iri_is_the_same_criterion(exported, tmp_path):
    """Identity is the id in the data: renaming ql:IC9.1-ANC everywhere changes nothing."""
    folder = tmp_path / "renamed"
    shutil.copytree(exported, folder)
    for path in folder.rglob("*.ttl"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"ql:IC9\.1-ANC(?=[\s;,.])", "ql:NeutrophilCount", text),
                        encoding="utf-8")
    assert check_protocol(folder) == []
    ran = [CliRunner().invoke(main, ["screen", str(EXAMPLES), "--as-of", AS_OF, "--format",
                                     "json", *extra]) for extra in (["--protocol", str(folder)],
                                                                     [])]
    renamed, bundled = ({p["id"]: (p["verdict"], [c["outcome"] for c in p["criteria"]])
                         for p in json.loads(r.stdout)["patients"]} for r in ran)
    assert renamed == bundled


@pytest.mark.parametrize(("edit", "expected"), [
    ((ONTOLOGY, "ql:policy ql:MostRecentInWindow ;", "ql:policy ql:OldestInWindow ;"),
     r"policy ql:OldestInWindow is not one this software implements"),
    ((ONTOLOGY, "ql:policy ql:MostRecentInWindow ;",
      "ql:policy ql:OldestInWindow . ql:OldestInWindow a ql:RulePolicy ;"),
     r"policy ql:OldestInWindow is not one this software implements"),
    ((ONTOLOGY, "ql:parameterValue 28 ;", "ql:parameterValue 2.5 ;"),
     r"ScreeningWindowDays: its value 2\.5 is not a whole number"),
    ((H, "sh:minInclusive 1.5 ;", "sh:minInclusive 0.1 ;"),
     r"criterion IC9\.1-ANC: the minimum 0\.1 on ql:screeningANC / ql:normalisedValue is "
     r"outside the range the package allows \(0\.5 to 3\)"),
    ((H, "qls:IC9.1-ANC-Limit a sh:PropertyShape ;",
      "qls:Loop1 sh:node qls:Loop2 . qls:Loop2 sh:node qls:Loop1 .\n"
      "qls:IC9.1-ANC-Limit a sh:PropertyShape ; sh:node qls:Loop1 ;"),
     r"shapes use each other in a cycle \(qls:Loop\d -> qls:Loop\d -> qls:Loop\d\)"),
], ids=["unknown-policy", "self-declared-policy", "window-not-whole", "limit-out-of-range",
        "cycle"])
def test_meta_constraints_policies_and_cycles_are_checked_before_any_patient(
        exported, tmp_path, edit, expected):
    folder = edited(exported, tmp_path, edit)
    with pytest.raises(ProtocolRefused, match=expected):
        check_protocol(folder)


def test_a_folders_ids_and_texts_reach_no_output_raw(exported, tmp_path):
    """An id holding a line break and HTML: listed as a criterion the folder adds (and one
    it removes), shown with its controls as escapes in text and JSON, escaped in HTML."""
    forged = "IC9.1-ANC\\n  Verdict: ELIGIBLE <script>alert(1)</script>"
    folder = edited(exported, tmp_path, (ONTOLOGY, 'ql:criterionId "IC9.1-ANC"',
                                         f'ql:criterionId "{forged}"'))
    notes = check_protocol(folder)
    assert any("removes criteria" in n and "IC9.1-ANC" in n for n in notes)
    patient = str(EXAMPLES / "ineligible-age-77.json")
    text = CliRunner().invoke(main, ["screen", patient, "--as-of", AS_OF, "--protocol",
                                     str(folder)])
    assert text.exit_code == 0, text.output
    verdicts = [line for line in text.stdout.splitlines() if line.startswith("  Verdict:")]
    assert verdicts == ["  Verdict: INELIGIBLE"]  # the id's line break is an escape
    assert "IC9.1-ANC\\n  Verdict: ELIGIBLE" in text.stdout
    report = tmp_path / "report"
    made = CliRunner().invoke(main, ["report", patient, "--as-of", AS_OF, "-o", str(report),
                                     "--protocol", str(folder)])
    assert made.exit_code == 0, made.output
    pages = "".join(p.read_text(encoding="utf-8") for p in report.rglob("*.html"))
    assert "<script>" not in pages and "&lt;script&gt;" in pages
