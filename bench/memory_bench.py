"""Benchmark: memory stays flat as the batch grows (streamed input, results written as they come).

Writes N generated patients as NDJSON records or as one JSON list, screens them with the real
CLI (``screen FILE --format ndjson|json -o OUT --quiet``) and prints the peak resident memory of
the CLI and its worker processes for each N, with the rate. Each size runs under its own
small watcher process, so one run's peak is not carried into the next. Flat memory means the
peak at N = 100,000 is about the peak at N = 10,000. The last line is one JSON object.
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

from ql1706kg.inputs.synthetic import AS_OF, encode_cohort, patients


def run(n: int, jobs: int, kind: str, fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / f"cohort.{kind}", Path(tmp) / f"verdicts.{fmt}"
        with source.open("wb") as handle:  # as `ql1706kg generate` writes it, streamed
            for piece in encode_cohort(patients(n, seed=1706), kind):
                handle.write(piece)
        command = [str(Path(sys.executable).parent / "ql1706kg"), "screen", str(source),
                   "--as-of", AS_OF, "--format", fmt, "-o", str(out), "--quiet",
                   "--jobs", str(jobs)]
        watched = subprocess.run([sys.executable, __file__, "--watch", *command], check=True,
                                 capture_output=True, text=True)
        figures = json.loads(watched.stdout)
        with out.open("rb") as handle:  # read as a stream: the document may be gigabytes
            screened = sum(1 for line in handle
                           if fmt == "ndjson" or line in (b"    {\n", b"    {}\n"))
    elapsed = figures["seconds"]
    return {"n": n, "input": kind, "format": fmt, "screened": screened,
            "seconds": round(elapsed, 1), "patients_per_second": round(n / elapsed, 1),
            "peak_rss_mb": figures["peak_rss_mb"]}


def watch(command: list[str]) -> None:
    """Run one screening and print its time and the peak RSS of its largest process (this
    watcher's only children are the CLI and its workers)."""
    start = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_rss_mb": round(peak, 1), "exit": code}))
    sys.exit(code)


def main() -> None:
    if sys.argv[1:2] == ["--watch"]:
        watch(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cases", default="ndjson:ndjson,json:json",
                        help="INPUT:OUTPUT pairs: an NDJSON or JSON-list input file, and the "
                             "--format streamed to -o")
    args = parser.parse_args()
    results = []
    for case in args.cases.split(","):
        kind, fmt = case.split(":")
        for n in (int(x) for x in args.sizes.split(",")):
            figures = run(n, args.jobs, kind, fmt)
            results.append(figures)
            print(f"{kind} input, --format {fmt}, N = {n}: "
                  f"{figures['patients_per_second']} patients/s, "
                  f"peak RSS {figures['peak_rss_mb']} MB (largest process)", flush=True)
    print(json.dumps({"jobs": args.jobs, "runs": results}))


if __name__ == "__main__":
    main()
