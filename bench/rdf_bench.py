"""Benchmark: verdict RDF output (Turtle, N-Quads, JSON-LD) against NDJSON.

Writes N generated patients as NDJSON records, screens them with the real CLI
(``screen FILE --format F -o OUT --quiet --jobs J``) for each format, ``--repeat`` times, and
prints per format the median wall time, its ratio to NDJSON's, the output size and the peak
resident memory of the whole process tree (the CLI and its workers, summed, sampled every
50 ms). The machine's load average is printed with each size, since other work on the machine
moves every figure. The last line is one JSON object.

    .venv/bin/python bench/rdf_bench.py --sizes 1000 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from ql1706kg.inputs.synthetic import AS_OF, patients

FORMATS = ("ndjson", "turtle", "nquads", "jsonld")


def cohort(folder: Path, n: int) -> Path:
    source = folder / f"cohort-{n}.ndjson"
    with source.open("w") as handle:
        for record in patients(n, seed=1706):
            handle.write(json.dumps(record) + "\n")
    return source


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def watched(command: list[str]) -> tuple[float, float]:
    """Run a command; its wall time and the peak RSS (MB) of its process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    watcher = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, tree_rss(watcher))
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{command} exited {process.returncode}")
    return elapsed, peak / 2**20


def run(n: int, jobs: int, repeat: int, folder: Path) -> list[dict]:
    source = cohort(folder, n)
    program = str(Path(sys.executable).parent / "ql1706kg")
    rows = []
    for fmt in FORMATS:
        out = folder / f"out.{fmt}"
        times, peaks = [], []
        for _ in range(repeat):
            seconds, peak = watched([program, "screen", str(source), "--as-of", AS_OF,
                                     "--format", fmt, "-o", str(out), "--quiet",
                                     "--jobs", str(jobs)])
            times.append(seconds)
            peaks.append(peak)
        rows.append({"n": n, "format": fmt, "seconds": round(statistics.median(times), 2),
                     "runs": [round(t, 2) for t in times],
                     "peak_tree_rss_mb": round(max(peaks), 1),
                     "bytes": out.stat().st_size})
        out.unlink()
    base = rows[0]["seconds"]
    for row in rows:
        row["x_ndjson"] = round(row["seconds"] / base, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            print(f"n={n}  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
                  flush=True)
            for row in run(n, args.jobs, args.repeat, Path(tmp)):
                results.append(row)
                print(f"  {row['format']:<7} {row['seconds']:>8.2f} s (median of "
                      f"{args.repeat}; {row['x_ndjson']:.2f}× NDJSON)  peak tree RSS "
                      f"{row['peak_tree_rss_mb']:>7.1f} MB  {row['bytes'] / 2**20:>8.1f} MB "
                      "written", flush=True)
    print(json.dumps({"load_average_end": os.getloadavg()[0], "results": results}))


if __name__ == "__main__":
    main()
