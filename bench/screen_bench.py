"""Benchmark: the full screening pipeline on N generated patients, with two references.

Prints, for N seeded synthetic patients (ql1706kg.inputs.synthetic: every criterion exercised, about
40 % eligible) written as the project's JSON and as an FHIR R4 NDJSON bulk export:
  * the full pipeline as the CLI runs it (read, lift, derive, validate, judge, explain, write
    JSON): patients per second, ms per patient, peak memory. It runs warm in a fresh process
    (this script's generated inputs would otherwise count in its peak memory);
  * the parse-only floor: reading the same inputs into records, nothing else;
  * the pySHACL reference: plain ``pyshacl.validate(..., inference="owlrl")`` per patient
    with the ontology as ``ont_graph``, on a small N (it is slow);
  * the wall time of ``ql1706kg screen ONE_FILE`` as a fresh process (start-up included);
  * with --scaling, the same figures at N = 1,000 and 10,000, to show cost grows linearly.
The last line is one JSON object with the figures. Not run by CI as pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ql1706kg import cli, screen
from ql1706kg.inputs.fhir_write import to_bundle
from ql1706kg.inputs.read import read_paths
from ql1706kg.inputs.synthetic import AS_OF, BASE, patients


def write_inputs(n: int, seed: int, folder: Path, fmt: str) -> Path:
    """Write N patients as one JSON list file, or as an NDJSON bulk export (one file per type)."""
    records = list(patients(n, seed))
    if fmt == "json":
        path = folder / "cohort.json"
        path.write_text(json.dumps(records))
        return path
    export = folder / "fhir-export"
    export.mkdir()
    handles: dict[str, object] = {}
    try:
        for index, record in enumerate(records):
            for entry in to_bundle(record, "relative")["entry"]:
                resource_ = entry["resource"]
                kind = resource_["resourceType"]
                if kind not in handles:
                    handles[kind] = (export / f"{kind}.ndjson").open("w")
                handles[kind].write(json.dumps(resource_) + "\n")
            del index
    finally:
        for handle in handles.values():
            handle.close()
    return export


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def full_pipeline(path: Path, n: int, jobs: int) -> tuple[float, float, dict]:
    """``ql1706kg screen PATH --format json -o FILE --jobs J`` through the CLI's own code
    (read, lift, derive, validate, judge, explain, write JSON), timed warm, in a fresh process
    so that its peak memory is the pipeline's (workers included), not this script's.

    Returns seconds, peak RSS in MB, and the verdict counts read back from the output.
    """
    out = path.parent / "verdicts.json"
    proc = subprocess.run([sys.executable, __file__, "--pipeline-only", str(path), "--jobs",
                           str(jobs), "--output", str(out)], check=True, capture_output=True,
                          text=True)
    figures = json.loads(proc.stdout.splitlines()[-1])
    patients = json.loads(out.read_text(encoding="utf-8"))["patients"]
    assert len(patients) == n, len(patients)
    verdicts: dict[str, int] = {}
    for patient in patients:
        verdicts[patient["verdict"]] = verdicts.get(patient["verdict"], 0) + 1
    return figures["seconds"], figures["peak_rss_mb"], verdicts


def pipeline_only(path: Path, jobs: int, out: Path) -> None:
    """The child of full_pipeline: warm up on other patients, then time the CLI code path."""
    screen(list(patients(20, 99)), as_of=AS_OF)  # terminology, compiled shapes
    args = ["screen", str(path), "--as-of", AS_OF, "--format", "json", "--jobs", str(jobs),
            "--quiet", "-o", str(out)]

    def run() -> None:
        try:
            cli.main(args, standalone_mode=False)
        except SystemExit as exc:
            assert not exc.code, f"screen exited with {exc.code}"

    seconds = timed(run)
    # This process's own high-water mark (VmHWM: ru_maxrss would carry over the memory of
    # the benchmark process that started it), and the workers'.
    own_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text()
                  .splitlines() if line.startswith("VmHWM:"))
    peak = max(own_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": round(peak, 1)}))


def parse_floor(path: Path, n: int) -> float:
    return timed(lambda: sum(1 for _ in read_paths([path])))


def pyshacl_reference(n: int, seed: int) -> float:
    """Plain pySHACL with OWL-RL inference per patient, on the lifted (underived) graph."""
    from pyshacl import validate
    from rdflib import Graph

    from ql1706kg.inputs.records import parse_record
    from ql1706kg.pipeline.lift import lift
    from ql1706kg.pipeline.validate import load_shapes_graph
    from ql1706kg.protocol.terminology import load_ontology

    ontology, shapes_graph = load_ontology(), load_shapes_graph()
    graphs = []
    for record in patients(n, seed):
        graph = Graph()
        graph += lift(parse_record(record, "bench").record)
        graphs.append(graph)

    def run() -> None:
        for graph in graphs:
            validate(graph, shacl_graph=shapes_graph, ont_graph=ontology, inference="owlrl")

    return timed(run)


def cli_single(runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.json"
        path.write_text(json.dumps(BASE))
        script = Path(sys.executable).parent / "ql1706kg"
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            subprocess.run([str(script), "screen", str(path), "--as-of", AS_OF, "--format",
                            "json"], check=False, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:])


def measure(n: int, seed: int, jobs: int, fmt: str, repeat: int) -> dict:
    """Time the pipeline with ``jobs`` and with one process on the same input, alternately,
    ``repeat`` times each; the medians are reported. The speed-up is the median of the ratios
    of runs made one after the other: the machine's speed drifts (the same work varies by up
    to ±20 % on this shared host), and a pair of neighbouring runs sees about the same speed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_inputs(n, seed, Path(tmp), fmt)
        parallel, single, peaks = [], [], []
        for _ in range(repeat):
            elapsed, peak_mb, verdicts = full_pipeline(path, n, jobs)
            parallel.append(elapsed)
            peaks.append(peak_mb)
            single.append(full_pipeline(path, n, 1)[0] if jobs > 1 else elapsed)
        floor = min(parse_floor(path, n) for _ in range(repeat))
    elapsed, one = statistics.median(parallel), statistics.median(single)
    ratios = [s / p for s, p in zip(single, parallel, strict=True)]
    return {"format": fmt, "n": n, "patients_per_second": round(n / elapsed, 1),
            "ms_per_patient": round(1000 * elapsed / n, 2), "peak_rss_mb": max(peaks),
            "one_process_patients_per_second": round(n / one, 1),
            "speedup_over_one_process": round(statistics.median(ratios), 2),
            "speedup_per_pair": [round(r, 2) for r in ratios],
            "runs_patients_per_second": [round(n / t, 1) for t in parallel],
            "parse_floor_patients_per_second": round(n / floor, 1), "verdicts": verdicts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="generated patients")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1706)
    parser.add_argument("--runs", type=int, default=3, help="CLI runs for the median")
    parser.add_argument("--repeat", type=int, default=3,
                        help="pipeline runs (each with --jobs and with one process) for medians")
    parser.add_argument("--reference-n", type=int, default=20,
                        help="patients for the pySHACL reference")
    parser.add_argument("--format", choices=["json", "fhir"], default="json")
    parser.add_argument("--scaling", action="store_true",
                        help="also run at N = 1,000 and 10,000")
    parser.add_argument("--pipeline-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline_only:
        pipeline_only(args.pipeline_only, args.jobs, args.output)
        return

    screen(list(patients(20, args.seed + 1)), as_of=AS_OF)  # warm-up for the parse floor
    main_run = measure(args.n, args.seed, args.jobs, args.format, args.repeat)
    other = measure(min(args.n, 1000), args.seed, args.jobs,
                    "fhir" if args.format == "json" else "json", 1)
    reference = args.reference_n / pyshacl_reference(args.reference_n, args.seed)
    single = cli_single(args.runs)
    scaling = ([measure(n, args.seed, args.jobs, args.format, args.repeat)
                for n in (1000, 10000)]
               if args.scaling else [])
    figures = {
        "n": args.n, "jobs": args.jobs, "format": args.format,
        "patients_per_second": main_run["patients_per_second"],
        "ms_per_patient": main_run["ms_per_patient"], "peak_rss_mb": main_run["peak_rss_mb"],
        "parse_floor_patients_per_second": main_run["parse_floor_patients_per_second"],
        "pyshacl_reference_patients_per_second": round(reference, 2),
        "speed_over_pyshacl": round(main_run["patients_per_second"] / reference, 1),
        "parse_floor_ratio": round(main_run["parse_floor_patients_per_second"]
                                   / main_run["patients_per_second"], 1),
        "one_process_patients_per_second": main_run["one_process_patients_per_second"],
        "speedup_over_one_process": main_run["speedup_over_one_process"],
        "speedup_per_pair": main_run["speedup_per_pair"],
        "runs_patients_per_second": main_run["runs_patients_per_second"],
        "cli_single_patient_seconds": round(single, 3),
        "verdicts": main_run["verdicts"], "other_format": other,
        "scaling": [{k: m[k] for k in ("n", "patients_per_second", "ms_per_patient",
                                       "peak_rss_mb", "speedup_over_one_process")}
                    for m in scaling],
    }
    print(f"{args.n} patients ({args.format}) on {args.jobs} process(es): "
          f"{figures['patients_per_second']} patients/s, {figures['ms_per_patient']} ms/patient, "
          f"peak RSS {figures['peak_rss_mb']} MB")
    print(f"one process: {figures['one_process_patients_per_second']} patients/s; --jobs "
          f"{args.jobs} is {figures['speedup_over_one_process']}x that (median of pairs "
          f"{figures['speedup_per_pair']})")
    print(f"parse-only floor: {figures['parse_floor_patients_per_second']} patients/s "
          f"({figures['parse_floor_ratio']}x the pipeline); pySHACL reference (owlrl, per "
          f"patient): {figures['pyshacl_reference_patients_per_second']} patients/s "
          f"({figures['speed_over_pyshacl']}x slower)")
    print(f"{other['n']} patients ({other['format']}): {other['patients_per_second']} patients/s"
          f" (its parse-only floor: {other['parse_floor_patients_per_second']})")
    print(f"single patient via the CLI (fresh process): {single:.2f} s wall")
    for m in scaling:
        print(f"scaling: N = {m['n']}: {m['patients_per_second']} patients/s "
              f"({m['ms_per_patient']} ms/patient, peak RSS {m['peak_rss_mb']} MB)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
