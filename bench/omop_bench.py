"""Benchmark: screening an OMOP CDM in place (--omop) against the same patients as NDJSON.

For N seeded synthetic patients (ql1706kg.inputs.synthetic, as ``ql1706kg generate`` makes them)
written into a DuckDB CDM (OHDSI's v5.4 DDL, ql1706kg.inputs.omop.etl; what the CDM cannot
hold in a site supplement of the long-table format) and into an NDJSON file, prints:
  * extraction: persons per second read from the CDM in one process, as the screening's
    reading process reads them (candidates, one query per batch, each person handed on with
    its facts), with and without the supplement; and each person assembled into its record
    too (the work a worker adds);
  * end to end: ``screen --omop duckdb://... --supplement ...`` against ``screen FILE.ndjson``,
    both ``--format ndjson -o`` with ``--jobs J``, alternately ``--repeat`` times (the order
    flipping every pair), as fresh
    processes: patients per second, the ratio of neighbouring runs (median) and the peak RSS
    of the largest process of each run;
  * memory: the peak RSS of ``screen --omop`` at every size of ``--sizes`` (flat means the
    peak at 100,000 persons is about the peak at 10,000);
  * with ``--postgres``, the extraction rate from the same CDM in a throwaway PostgreSQL
    cluster (Unix socket; the tests' own, tests/omop_support.py).
The load average is printed at the start and the end: the machine is shared, and other work
moves every figure. The last line is one JSON object with the figures.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROGRAM = str(Path(sys.executable).parent / "ql1706kg")


def build(n: int, folder: Path) -> dict:
    """The CDM (DuckDB), its supplement and the NDJSON file of N patients; their times."""
    from ql1706kg.inputs.omop.etl import write_cdm
    from ql1706kg.inputs.omop.write import load_duckdb
    from ql1706kg.inputs.synthetic import encode_cohort, patients

    start = time.perf_counter()
    written = write_cdm(patients(n, 1706), folder / "csv")
    wrote = time.perf_counter() - start
    load_duckdb(written.files, folder / "cdm.duckdb")
    loaded = time.perf_counter() - start - wrote
    # the NDJSON file holds the same patients as the CDM: a record without a birth date is not
    # written into the CDM (a person needs a year of birth), and screening it as NDJSON only
    # would compare different work
    kept = set(written.persons.values())
    same = (r for r in patients(n, 1706) if str(r.get("id")) in kept)
    with (folder / "cohort.ndjson").open("wb") as handle:
        for piece in encode_cohort(same, "ndjson"):
            handle.write(piece)
    ids = folder / "ids.txt"
    ids.write_text("\n".join(map(str, written.persons)) + "\n")
    return {"n": n, "persons": len(written.persons), "write_s": round(wrote, 1),
            "load_s": round(loaded, 1), "url": f"duckdb://{folder / 'cdm.duckdb'}",
            "supplement": str(written.files["supplement"]), "ids": str(ids),
            "ndjson": str(folder / "cohort.ndjson")}


def extract(url: str, ids: str, supplement: str | None, assemble: bool) -> dict:
    """In a fresh process: read every person (and assemble each) as the screening does."""
    code = f"""
import json, resource, time
from pathlib import Path
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.read import read_omop
from ql1706kg.protocol.terminology import terminology
terminology()
ids = tuple(int(x) for x in Path({ids!r}).read_text().split())
spec = OmopInput({url!r}, person_ids=ids, supplement={supplement!r})
start, cpu = time.perf_counter(), time.process_time()
count = 0
for item in read_omop(spec, False):
    if {assemble!r} and hasattr(item, "assemble"):
        item.assemble()
    count += 1
# VmHWM, not ru_maxrss: a child started by vfork/exec inherits in ru_maxrss the peak of the
# process that started it (this bench, which holds the 100,000 patients it wrote: 342 MB)
try:
    peak = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
                if line.startswith("VmHWM"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({{"persons": count, "seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": peak}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["per_second"] = round(figures["persons"] / figures["seconds"], 1)
    # CPU time of the reading process, DuckDB's threads included: on a loaded machine the
    # steadier figure of the work the reading adds to the screening
    figures["cpu_ms_per_person"] = round(1000 * figures["cpu_seconds"] / figures["persons"], 3)
    return figures


def screened(command: list[str]) -> dict:
    """One CLI run under memory_bench's watcher: seconds, and the peak RSS of its largest
    process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, str(HERE / "memory_bench.py"), "--watch", *command],
                         check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(out.strip().splitlines()[-1])
    # CPU time of the run and every process it waited for (its workers): on a shared, loaded
    # machine the fairer comparison of two runs' work
    figures["cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime
                             - before.ru_stime, 2)
    return figures


def omop_command(cdm: dict, out: Path, jobs: int) -> list[str]:
    return [PROGRAM, "screen", "--omop", cdm["url"], "--supplement", cdm["supplement"],
            "--person-ids", f"@{cdm['ids']}", "--as-of", "2026-11-20", "--format", "ndjson",
            "-o", str(out), "--quiet", "--jobs", str(jobs)]


def ndjson_command(cdm: dict, out: Path, jobs: int) -> list[str]:
    return [PROGRAM, "screen", cdm["ndjson"], "--as-of", "2026-11-20", "--format", "ndjson",
            "-o", str(out), "--quiet", "--jobs", str(jobs)]


def end_to_end(cdm: dict, folder: Path, jobs: int, repeat: int) -> dict:
    runs: dict[str, list] = {"omop": [], "ndjson": []}
    commands = {"omop": omop_command(cdm, folder / "omop.ndjson", jobs),
                "ndjson": ndjson_command(cdm, folder / "nd.ndjson", jobs)}
    for index in range(repeat):
        # the order flips every pair (AB BA AB ...): a drift of the machine's speed falls on
        # both alike (a shared machine's speed moved by a quarter within minutes)
        for name in ("omop", "ndjson") if index % 2 == 0 else ("ndjson", "omop"):
            runs[name].append(screened(commands[name]))
    n = cdm["persons"]
    ratios = [n / o["seconds"] / (n / d["seconds"])
              for o, d in zip(runs["omop"], runs["ndjson"], strict=True)]
    return {"n": n, "jobs": jobs,
            "omop_per_second": round(statistics.median(n / r["seconds"]
                                                       for r in runs["omop"]), 1),
            "ndjson_per_second": round(statistics.median(n / r["seconds"]
                                                         for r in runs["ndjson"]), 1),
            "ratio": round(statistics.median(ratios), 3),
            "cpu_ratio": round(statistics.median(
                d["cpu_s"] / o["cpu_s"] for o, d in zip(runs["omop"], runs["ndjson"],
                                                         strict=True)), 3),
            "runs": runs}


def postgres(cdm: dict) -> dict:
    """The extraction rate from the same CDM in the tests' throwaway PostgreSQL cluster."""
    sys.path.insert(0, str(ROOT))
    import psycopg

    from ql1706kg.inputs.omop.write import load_postgres
    from tests import omop_support

    os.environ[omop_support.STATE_VARIABLE] = tempfile.mkdtemp(prefix="qlpg-", dir="/tmp")
    try:
        try:
            uri = omop_support.new_database("bench")
        except BaseException as exc:  # pytest.skip outside pytest: no server here
            return {"skipped": str(exc)}
        files = {p.stem: p for p in Path(cdm["supplement"]).parent.glob("*.csv")}
        with psycopg.connect(uri) as connection:
            load_postgres(files, connection, schema="cdm")
        url = f"{uri}&schema=cdm"
        return {"extract": extract(url, cdm["ids"], cdm["supplement"], False),
                "extract_and_assemble": extract(url, cdm["ids"], cdm["supplement"], True)}
    finally:
        omop_support.stop_cluster()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--ratio-n", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    figures: dict = {"load_average_start": load(), "sizes": []}
    print(f"load average {figures['load_average_start']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted({*map(int, args.sizes.split(",")), args.ratio_n}):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            cdm = build(n, folder)
            row = {"n": n, "write_s": cdm["write_s"], "load_s": cdm["load_s"],
                   "extract": extract(cdm["url"], cdm["ids"], cdm["supplement"], False),
                   "extract_without_supplement": extract(cdm["url"], cdm["ids"], None, False)}
            print(f"N = {n:,}: CDM written in {row['write_s']} s, loaded in {row['load_s']} s; "
                  f"extracted {row['extract']['per_second']:,} persons/s "
                  f"({row['extract_without_supplement']['per_second']:,} without the "
                  "supplement); in CPU time "
                  f"{row['extract']['cpu_ms_per_person']} ms a person "
                  f"({row['extract_without_supplement']['cpu_ms_per_person']} without), peak RSS "
                  f"{row['extract']['peak_rss_mb']} MB",
                  flush=True)
            if n == args.ratio_n:
                row["extract_and_assemble"] = extract(cdm["url"], cdm["ids"],
                                                      cdm["supplement"], True)
                print(f"  {row['extract_and_assemble']['per_second']:,} persons/s assembled "
                      "too, in one process (the work the workers add)", flush=True)
                row["end_to_end"] = end_to_end(cdm, folder, args.jobs, args.repeat)
                e2e = row["end_to_end"]
                print(f"  end to end, --jobs {args.jobs}: --omop {e2e['omop_per_second']} "
                      f"patients/s, NDJSON {e2e['ndjson_per_second']} patients/s: "
                      f"{e2e['ratio']:.0%} of the NDJSON rate; in CPU time (all processes) "
                      f"{e2e['cpu_ratio']:.0%}", flush=True)
                if args.postgres:
                    row["postgres"] = postgres(cdm)
                    print(f"  PostgreSQL: {json.dumps(row['postgres'])}", flush=True)
            run = screened(omop_command(cdm, folder / "memory.ndjson", args.jobs))
            row["screen_peak_rss_mb"] = run["peak_rss_mb"]
            row["screen_per_second"] = round(cdm["persons"] / run["seconds"], 1)
            print(f"  screen --omop: {row['screen_per_second']} patients/s, peak RSS "
                  f"{run['peak_rss_mb']} MB (largest process)", flush=True)
            figures["sizes"].append(row)
    figures["load_average_end"] = load()
    print(f"load average {figures['load_average_end']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
