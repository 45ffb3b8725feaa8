"""Benchmark: SPARQL over the verdicts of N generated patients, on ``serve`` and on ``query``.

For each size:

- ``serve``: the real program on the patient inputs (``serve COHORT --jobs J``), the time until
  it prints its banner (ready: screened, loaded, Oxigraph listening), the peak RSS of the
  ``serve`` Python process itself and of its whole process tree (workers, Oxigraph loader),
  then each named query's latency through the gate (HTTP, JSON results), median of
  ``--repeat``.
- ``query``: the verdicts written once as N-Quads (``screen --format nquads``); the time to
  load them into a query store, each named query's evaluation time in that store (median of
  ``--repeat``); then the command line: ``query attrition FILE --store DIR`` (load, kept,
  and evaluation) once, and ``query NAME --store DIR`` (the kept store) per named query.

The machine's load average is printed, since other work on the machine moves every figure.
The last line is one JSON object.

    .venv/bin/python bench/sparql_bench.py --sizes 1000 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

from ql1706kg.inputs.synthetic import AS_OF, patients
from ql1706kg.semweb.query import named_queries, query_store, run

PROGRAM = str(Path(sys.executable).parent / "ql1706kg")


def cohort(folder: Path, n: int) -> Path:
    source = folder / f"cohort-{n}.ndjson"
    with source.open("w") as handle:
        for record in patients(n, seed=1706):
            handle.write(json.dumps(record) + "\n")
    return source


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss(process: psutil.Process, tree: bool) -> int:
    members = [process, *(process.children(recursive=True) if tree else [])]
    total = 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def serve(source: Path, jobs: int, repeat: int, folder: Path) -> dict:
    port = free_port()
    log = folder / "serve.log"
    began = time.perf_counter()
    with log.open("w") as err:
        process = subprocess.Popen([PROGRAM, "serve", str(source), "--as-of", AS_OF, "--port",
                                    str(port), "--jobs", str(jobs), "--timeout", "120"],
                                   stdout=subprocess.DEVNULL, stderr=err)
    watched = psutil.Process(process.pid)
    own = tree = 0
    try:
        while "SPARQL endpoint" not in log.read_text():
            if process.poll() is not None:
                raise SystemExit(f"serve stopped: {log.read_text()}")
            own, tree = max(own, rss(watched, False)), max(tree, rss(watched, True))
            time.sleep(0.05)
        ready = time.perf_counter() - began
        latencies = {}
        for name, query in named_queries().items():
            times, rows = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/query",
                    data=urllib.parse.urlencode({"query": query.text}).encode(),
                    headers={"Accept": "application/sparql-results+json",
                             "Content-Type": "application/x-www-form-urlencoded"})
                with urllib.request.urlopen(request, timeout=300) as response:
                    rows = len(json.loads(response.read())["results"]["bindings"])
                times.append(time.perf_counter() - start)
            latencies[name] = {"seconds": round(statistics.median(times), 3), "rows": rows}
        own = max(own, rss(watched, False))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return {"ready_seconds": round(ready, 1), "serve_process_peak_rss_mb": round(own / 2**20, 1),
            "tree_peak_rss_mb": round(tree / 2**20, 1), "queries": latencies}


def query(source: Path, jobs: int, repeat: int, folder: Path) -> dict:
    verdicts = folder / "verdicts.nq"
    subprocess.run([PROGRAM, "screen", str(source), "--as-of", AS_OF, "--format", "nquads",
                    "-o", str(verdicts), "--quiet", "--jobs", str(jobs)], check=True)
    began = time.perf_counter()
    with query_store([verdicts]) as store:
        loaded = time.perf_counter() - began
        evaluation = {}
        for name, named in named_queries().items():
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                rows = len(run(named.text, store, timeout=300)[1])
                times.append(time.perf_counter() - start)
            evaluation[name] = {"seconds": round(statistics.median(times), 3), "rows": rows}
    kept = folder / "store"
    start = time.perf_counter()
    subprocess.run([PROGRAM, "query", "attrition", str(verdicts), "--store", str(kept),
                    "--format", "csv"], check=True, stdout=subprocess.DEVNULL)
    first = time.perf_counter() - start
    whole = {}
    for name in named_queries():
        start = time.perf_counter()
        subprocess.run([PROGRAM, "query", name, "--store", str(kept), "--format", "csv",
                        "--timeout", "300"], check=True, stdout=subprocess.DEVNULL)
        whole[name] = round(time.perf_counter() - start, 2)
    return {"verdict_bytes": verdicts.stat().st_size, "load_seconds": round(loaded, 1),
            "queries": evaluation, "cli_first_seconds": round(first, 1), "cli_seconds": whole}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", choices=["serve", "query"], action="append", default=[])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            source = cohort(folder, n)
            row: dict = {"n": n, "load_average_start": os.getloadavg()[0]}
            print(f"n={n}  load average {row['load_average_start']:.2f} on "
                  f"{os.cpu_count()} cores", flush=True)
            if "serve" not in args.skip:
                row["serve"] = found = serve(source, args.jobs, args.repeat, folder)
                print(f"  serve: ready in {found['ready_seconds']} s; serve process peak "
                      f"{found['serve_process_peak_rss_mb']} MB, tree peak "
                      f"{found['tree_peak_rss_mb']} MB", flush=True)
                for name, figure in found["queries"].items():
                    print(f"    {name:<22} {figure['seconds']:>7.3f} s  {figure['rows']} rows",
                          flush=True)
            if "query" not in args.skip:
                row["query"] = found = query(source, args.jobs, args.repeat, folder)
                print(f"  query: {found['verdict_bytes'] / 2**20:.0f} MB of N-Quads loaded "
                      f"in {found['load_seconds']} s; 'query attrition FILE --store DIR' "
                      f"{found['cli_first_seconds']} s", flush=True)
                for name, figure in found["queries"].items():
                    print(f"    {name:<22} {figure['seconds']:>7.3f} s  {figure['rows']} rows;"
                          f" 'query NAME --store DIR' {found['cli_seconds'][name]} s",
                          flush=True)
            row["load_average_end"] = os.getloadavg()[0]
            results.append(row)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
