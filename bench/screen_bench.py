"""Benchmark: single-patient CLI wall time (with start-up) and warm batch throughput.

Prints, for the real CLI code path (read -> lift -> derive -> validate -> judge -> render):
  * wall-clock seconds of `ql1706kg screen ONE_FILE --format json` as a fresh process (median
    of --runs), i.e. what a coordinator waits for;
  * warm in-process throughput over N generated patients: patients per second, ms per patient,
    and peak memory (ru_maxrss).
The last line is one JSON object with the figures, for scripts. Not run by CI as pass/fail.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = json.loads((ROOT / "tests" / "data" / "base-eligible.json").read_text())
HISTOLOGIES = ["leiomyosarcoma", "angiosarcoma", "chordoma", "alveolar soft part sarcoma",
               "undifferentiated pleomorphic sarcoma", "dedifferentiated liposarcoma",
               "myxofibrosarcoma", "synovial sarcoma"]


def synthetic_patient(index: int, rng: random.Random) -> dict:
    """A realistic variation of the eligible base record (seeded)."""
    rec = copy.deepcopy(BASE)
    rec["id"] = f"SYN-{index:06d}"
    rec["sex"] = rng.choice(["male", "female"])
    rec["birth_date"] = f"{rng.randint(1945, 2010)}-{rng.randint(1, 12):02d}-15"
    rec["diagnosis"]["histology"] = rng.choice(HISTOLOGIES)
    if rec["sex"] == "female":
        rec["reproductive"] = {"lactating": False, "childbearing_potential": rng.random() < .5,
                               "contraception_agreed": True}
        rec["observations"].append({"test": "pregnancy test", "value": "negative",
                                    "date": "2026-11-17"})
    for obs in rec["observations"]:
        if isinstance(obs["value"], int | float) and obs["test"] not in {"ECOG"}:
            obs["value"] = round(obs["value"] * rng.uniform(0.7, 1.6), 2)
    if rng.random() < 0.2:
        rec["supportive_care"] = [{"product": "filgrastim", "date": "2026-11-03"}]
    return rec


def cli_single(runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.json"
        path.write_text(json.dumps(BASE))
        script = Path(sys.executable).parent / "ql1706kg"
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            subprocess.run([str(script), "screen", str(path), "--as-of", "2026-11-20",
                            "--format", "json"], check=False, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:])


def warm_batch(n: int, seed: int, jobs: int) -> tuple[float, dict]:
    from ql1706kg import screen
    from ql1706kg.render import render_json

    rng = random.Random(seed)
    patients = [synthetic_patient(i, rng) for i in range(n)]
    screen([patients[0]], as_of="2026-11-20")  # warm-up: caches, compiled shapes
    start = time.perf_counter()
    result = screen(patients, as_of="2026-11-20", jobs=jobs, keep_graphs=False)
    render_json(result)
    elapsed = time.perf_counter() - start
    verdicts = {v: sum(p.verdict == v for p in result.patients)
                for v in ("eligible", "ineligible", "incomplete")}
    return elapsed, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="patients in the warm batch")
    parser.add_argument("--runs", type=int, default=3, help="CLI runs for the median")
    parser.add_argument("--seed", type=int, default=1706)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per core)")
    args = parser.parse_args()
    single = cli_single(args.runs)
    elapsed, verdicts = warm_batch(args.n, args.seed, args.jobs)
    peak_mb = max(resource.getrusage(who).ru_maxrss
                  for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    figures = {"n": args.n, "jobs": args.jobs, "cli_single_patient_seconds": round(single, 3),
               "patients_per_second": round(args.n / elapsed, 1),
               "ms_per_patient": round(1000 * elapsed / args.n, 2),
               "peak_rss_mb": round(peak_mb, 1), "verdicts": verdicts}
    print(f"single patient via the CLI (fresh process): {single:.2f} s wall")
    print(f"warm batch of {args.n} on {args.jobs} process(es): "
          f"{figures['patients_per_second']} patients/s, "
          f"{figures['ms_per_patient']} ms/patient, peak RSS {figures['peak_rss_mb']} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
