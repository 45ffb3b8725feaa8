"""One bad patient never costs the others, and one id names one person (pipeline/batch.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.pipeline import batch

BASE = json.loads((Path(__file__).parent / "data" / "base-eligible.json").read_text())


def record(patient_id: str, **changes) -> dict:
    out = copy.deepcopy(BASE)
    out.update(id=patient_id, **changes)
    return out


def write(folder: Path, name: str, records: list[dict]) -> Path:
    path = folder / name
    path.write_text(json.dumps(records))
    return path


def test_a_second_person_under_a_used_id_is_an_error_naming_both_sources(tmp_path):
    write(tmp_path, "a.json", [record("P-1")])
    write(tmp_path, "b.json", [record("P-1", sex="female", birth_date="1980-01-01")])
    result = screen([tmp_path], as_of="2026-11-20")
    assert [p.source for p in result.patients] == [f"{tmp_path / 'a.json'}[0]"]
    (error,) = result.errors
    assert error.source == f"{tmp_path / 'b.json'}[0]" and error.field == "id"
    assert "a.json" in error.message and "P-1" in error.message


def test_the_same_record_read_twice_is_screened_twice_without_error(tmp_path):
    write(tmp_path, "a.json", [record("P-1")])
    write(tmp_path, "b.json", [json.loads(json.dumps(record("P-1"), sort_keys=True))])
    result = screen([tmp_path], as_of="2026-11-20")
    assert [p.id for p in result.patients] == ["P-1", "P-1"] and result.errors == []


def test_duplicates_are_found_across_worker_batches(tmp_path):
    people = [record(f"P-{i}") for i in range(120)] + [record("P-3", sex="female")]
    write(tmp_path, "many.json", people)
    result = screen([tmp_path], as_of="2026-11-20", jobs=2)
    assert len(result.patients) == 120 and [e.record for e in result.errors] == ["P-3"]


def test_a_merged_patient_never_reaches_the_eligible_patients_query(tmp_path):
    from ql1706kg.semweb.query import query_graph, query_text, run

    write(tmp_path, "a.json", [record("P-1")])
    write(tmp_path, "b.json", [record("P-1", observations=[])])  # would be incomplete
    graph, errors = query_graph([tmp_path], as_of="2026-11-20", window_days=28)
    _names, rows = run(query_text("eligible-patients"), graph)
    assert len(errors) == 1 and len(rows) <= 1


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("step", ["lift", "judge"])
def test_a_crash_while_screening_one_patient_costs_that_patient_only(tmp_path, monkeypatch,
                                                                     jobs, step):
    target = getattr(batch, step)

    def failing(*args, **kwargs):
        graph_or_record = args[0]
        text = str(getattr(graph_or_record, "id", "")) + str(args[:2])
        if "P-BAD" in text:
            raise RuntimeError("boom")
        return target(*args, **kwargs)

    monkeypatch.setattr(batch, step, failing)
    people = [record(f"P-{i}") for i in range(60)]
    people.insert(30, record("P-BAD"))
    write(tmp_path, "x.json", people)
    result = screen([tmp_path], as_of="2026-11-20", jobs=jobs)
    assert len(result.patients) == 60
    (error,) = result.errors
    assert error.record == "P-BAD" and "internal error" in error.message
    assert "RuntimeError: boom" in error.message


def test_a_batch_that_fails_validation_is_validated_patient_by_patient(tmp_path, monkeypatch):
    real = batch.validate_graphs

    def fragile(graphs):
        if len(graphs) > 1 or "P-BAD" in str(next(iter(graphs[0].subjects()), "")):
            raise RuntimeError("validator fell over")
        return real(graphs)

    monkeypatch.setattr(batch, "validate_graphs", fragile)
    write(tmp_path, "x.json", [record("P-1"), record("P-BAD"), record("P-2")])
    result = screen([tmp_path], as_of="2026-11-20")
    assert [p.id for p in result.patients] == ["P-1", "P-2"]
    assert [e.record for e in result.errors] == ["P-BAD"]


def test_patients_plus_errors_equal_records_on_a_mixed_batch(tmp_path):
    good = [record(f"G-{i}") for i in range(5)]
    # an ICF dated 9999-12-31 is a fact after the assessment date: set aside, not an error
    # (issue 20: a retrospective screen runs on exports holding later data), so B-3 is screened
    late = record("B-3", consent={"icf_signed": "9999-12-31"})
    bad = [{"id": "B-1", "sex": "robot"}, {"id": "B-2", "birth_date": "2030-01-01"}, 42,
           record("G-0", sex="female")]
    write(tmp_path, "x.json", [*good, late, *bad])
    result = screen([tmp_path], as_of="2026-11-20")
    assert len(result.patients) + len(result.errors) == len(good) + len(bad) + 1
    assert len(result.patients) == 6
