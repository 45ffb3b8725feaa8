"""The long fuzz campaign: N hostile inputs through the real command, counted.

    python bench/fuzz.py --n 100000 [--seed 1] [--jobs 2]

Uses the mutators of tests/fuzzing.py (the CI harness, tests/test_fuzz.py, runs a few hundred
of the same examples). Inputs are grouped into runs of the ``screen`` command (CliRunner, in
process, ``--format json``), each run a folder that also holds good records; per run it checks
that nothing escaped as a traceback or an internal error, that the exit code is 0 or 1 as
documented, that every good record was screened and that every record is accounted for
(patients + errors = records, where the count is known). It prints the counts.

Mix of the N inputs: 70 % mutated project records (NDJSON and JSON lists of 1,000, a third of
them mutated), 12 % mutated FHIR bundles, 10 % mutated CSV tables, 8 % byte-corrupted files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner

from ql1706kg.cli import main
from tests.fuzzing import (
    FHIR_BUNDLES,
    check_document,
    corrupt_bytes,
    dumps,
    good_record,
    mutated_bundle,
    mutated_csv,
    mutated_record,
)

RUN_RECORDS = 1_000  # records per run of mutated project records
RUN_FILES = 100  # files per run of FHIR, CSV and corrupted inputs


def run(folder: Path, jobs: int, counts: Counter, good: set[str], records: int | None) -> None:
    """Screen one folder and count what a run must never do."""
    result = CliRunner().invoke(main, ["screen", str(folder), "--as-of", "2026-11-20",
                                       "--format", "json", "--jobs", str(jobs), "--quiet"])
    counts["runs"] += 1
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    if crashed or "Traceback" in result.stderr or "internal error" in result.stderr:
        counts["tracebacks"] += 1
        print(f"TRACEBACK in {folder}: {result.exception!r} {result.stderr[-300:]}",
              file=sys.stderr)
        return
    if result.exit_code not in (0, 1):
        counts["wrong exit codes"] += 1
        return
    document = json.loads(result.stdout)
    counts["patients screened"] += len(document["patients"])
    counts["error entries"] += len(document["errors"])
    if (result.exit_code == 1) != bool(document["errors"]):
        counts["wrong exit codes"] += 1
    try:
        check_document(document, good, records)
    except AssertionError as exc:
        counts["lost records"] += 1
        print(f"LOST in {folder}: {exc}", file=sys.stderr)


def record_runs(rng: random.Random, n: int, folder: Path, jobs: int, counts: Counter) -> None:
    done = 0
    while done < n:
        size = min(RUN_RECORDS, n - done)
        batch, good = [], set()
        for index in range(size):
            if index % 3 == 0:
                batch.append(mutated_record(rng, f"M-{done + index}"))
            else:
                good.add(f"G-{done + index}")
                batch.append(good_record(f"G-{done + index}"))
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        if rng.random() < 0.5:
            (folder / "batch.ndjson").write_text("\n".join(dumps(r) for r in batch) + "\n")
        else:
            (folder / "batch.json").write_text(dumps(batch))
        counts["records written"] += size
        counts["mutated inputs"] += (size + 2) // 3
        run(folder, jobs, counts, good, size)
        done += size


def file_runs(rng: random.Random, n: int, kind: str, folder: Path, jobs: int,
              counts: Counter) -> None:
    done = 0
    while done < n:
        size = min(RUN_FILES, n - done)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "good.json").write_text(json.dumps(good_record("G-good")))
        for index in range(size):
            if kind == "fhir":
                (folder / f"b{index}.json").write_text(dumps(mutated_bundle(rng)))
            elif kind == "csv":
                (folder / f"t{index}.csv").write_bytes(
                    mutated_csv(rng).encode("utf-8", "surrogatepass"))
            else:
                source = rng.choice([*FHIR_BUNDLES, Path("examples/cohort-template.csv"),
                                     Path("examples/patients/cohort-small.json")])
                suffix = rng.choice([".json", ".ndjson", ".csv"])
                (folder / f"c{index}{suffix}").write_bytes(corrupt_bytes(rng,
                                                                         source.read_bytes()))
        counts["mutated inputs"] += size
        run(folder, jobs, counts, {"G-good"}, None)
        done += size


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000, help="hostile inputs in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    counts: Counter = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        plan = {"records": int(args.n * 0.70) * 3, "fhir": int(args.n * 0.12),
                "csv": int(args.n * 0.10), "bytes": args.n - int(args.n * 0.70)
                - int(args.n * 0.12) - int(args.n * 0.10)}
        record_runs(rng, plan["records"], folder, args.jobs, counts)
        for kind in ("fhir", "csv", "bytes"):
            file_runs(rng, plan[kind], kind, folder, args.jobs, counts)
    elapsed = time.monotonic() - started
    print(json.dumps({"seed": args.seed, "hostile_inputs": counts["mutated inputs"],
                      "records_written": counts["records written"], "runs": counts["runs"],
                      "patients_screened": counts["patients screened"],
                      "error_entries": counts["error entries"],
                      "tracebacks": counts["tracebacks"], "lost_records": counts["lost records"],
                      "wrong_exit_codes": counts["wrong exit codes"],
                      "seconds": round(elapsed, 1)}, indent=2))
    return 1 if counts["tracebacks"] or counts["lost records"] or counts["wrong exit codes"] \
        else 0


if __name__ == "__main__":
    raise SystemExit(main_())
