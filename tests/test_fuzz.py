"""Fuzzing the readers through the real command: no traceback, no lost record, documented codes.

Each example writes good records beside hostile ones (structured mutations of a record, a CSV
table, a FHIR bundle, and raw byte corruption of each), runs ``ql1706kg screen`` through
click's CliRunner, and checks what the hardening issue promises: exit code 0 or 1 (1 exactly
when there are error entries), a JSON document that parses, every good patient screened, every
record accounted for (patients + errors = records) and no internal error in any entry. The
examples are seeded and few (CI's share is small); ``bench/fuzz.py --n 100000`` runs the long
campaign with the same mutators.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ql1706kg.cli import main

from .fuzzing import (
    check_document,
    corrupt_bytes,
    dumps,
    good_record,
    mutated_bundle,
    mutated_csv,
    mutated_record,
)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def screen(paths: list[Path]) -> dict:
    result = CliRunner().invoke(main, ["screen", *map(str, paths), "--as-of", "2026-11-20",
                                       "--format", "json", "--jobs", "1", "--quiet"])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.exit_code in (0, 1), result.stderr
    document = json.loads(result.stdout)
    assert (result.exit_code == 1) == bool(document["errors"]), result.stderr
    return document


@pytest.mark.parametrize("shape", ["list", "ndjson", "files"])
@SETTINGS
@given(seed=SEEDS)
def test_mutated_records_beside_good_ones(tmp_path_factory, shape, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("fuzz")
    records = [good_record("G-1"), mutated_record(rng, "M-1"), good_record("G-2"),
               mutated_record(rng, "M-2"), good_record("G-3")]
    if shape == "list":
        (folder / "batch.json").write_text(dumps(records))
    elif shape == "ndjson":
        (folder / "batch.ndjson").write_text("\n".join(dumps(r) for r in records) + "\n")
    else:
        for index, record in enumerate(records):
            (folder / f"{index}.json").write_text(dumps(record))
    check_document(screen([folder]), {"G-1", "G-2", "G-3"}, len(records))


@SETTINGS
@given(seed=SEEDS)
def test_corrupted_bytes_cost_only_their_own_file(tmp_path_factory, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("bytes")
    (folder / "good.json").write_text(json.dumps(good_record("G-1")))
    source = rng.choice([json.dumps([good_record("C-1"), good_record("C-2")]).encode(),
                         (json.dumps(good_record("C-1")) + "\n").encode() * 3,
                         (Path(__file__).parents[1] / "examples" / "cohort-template.csv")
                         .read_bytes(),
                         rng.choice(sorted((Path(__file__).parents[1] / "examples" / "fhir")
                                           .glob("*.json"))).read_bytes()])
    suffix = rng.choice([".json", ".ndjson", ".csv"])
    (folder / f"bad{suffix}").write_bytes(corrupt_bytes(rng, source))
    check_document(screen([folder]), {"G-1"}, None)


@SETTINGS
@given(seed=SEEDS)
def test_mutated_tables(tmp_path_factory, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("csv")
    (folder / "good.json").write_text(json.dumps(good_record("G-1")))
    (folder / "cohort.csv").write_bytes(mutated_csv(rng).encode("utf-8", "surrogatepass"))
    check_document(screen([folder]), {"G-1"}, None)


@SETTINGS
@given(seed=SEEDS)
def test_mutated_fhir_bundles(tmp_path_factory, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("fhir")
    (folder / "good.json").write_text(json.dumps(good_record("G-1")))
    (folder / "bundle.json").write_text(dumps(mutated_bundle(rng)))
    check_document(screen([folder]), {"G-1"}, None)
