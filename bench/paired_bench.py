"""Benchmark: this tree against another checkout, in CPU time, paired and interleaved.

    python bench/paired_bench.py --base ../base [--pairs 5] [--jobs 1,2] [--json-n 3000]
                                 [--fhir-n 2100] [--layouts ndjson] [--keep DIR]

Why CPU time: the machine is shared, so wall-clock figures move with other people's work by
more than the changes we want to see. The CPU seconds a command spends (user + system, its
worker processes included: they are reaped, so ``wait4`` counts them) move much less. Each
tree screens the same inputs with its own virtual environment (``TREE/.venv``, else this one's:
a snapshot made with ``git archive`` needs none), the tree first on the path, through the real
CLI (``screen INPUT --as-of D --format ndjson --quiet -o OUT --jobs J``), one fresh process per
run; runs alternate base/candidate, the order flipping every pair (AB BA AB ...) so that a
drift of the machine's speed falls on both alike. Inputs, the same for both trees:
  * ``json``: ``--json-n`` synthetic patients (ql1706kg.inputs.synthetic) as one JSON list;
  * ``fhir-ndjson`` / ``fhir-bundles``: the realistic FHIR set of ``fhir_bench.py`` (the public
    mCODE examples copied, ids rewritten) at ``--fhir-n`` patients;
  * the same inputs at 7 patients, whose run is the fixed cost (imports, terminology, shapes)
    that the per-patient figure leaves out: ``(cpu(N) - cpu(7)) / (N - 7)``.
Printed per input and job count: medians of CPU ms per patient (whole command, and marginal),
patients per CPU second, wall patients/s (noisy), the largest process's peak RSS (ru_maxrss),
the candidate/base ratio of each pair and its median. The last line is one JSON object.
Not run by CI as pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-20"
SMALL = 7
CLI = "import sys; from ql1706kg.cli import run; sys.exit(run())"


def run_once(tree: Path, target: Path, jobs: int, out: Path) -> dict:
    """One ``screen`` in a fresh process; its CPU seconds (workers included), wall, peak."""
    python = tree / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-c", CLI, "screen",
               str(target), "--as-of", AS_OF, "--format", "ndjson", "--quiet", "-o", str(out),
               "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode in (0, 1), f"{command}: exit {proc.returncode}"
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall,
            "peak_mb": usage.ru_maxrss / 1024, "load": os.getloadavg()[0]}


def build_inputs(folder: Path, json_n: int, fhir_n: int, layouts: list[str]
                 ) -> dict[str, tuple[Path, Path, int]]:
    """Each input as (full path, 7-patient path, patients)."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import fhir_bench

    from ql1706kg.inputs.synthetic import encode_cohort, patients

    inputs = {}
    if json_n:
        paths = []
        for n in (json_n, SMALL):
            path = folder / f"cohort-{n}.json"
            with path.open("wb") as handle:
                for piece in encode_cohort(patients(n, 1706), "json"):
                    handle.write(piece)
            paths.append(path)
        inputs["json"] = (paths[0], paths[1], json_n)
    for layout in layouts:
        full, count = fhir_bench.build(layout, fhir_n, folder / f"full-{layout}")
        small, _ = fhir_bench.build(layout, SMALL, folder / f"small-{layout}")
        inputs[f"fhir-{layout}"] = (full, small, count)
    return inputs


def paired(trees: dict[str, Path], target: Path, jobs: int, pairs: int, out: Path
           ) -> dict[str, list[dict]]:
    """``pairs`` runs of each tree, alternating, the order flipped every pair."""
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    names = list(trees)
    for number in range(pairs):
        for name in names if number % 2 == 0 else reversed(names):
            runs[name].append(run_once(trees[name], target, jobs, out))
    return runs


def summary(full: list[dict], small: list[dict], n: int) -> dict:
    cpu = [r["cpu"] for r in full]
    fixed = statistics.median(r["cpu"] for r in small)
    return {"cpu_ms_per_patient": round(1000 * statistics.median(cpu) / n, 2),
            "marginal_cpu_ms_per_patient": round(1000 * (statistics.median(cpu) - fixed)
                                                 / (n - SMALL), 2),
            "fixed_cpu_seconds": round(fixed, 2),
            "patients_per_cpu_second": round(n / statistics.median(cpu), 1),
            "wall_patients_per_second": round(n / statistics.median(r["wall"] for r in full), 1),
            "peak_mb": round(max(r["peak_mb"] for r in full), 1),
            "cpu_runs": [round(c, 2) for c in cpu]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--candidate", type=Path, default=ROOT)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--json-n", type=int, default=3000, help="0: no JSON input")
    parser.add_argument("--fhir-n", type=int, default=2100)
    parser.add_argument("--layouts", default="ndjson", help="ndjson,bundles or empty")
    parser.add_argument("--keep", type=Path, help="write the inputs here (and keep them)")
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "candidate": args.candidate.resolve()}
    layouts = [x for x in args.layouts.split(",") if x]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        inputs = build_inputs(folder, args.json_n, args.fhir_n, layouts)
        rows = []
        for name, (full, small, n) in inputs.items():
            for jobs in (int(x) for x in args.jobs.split(",")):
                big = paired(trees, full, jobs, args.pairs, Path(tmp) / "out.ndjson")
                little = paired(trees, small, jobs, max(3, args.pairs // 2),
                                Path(tmp) / "out-small.ndjson")
                row = {"input": name, "patients": n, "jobs": jobs,
                       "load": [round(r["load"], 1) for r in big["base"] + big["candidate"]]}
                for tree in trees:
                    row[tree] = summary(big[tree], little[tree], n)
                ratios = [c["cpu"] / b["cpu"] for b, c in
                          zip(big["base"], big["candidate"], strict=True)]
                row["cpu_ratio_median"] = round(statistics.median(ratios), 3)
                row["cpu_ratio_pairs"] = [round(r, 3) for r in ratios]
                report(row)
                rows.append(row)
    print(json.dumps({"base": str(trees["base"]), "candidate": str(trees["candidate"]),
                      "pairs": args.pairs, "rows": rows}))


def report(row: dict) -> None:
    print(f"{row['input']}, {row['patients']} patients, --jobs {row['jobs']} "
          f"(load {min(row['load'])}-{max(row['load'])}):", flush=True)
    for tree in ("base", "candidate"):
        f = row[tree]
        print(f"  {tree:9s}: {f['cpu_ms_per_patient']} CPU ms/patient (marginal "
              f"{f['marginal_cpu_ms_per_patient']}, fixed {f['fixed_cpu_seconds']} s), "
              f"{f['patients_per_cpu_second']} patients/CPU s, wall "
              f"{f['wall_patients_per_second']} patients/s, peak {f['peak_mb']} MB; "
              f"runs {f['cpu_runs']}", flush=True)
    print(f"  candidate/base CPU: median {row['cpu_ratio_median']} "
          f"(pairs {row['cpu_ratio_pairs']})", flush=True)


if __name__ == "__main__":
    main()
