"""Benchmark: memory stays flat as the batch grows (streamed input, results written as they come).

Writes N generated patients as NDJSON records, screens them with the real CLI
(``screen FILE --format ndjson -o OUT --quiet``) and prints the peak resident memory of the
CLI and its worker processes for each N, with the rate. Flat memory means the peak at
N = 100,000 is about the peak at N = 10,000. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ql1706kg.synthetic import AS_OF, patients


def run(n: int, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "cohort.ndjson", Path(tmp) / "verdicts.ndjson"
        with source.open("w") as handle:
            for record in patients(n, seed=1706):
                handle.write(json.dumps(record) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "ql1706kg"), "screen", str(source),
                        "--as-of", AS_OF, "--format", "ndjson", "-o", str(out), "--quiet",
                        "--jobs", str(jobs)], check=False)
        elapsed = time.perf_counter() - start
        lines = sum(1 for _ in out.open())
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"n": n, "screened": lines, "seconds": round(elapsed, 1),
            "patients_per_second": round(n / elapsed, 1),
            "peak_rss_mb": round(max(peak, before) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        figures = run(n, args.jobs)
        results.append(figures)
        print(f"N = {n}: {figures['patients_per_second']} patients/s, peak RSS "
              f"{figures['peak_rss_mb']} MB (largest process)", flush=True)
    print(json.dumps({"jobs": args.jobs, "runs": results}))


if __name__ == "__main__":
    main()
