"""Benchmark: how long an OMOP run takes to start (``screen --omop``'s reading process).

The workers of ``--jobs`` sit idle until the reading process hands out its first persons: it
opens the database, indexes the site supplement, pushes the terminology's codes down, checks
the candidates and runs the first batch's statement first. For a CDM folder as
``bench/omop_bench.py`` builds it (``cdm.duckdb``, ``csv/supplement.csv``, ``ids.txt``),
prints, over ``--repeat`` fresh processes (the terminology and the protocol's tables come from
the on-disk cache, as in any run after the first on a machine):
  * first: wall and CPU time (every thread of the process) from ``read_omop``'s call to its
    first person;
  * workers: from ``iter_screen``'s call to the moment it would fork its workers (two chunks
    of persons read).
Minimum and median of each, and the load average before and after: the machine is shared,
and other work moves every wall figure (CPU time much less).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def once(folder: Path, what: str) -> None:
    """In a fresh process: print the wall and CPU seconds of ``what``."""
    import ql1706kg.api as api
    from ql1706kg.cli.omop import person_ids
    from ql1706kg.inputs.omop import OmopInput
    from ql1706kg.inputs.omop.read import read_omop

    spec = OmopInput(f"duckdb://{folder / 'cdm.duckdb'}",
                     supplement=folder / "csv" / "supplement.csv",
                     person_ids=person_ids((folder / "ids.txt").read_text()))
    api.terminology()  # loaded before the run, as the CLI does
    assessment = api.assessment_for("2026-11-20")
    wall, cpu = time.perf_counter(), time.process_time()
    if what == "first":
        items = read_omop(spec, validate=False)
        next(items)
        print(time.perf_counter() - wall, time.process_time() - cpu)
        items.close()
        return

    def started(screen_chunk, work, jobs):  # stands for the pool: the time it would fork
        print(time.perf_counter() - wall, time.process_time() - cpu)
        return iter(())

    api.in_workers = started
    for _ in api.iter_screen([spec], assessment, jobs=2):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--once", choices=["first", "workers"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        once(args.folder, args.once)
        return
    print(f"load average {os.getloadavg()[0]:.2f}")
    for what in ("first", "workers"):
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, str(args.folder), "--once", what],
                                 capture_output=True, text=True, check=True).stdout.split()
            runs.append((float(out[0]), float(out[1])))
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{what}: wall min {min(walls):.3f} s median {statistics.median(walls):.3f} s; "
              f"cpu min {min(cpus):.3f} s median {statistics.median(cpus):.3f} s")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
