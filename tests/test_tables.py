"""Bulk tables in long format (.csv, .xlsx): one row per fact, the same records as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ql1706kg.api import screen
from ql1706kg.errors import InputError
from ql1706kg.inputs.models import PatientRecord
from ql1706kg.inputs.records import SourcedRecord
from ql1706kg.inputs.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "tables"
TEMPLATES = [ROOT / "examples" / "cohort-template.csv", ROOT / "examples" / "cohort-template.xlsx"]


def records(path: Path) -> list[SourcedRecord | InputError]:
    return list(read_table(path))


@pytest.mark.parametrize("path", TEMPLATES, ids=["csv", "xlsx"])
def test_template_patient_is_the_json_example_record(path):
    """The template's first patient is examples/patients/eligible-leiomyosarcoma.json."""
    expected = PatientRecord.model_validate(json.loads(
        (ROOT / "examples" / "patients" / "eligible-leiomyosarcoma.json").read_text()))
    first = records(path)[0]
    assert isinstance(first, SourcedRecord)
    assert first.record.model_dump() == expected.model_dump()


@pytest.mark.parametrize("path", TEMPLATES, ids=["csv", "xlsx"])
def test_template_screens(path):
    result = screen([path], as_of="2026-11-20")
    assert not result.errors
    assert {p.id: p.verdict for p in result.patients} == {"QL-LMS-001": "eligible",
                                                          "QL-TAB-002": "ineligible"}
    coded = next(p for p in result.patients if p.id == "QL-TAB-002")
    assert coded.outcome("IC3.3") == "met"          # ICD-O-3 8890/3 from code + system
    assert coded.outcome("IC9.1-ANC") == "not_met"  # LOINC 751-8 in the code column
    assert coded.outcome("IC9.5-UPRO") == "unknown"  # dipstick 2+ and no 24-hour protein


def test_semicolons_decimal_commas_and_scattered_rows():
    found = records(DATA / "semicolon-with-bad-rows.csv")
    good = [r for r in found if isinstance(r, SourcedRecord)]
    assert [r.record.id for r in good] == ["T-1"]
    (ast,) = good[0].record.observations
    assert (ast.value, ast.uln) == (30.5, 40.0)


def test_a_bad_row_names_file_row_patient_and_column_and_others_are_read():
    found = records(DATA / "semicolon-with-bad-rows.csv")
    errors = [r for r in found if isinstance(r, InputError)]
    bad_date, unknown = errors
    assert bad_date.source.endswith("semicolon-with-bad-rows.csv:6")
    assert (bad_date.record, bad_date.field) == ("T-2", "row 6: value")
    assert "is not a date" in bad_date.detail
    assert unknown.record == "T-3" and "unknown element 'weight_of_soul'" in unknown.detail


def test_byte_order_mark_and_header_case():
    (only,) = records(DATA / "bom.csv")
    assert only.record.sex == "male" and only.record.prior_therapies == []


def test_missing_required_column_is_one_error_for_the_file():
    (error,) = records(DATA / "missing-column.csv")
    assert "missing column(s) element" in error.detail and error.field == "element"


def test_cli_screens_a_table_with_errors_and_exit_code_one():
    from click.testing import CliRunner

    from ql1706kg.cli import main

    result = CliRunner().invoke(main, ["screen", str(DATA / "semicolon-with-bad-rows.csv"),
                                       "--as-of", "2026-11-20", "--format", "json"])
    assert result.exit_code == 1
    assert [p["id"] for p in json.loads(result.stdout)["patients"]] == ["T-1"]
    assert "row 6: value" in result.stderr and "Traceback" not in result.stderr


# -- hostile and contradictory tables ---------------------------------------------------------

def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "t.csv"
    path.write_text("patient,element,value,date\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_field_over_128_kb_costs_its_patient_only(tmp_path):
    path = _csv(tmp_path, ["A,sex,male,", f"B,condition,{'x' * 200_000},", "B,sex,female,"])
    items = records(path)
    assert [i.id for i in items if isinstance(i, SourcedRecord)] == ["A"]
    (error,) = [i for i in items if isinstance(i, InputError)]
    assert error.record == "B" and "longer than" in error.detail


def test_two_different_sexes_are_an_error_naming_both_rows(tmp_path):
    path = _csv(tmp_path, ["A,sex,male,", "A,birth_date,1970-01-01,", "A,sex,female,"])
    (error,) = records(path)
    assert isinstance(error, InputError) and error.record == "A"
    assert "row 4" in error.detail and "row 2" in error.detail and "sex" in error.field


def test_the_same_fact_twice_is_not_a_contradiction(tmp_path):
    path = _csv(tmp_path, ["A,sex,male,", "A,sex,male,"])
    (record,) = records(path)
    assert isinstance(record, SourcedRecord) and record.record.sex == "male"


@pytest.mark.parametrize(("rows", "said"), [
    # the diagnosis date first given by the second histology row: that row is its first
    (["A,histology,leiomyosarcoma,", "A,histology,leiomyosarcoma,2025-01-01",
      "A,histology,leiomyosarcoma,2025-02-02"],
     "row 4 gives diagnosis.date as '2025-02-02', but row 3 gave '2025-01-01'"),
    (["A,histology,leiomyosarcoma,2025-01-01", "A,sex,male,",
      "A,histology,liposarcoma,2025-01-01"],
     "row 4 gives diagnosis.histology as 'liposarcoma', but row 2 gave 'leiomyosarcoma'"),
    (["A,recist_measurable,yes,", "A,recist_measurable,yes,2025-01-01"],
     "row 3 gives recist as 'True, 2025-01-01', but row 2 gave 'True'"),
    (["A,histology,leiomyosarcoma,", "A,histology,leiomyosarcoma,2025-01-01",
      "A,histology,leiomyosarcoma,"], None),
])
def test_a_fact_a_patient_has_once_names_the_row_that_first_gave_it(tmp_path, rows, said):
    (item,) = records(_csv(tmp_path, rows))
    if said is None:
        assert isinstance(item, SourcedRecord), item
    else:
        assert isinstance(item, InputError) and said in item.detail, item


def test_an_xlsx_formula_without_a_saved_result_is_named(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["patient", "element", "value"])
    sheet.append(['="P"&"1"', "sex", "male"])
    sheet.append(["P2", "sex", "=LOWER(\"MALE\")"])
    path = tmp_path / "f.xlsx"
    book.save(path)
    errors = [i for i in records(path) if isinstance(i, InputError)]
    assert len(errors) == 2
    assert all("no saved result" in e.detail for e in errors)
    assert {e.field.split(": ")[1] for e in errors} == {"patient", "value"}


# -- facts of the kinds a protocol declares (ql:FactKind) -------------------------------------

SARC028 = ROOT / "examples" / "protocols" / "sarc028"
DECLARED = DATA / "sarc028-declared-facts.csv"
S28_10 = SARC028 / "records" / "ineligible-live-vaccine-20-days-before-first-dose.json"


def test_declared_kinds_read_as_the_json_records_facts():
    """A row whose element is a declared kind's record key is that fact, as the JSON record
    writes it; facts_complete rows are its facts_complete."""
    from ql1706kg.protocol.resources import use_protocol

    use_protocol(SARC028)
    [record] = records(DECLARED)
    assert isinstance(record, SourcedRecord), record
    expected = PatientRecord.model_validate(json.loads(S28_10.read_text()))
    assert record.record.model_dump()["facts"] == expected.model_dump()["facts"]
    assert record.record.facts_complete == expected.facts_complete


def test_declared_kinds_table_screens_as_the_json_record():
    from ql1706kg.protocol.resources import use_protocol

    use_protocol(SARC028)
    outcomes = []
    for source in (DECLARED, S28_10):
        result = screen([source], as_of="2027-03-15")
        assert not result.errors
        [patient] = result.patients
        outcomes.append((patient.verdict, {c.id: (c.outcome, c.explanation)
                                           for c in patient.criteria}))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == "ineligible"


def _one_row(tmp_path: Path, row: str) -> list:
    path = tmp_path / "t.csv"
    path.write_text("patient,element,value,unit,date,code,system,status\n"
                    "P1,sex,female,,,,,\n" + row + "\n")
    return records(path)


@pytest.mark.parametrize(("row", "column", "words"), [
    ("P1,organ-function-adequate,maybe,,2027-03-08,,,", "value", "is not yes or no"),
    ("P1,organ-function-adequate,,,2027-03-08,,,", "value", "needs its value"),
    ("P1,first-dose,next week,,,,,booked", "value", "is not a date"),
    ("P1,live-vaccine,no,,2027-02-24,,,completed", "value", "facts_complete"),
    ("P1,facts_complete,hepatitis,,,,,", "value", "not a fact kind the protocol declares"),
    ("P1,tumour-grade,high,,someday,,,final", "date", "is not a date"),
    ("P1,hbsag-result,negative,,2027-03-01,,,", "element", "live-vaccine"),
])
def test_a_declared_fact_that_cannot_be_read_is_an_error(tmp_path, row, column, words):
    """Never a fact that could count: the patient is an error naming the file, row and column
    (the value a kind cannot hold, a 'no' for a kind that is the record itself, a kind the
    protocol does not declare)."""
    from ql1706kg.protocol.resources import use_protocol

    use_protocol(SARC028)
    [error] = _one_row(tmp_path, row)
    assert isinstance(error, InputError)
    assert error.field == f"row 3: {column}" and words in str(error)
    assert "t.csv:3" in str(error)


def test_a_kind_the_bundled_protocol_does_not_declare_stays_an_unknown_element(tmp_path):
    [error] = _one_row(tmp_path, "P1,live-vaccine,,,2027-02-24,,,completed")
    assert isinstance(error, InputError)
    assert error.field == "row 3: element" and "unknown element 'live-vaccine'" in str(error)
    [error] = _one_row(tmp_path, "P1,facts_complete,live-vaccine,,,,,")
    assert isinstance(error, InputError) and "not a fact kind" in str(error)
