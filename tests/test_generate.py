"""``ql1706kg generate`` (a seeded synthetic cohort through the output writer) and the progress
bar's total (the inputs counted without decoding them)."""

from __future__ import annotations

import json
import random
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.cli.common import count_list_items, count_records
from ql1706kg.inputs.jsonio import ArrayReader
from ql1706kg.inputs.synthetic import AS_OF, encode_cohort, patients
from ql1706kg.pipeline.assessment import Assessment


def generate(*args: str) -> object:
    return CliRunner().invoke(main, ["generate", *args])


@pytest.mark.parametrize("fmt, name", [("json", "c.json"), ("ndjson", "c.ndjson"),
                                       ("fhir", "c.ndjson")])
def test_generate_writes_a_cohort_that_screens(tmp_path, fmt, name):
    out = tmp_path / name
    result = generate("25", "-o", str(out), "--format", fmt, "--seed", "7")
    assert result.exit_code == 0, result.output
    assert f"--as-of {AS_OF}" in result.stderr
    assert not list(tmp_path.glob(".*"))  # no lock or temporary file left
    screened = CliRunner().invoke(main, ["screen", str(out), "--as-of", AS_OF, "--format",
                                         "json", "--quiet"])
    assert screened.exit_code == 0, screened.output
    document = json.loads(screened.stdout)
    assert len(document["patients"]) == 25 and not document["errors"]
    expected = CliRunner().invoke(main, ["screen", str(tmp_path / "c.json"), "--as-of", AS_OF,
                                         "--format", "json", "--quiet"]) if fmt != "json" \
        else screened
    if fmt != "json":
        generate("25", "-o", str(tmp_path / "c.json"), "--seed", "7")
        expected = CliRunner().invoke(main, ["screen", str(tmp_path / "c.json"), "--as-of",
                                             AS_OF, "--format", "json", "--quiet"])
    verdicts = {p["id"]: p["verdict"] for p in json.loads(expected.stdout)["patients"]}
    assert {p["id"]: p["verdict"] for p in document["patients"]} == verdicts


def test_the_same_seed_gives_the_same_file(tmp_path):
    for name, seed in (("a.json", "3"), ("b.json", "3"), ("c.json", "4")):
        assert generate("40", "-o", str(tmp_path / name), "--seed", seed).exit_code == 0
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.json", "b.json", "c.json"))
    assert a == b != c
    assert json.loads(a) == list(patients(40, 3))


def test_generated_json_is_the_benchmarks_patients(tmp_path):
    out = tmp_path / "c.ndjson"
    assert generate("30", "-o", str(out), "--format", "ndjson").exit_code == 0
    lines = out.read_text().splitlines()
    assert [json.loads(line) for line in lines] == list(patients(30, 1706))


@pytest.mark.parametrize("fmt, name", [("json", "c.ndjson"), ("ndjson", "c.json"),
                                       ("fhir", "c.json"), ("json", "c.txt")])
def test_a_file_name_screen_would_misread_is_a_usage_error(tmp_path, fmt, name):
    result = generate("5", "-o", str(tmp_path / name), "--format", fmt)
    assert result.exit_code == 2
    assert "is read by 'screen' from a file ending in" in result.stderr
    assert not (tmp_path / name).exists()


def test_n_and_format_are_checked():
    assert generate("-1", "-o", "x.json").exit_code == 2
    assert generate("5", "-o", "x.json", "--format", "csv").exit_code == 2
    assert generate("5").exit_code == 2  # -o is required


def test_zero_patients_is_an_empty_list(tmp_path):
    assert generate("0", "-o", str(tmp_path / "e.json")).exit_code == 0
    assert json.loads((tmp_path / "e.json").read_text()) == []


def test_an_output_that_cannot_be_written_is_exit_3(tmp_path):
    (tmp_path / "link.json").symlink_to(tmp_path / "elsewhere.json")
    result = generate("5", "-o", str(tmp_path / "link.json"))
    assert result.exit_code == 3 and "symbolic link" in result.stderr
    result = generate("5", "-o", str(tmp_path / "missing" / "c.json"))
    assert result.exit_code == 3


def test_an_interrupted_run_leaves_no_file(tmp_path, monkeypatch):
    import ql1706kg.cli.generate as module

    def interrupted(records, fmt):
        yield b"["
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "encode_cohort", interrupted)
    result = generate("5", "-o", str(tmp_path / "c.json"))
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_encoding_is_streamed_in_constant_memory():
    def peak(n: int) -> int:
        tracemalloc.start()
        for _piece in encode_cohort(patients(n, 1), "json"):
            pass
        _current, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    assert peak(4000) < 1.5 * peak(400) + 50_000


# -- counting inputs for the progress bar ------------------------------------------------------

def _array_count(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as handle:
        return sum(1 for _ in ArrayReader(handle))


def test_list_items_are_counted_as_the_reader_reads_them(tmp_path):
    rng = random.Random(5)
    alphabet = '\\"[]{},:ab \n\té'
    texts = ["[]", "  [ \n ] ", "[1]", "[1, [2, 3], {\"a\": \"]\"}]", '\ufeff[{"x": "é"}, {}]']
    records = list(patients(50, 2))
    records[3]["note"] = 'a "quoted" [list], {braces}, \\ and \\" and ],'
    texts += [json.dumps(records), json.dumps(records, indent=2, ensure_ascii=False)]
    for _ in range(100):
        items = [{"k": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))),
                  "v": [rng.random(), {"z": rng.choice(alphabet) * 3}]}
                 for _ in range(rng.randint(0, 8))]
        texts.append(json.dumps(items, ensure_ascii=rng.random() < 0.5))
    path = tmp_path / "list.json"
    for text in texts:
        path.write_text(text, encoding="utf-8")
        expected = _array_count(path)
        for chunk in (1, 2, 5, 64, 1 << 20):  # every way a chunk can cut a string or escape
            assert count_list_items(path, chunk) == expected, (text[:80], chunk)


def test_inputs_are_counted_by_kind(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps(list(patients(7, 1))))
    (tmp_path / "one.json").write_text(json.dumps(next(patients(1, 2))))
    (tmp_path / "lines.ndjson").write_text("\ufeff{}\n\n  \n{}\n{}")  # blank lines skipped
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "schema.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {}}))
    assert count_records([tmp_path]) == 7 + 1 + 3 + 1 + 0
    assert count_records([tmp_path, tmp_path / "missing.json"]) == 13  # an error each
    (tmp_path / "fhir.ndjson").write_text('{"resourceType": "Patient", "id": "p"}\n')
    assert count_records([tmp_path]) is None  # FHIR: patients are known after joining
    assert count_records([tmp_path / "list.json"]) == 7
    (tmp_path / "bundle.json").write_text('{"resourceType": "Bundle"}')
    assert count_records([tmp_path / "bundle.json"]) is None
    (tmp_path / "t.csv").write_text("patient,element,value\n")
    assert count_records([tmp_path / "t.csv"]) is None


class _Bar:
    """What ProgressTotal uses of a tqdm bar."""

    disable, total, refreshed = False, None, 0

    def refresh(self) -> None:
        self.refreshed += 1


@pytest.mark.parametrize("people_first", [True, False])
def test_the_total_adds_the_fhir_people_once_the_input_is_grouped(tmp_path, people_first):
    """Records counted in the files plus the people of the FHIR input (told by the screening
    after grouping, before anyone is screened), in whichever order the two become known."""
    from ql1706kg.api import iter_screen
    from ql1706kg.cli.common import ProgressTotal

    export = tmp_path / "export.ndjson"
    assert generate("9", "-o", str(export), "--format", "fhir", "-q").exit_code == 0
    (tmp_path / "list.json").write_text(json.dumps(list(patients(4, 3))))
    counted = count_records([tmp_path], fhir_counts_zero=True)
    assert counted == (4, True)
    total, bar = ProgressTotal(), _Bar()
    if not people_first:
        total.show_on(bar, *counted)
        assert bar.total is None  # the FHIR people are not known yet
    results = list(iter_screen([tmp_path], Assessment(date.fromisoformat(AS_OF)),
                               on_people=total.tell))
    assert total.people == 9
    if people_first:
        total.show_on(bar, *counted)
    assert bar.total == 13 == len(results)


def test_the_fhir_people_are_told_before_the_first_of_them_is_screened(tmp_path):
    from ql1706kg.api import iter_screen

    export = tmp_path / "export.ndjson"
    assert generate("5", "-o", str(export), "--format", "fhir", "-q").exit_code == 0
    told: list[int] = []
    results = iter_screen([export], Assessment(date.fromisoformat(AS_OF)),
                          on_people=told.append)
    next(results)
    assert told == [5]
    assert sum(1 for _ in results) == 4
