"""Benchmark: the full screening pipeline on N generated patients, with its floor and references.

Prints, in one run, for N seeded synthetic patients (ql1706kg.inputs.synthetic, as
``ql1706kg generate`` writes them: every criterion exercised, about 40 % eligible) in the
project's JSON list:
  * the full pipeline as the CLI runs it (read, lift, derive, validate, judge, explain, write
    the JSON document) in one process and with ``--jobs J`` (default 2), alternately
    ``--repeat`` times: patients per second (medians), ms per patient, peak memory, and the
    speed-up as the median of the ratios of neighbouring runs (the machine's speed drifts, a
    pair sees about the same speed). Each run is a fresh process, timed warm;
  * the parse-only floor of the same file: reading it into records, nothing else;
  * cold start: ``python -c "import rdflib"``, ``ql1706kg criteria`` and ``ql1706kg screen``
    of one patient as fresh processes, alternately ``--runs`` times, with the median of each
    command's ratios to the rdflib import run just before it (the targets: criteria within
    2x, one patient within 3x);
  * the pySHACL reference: plain ``pyshacl.validate(..., inference="owlrl")`` per patient
    with the ontology as ``ont_graph``, on a small N (``--reference-n``; 0 skips it);
  * with --scaling, the same figures at N = 1,000 and 10,000, to show cost grows linearly.
The machine's load average is printed, since other work moves every figure. The last line is
one JSON object with the figures.

Then, unless ``--skip``ped, the other benchmarks of this folder, each as its own process (so
their peaks are their own), keeping the JSON object each prints last under ``"also"``:
  * ``fhir`` -- realistic FHIR (``fhir_bench.py``: the public mCODE 4.0.0 examples copied N times
    with rewritten ids, as NDJSON bulk export and as bundles) at 1,000 and 10,000 patients:
    rate in one process and with ``--jobs``, peak RSS of the whole process tree;
  * ``rdf`` -- Turtle, JSON-LD and N-Quads verdict output against NDJSON (``rdf_bench.py``);
  * ``sparql`` -- ``serve``'s time to ready and each named query's latency, and ``query`` on the
    N-Quads file and on a ``--store`` (``sparql_bench.py``), at 1,000 and 10,000 patients.
``--fhir-realistic`` runs only the FHIR part (after the JSON figures). ``--format fhir``
measures the synthetic patients as an FHIR R4 bulk export instead of the JSON list; ``--also
SCRIPT`` runs any other script of this folder. Not run by CI as pass/fail. The whole default
run takes about 15 minutes on the 2-core machine.
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
from ql1706kg.inputs.read import read_paths
from ql1706kg.inputs.synthetic import AS_OF, BASE, encode_cohort, patients

HERE = Path(__file__).resolve().parent


def write_inputs(n: int, seed: int, folder: Path, fmt: str) -> Path:
    """N patients as one JSON list file (written as ``generate`` writes it), or as an FHIR
    bulk export folder (one NDJSON file per resource type)."""
    if fmt == "json":
        path = folder / "cohort.json"
        with path.open("wb") as handle:
            for piece in encode_cohort(patients(n, seed), "json"):
                handle.write(piece)
        return path
    from ql1706kg.inputs.fhir_write import to_bundle

    export = folder / "fhir-export"
    export.mkdir()
    handles: dict[str, object] = {}
    try:
        for record in patients(n, seed):
            for entry in to_bundle(record, "relative")["entry"]:
                kind = entry["resource"]["resourceType"]
                if kind not in handles:
                    handles[kind] = (export / f"{kind}.ndjson").open("w")
                handles[kind].write(json.dumps(entry["resource"]) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return export


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def full_pipeline(path: Path, n: int, jobs: int) -> tuple[float, float, dict]:
    """``ql1706kg screen PATH --format json -o FILE --jobs J`` through the CLI's own code,
    timed warm, in a fresh process so that its peak memory is the pipeline's (workers
    included), not this script's. Returns seconds, peak RSS in MB and the verdict counts."""
    out = path.parent / "verdicts.json"
    proc = subprocess.run([sys.executable, __file__, "--pipeline-only", str(path), "--jobs",
                           str(jobs), "--output", str(out)], check=True, capture_output=True,
                          text=True)
    figures = json.loads(proc.stdout.splitlines()[-1])
    verdicts: dict[str, int] = {}
    screened = json.loads(out.read_text(encoding="utf-8"))["patients"]
    assert len(screened) == n, len(screened)
    for patient in screened:
        verdicts[patient["verdict"]] = verdicts.get(patient["verdict"], 0) + 1
    return figures["seconds"], figures["peak_rss_mb"], verdicts


def pipeline_only(path: Path, jobs: int, out: Path) -> None:
    """The child of full_pipeline: warm up on other patients, then time the CLI code path."""
    screen(list(patients(20, 99)), as_of=AS_OF)  # terminology, shapes, imports
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


def parse_floor(path: Path) -> float:
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


def cold_start(runs: int) -> dict:
    """Fresh processes, alternately: the rdflib import, ``criteria``, one patient screened.
    The first round is not counted (it writes byte code and the protocol caches)."""
    script = str(Path(sys.executable).parent / "ql1706kg")
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.json"
        one.write_text(json.dumps(BASE))
        commands = {"import_rdflib": [sys.executable, "-c", "import rdflib"],
                    "criteria": [script, "criteria"],
                    "one_patient": [script, "screen", str(one), "--as-of", AS_OF, "--format",
                                    "json"]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(runs + 1):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, check=False, capture_output=True)
                if round_:
                    times[name].append(time.perf_counter() - start)
    base = times["import_rdflib"]
    return {name: {"median_seconds": round(statistics.median(values), 3),
                   "ratio_to_import_rdflib": round(statistics.median(
                       [v / b for v, b in zip(values, base, strict=True)]), 2)}
            for name, values in times.items()}


def measure(n: int, seed: int, jobs: int, fmt: str, repeat: int) -> dict:
    """One process and ``jobs`` processes on the same input, alternately, ``repeat`` times
    each (medians), and the parse-only floor of that input."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_inputs(n, seed, Path(tmp), fmt)
        single, parallel, peaks = [], [], []
        for _ in range(repeat):
            elapsed, peak_mb, verdicts = full_pipeline(path, n, 1)
            single.append(elapsed)
            peaks.append(peak_mb)
            if jobs > 1:
                elapsed, peak_mb, _ = full_pipeline(path, n, jobs)
                peaks.append(peak_mb)
            parallel.append(elapsed)
        floor = min(parse_floor(path) for _ in range(repeat))
    one, many = statistics.median(single), statistics.median(parallel)
    ratios = [s / p for s, p in zip(single, parallel, strict=True)]
    return {"format": fmt, "n": n, "jobs": jobs,
            "one_process_patients_per_second": round(n / one, 1),
            "one_process_ms_per_patient": round(1000 * one / n, 2),
            "patients_per_second": round(n / many, 1),
            "ms_per_patient": round(1000 * many / n, 2), "peak_rss_mb": max(peaks),
            "speedup_over_one_process": round(statistics.median(ratios), 2),
            "speedup_per_pair": [round(r, 2) for r in ratios],
            "one_process_runs_patients_per_second": [round(n / t, 1) for t in single],
            "runs_patients_per_second": [round(n / t, 1) for t in parallel],
            "parse_floor_patients_per_second": round(n / floor, 1), "verdicts": verdicts}


OTHERS = {  # --skip name: the script and its arguments
    "fhir": ["fhir_bench.py", "--sizes", "1000,10000", "--repeat", "1"],
    "rdf": ["rdf_bench.py", "--sizes", "1000", "10000", "--repeat", "1"],
    "sparql": ["sparql_bench.py", "--sizes", "1000", "10000", "--repeat", "1"],
}


def also(script: str, *arguments: str) -> dict:
    """Another benchmark of this folder, run as it is; the JSON object of its last line."""
    path = HERE / script
    proc = subprocess.run([sys.executable, str(path), *arguments], check=True,
                          capture_output=True, text=True)
    print(proc.stdout, end="")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(figures: dict) -> None:
    main = figures["pipeline"]
    print(f"{main['n']} patients ({main['format']}), load average {figures['load_average']}:")
    print(f"  one process: {main['one_process_patients_per_second']} patients/s "
          f"({main['one_process_ms_per_patient']} ms/patient; runs "
          f"{main['one_process_runs_patients_per_second']})")
    print(f"  --jobs {main['jobs']}: {main['patients_per_second']} patients/s "
          f"({main['ms_per_patient']} ms/patient), {main['speedup_over_one_process']}x one "
          f"process (median of pairs {main['speedup_per_pair']}), peak RSS "
          f"{main['peak_rss_mb']} MB")
    print(f"  parse-only floor of the same file: {main['parse_floor_patients_per_second']} "
          f"patients/s ({figures['parse_floor_ratio']}x the one-process pipeline)")
    if figures["pyshacl_reference_patients_per_second"]:
        print(f"  pySHACL reference (owlrl, per patient): "
              f"{figures['pyshacl_reference_patients_per_second']} patients/s "
              f"({figures['speed_over_pyshacl']}x slower than one process)")
    for name, cold in figures["cold_start"].items():
        print(f"  cold start, {name}: {cold['median_seconds']} s "
              f"({cold['ratio_to_import_rdflib']}x 'import rdflib')")
    for m in figures["scaling"]:
        print(f"  scaling: N = {m['n']}: one process {m['one_process_patients_per_second']}, "
              f"--jobs {m['jobs']} {m['patients_per_second']} patients/s, peak RSS "
              f"{m['peak_rss_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="generated patients")
    parser.add_argument("--jobs", type=int, default=2, help="the parallel run's --jobs")
    parser.add_argument("--seed", type=int, default=1706)
    parser.add_argument("--runs", type=int, default=9, help="cold-start rounds for medians")
    parser.add_argument("--repeat", type=int, default=3,
                        help="pipeline runs (each in one process and with --jobs) for medians")
    parser.add_argument("--reference-n", type=int, default=20,
                        help="patients for the pySHACL reference (0: skip it)")
    parser.add_argument("--format", choices=["json", "fhir"], default="json")
    parser.add_argument("--scaling", action="store_true",
                        help="also run at N = 1,000 and 10,000")
    parser.add_argument("--also", action="append", default=[], metavar="SCRIPT",
                        help="another benchmark of bench/ to run after these figures")
    parser.add_argument("--skip", action="append", default=[], choices=sorted(OTHERS),
                        help="leave out one of the other benchmarks (repeatable)")
    parser.add_argument("--fhir-realistic", action="store_true",
                        help="of the other benchmarks, run only realistic FHIR")
    parser.add_argument("--pipeline-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline_only:
        pipeline_only(args.pipeline_only, args.jobs, args.output)
        return

    screen(list(patients(20, args.seed + 1)), as_of=AS_OF)  # warm-up for the parse floor
    pipeline = measure(args.n, args.seed, args.jobs, args.format, args.repeat)
    reference = (args.reference_n / pyshacl_reference(args.reference_n, args.seed)
                 if args.reference_n else None)
    figures = {
        "load_average": [round(x, 2) for x in os.getloadavg()], "pipeline": pipeline,
        "parse_floor_ratio": round(pipeline["parse_floor_patients_per_second"]
                                   / pipeline["one_process_patients_per_second"], 1),
        "pyshacl_reference_patients_per_second": round(reference, 2) if reference else None,
        "speed_over_pyshacl": (round(pipeline["one_process_patients_per_second"] / reference,
                                     1) if reference else None),
        "cold_start": cold_start(args.runs),
        "scaling": [measure(n, args.seed, args.jobs, args.format, args.repeat)
                    for n in (1000, 10000)] if args.scaling else [],
    }
    report(figures)
    others = ["fhir"] if args.fhir_realistic else [n for n in OTHERS if n not in args.skip]
    jobs = ["--jobs", str(args.jobs)]
    figures["also"] = {name: also(*OTHERS[name], *jobs) for name in others}
    figures["also"].update({script: also(script) for script in args.also})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
