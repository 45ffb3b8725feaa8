"""Benchmark: realistic FHIR (the public mCODE examples, copied N times) screened in bounded memory.

    python bench/fhir_bench.py [--sizes 1000,10000] [--layouts ndjson,bundles] [--jobs 2]
                               [--repeat 3] [--keep DIR]

Builds a realistic FHIR set from the example resources of hl7.fhir.us.mcode 4.0.0 (CC0-1.0):
its 177 single-resource examples (7 patients, ~25 resources each, with their generated
narratives), copied until N patients, every copy with rewritten ids (resource ids, references,
fullUrls, identifier values: the copies are different people). Two layouts:
  * ``ndjson``: an NDJSON bulk export, one file per resource type, read as one folder;
  * ``bundles``: one collection Bundle per patient (its resources and those they reference),
    with fullUrls, in one folder.
Each layout is screened with the real CLI (``screen DIR --format ndjson -o OUT --quiet``), in
one process and with ``--jobs J``, alternately ``--repeat`` times, each run in a fresh process
that first warms up on one copy of the set (imports, terminology, shapes, FHIR models) and then
times the CLI code (patients/s: medians). Memory is the WHOLE process tree's, sampled every
20 ms from /proc by a watcher (the runner and every descendant): the peak of the summed RSS,
the peak of the summed PSS (shared copy-on-write pages counted once, what the machine really
spends), and the largest VmHWM of one process. The machine's load average is printed with
every figure. The last line is one JSON object.

The package comes from (first found) ``--package DIR``, the cache of ``tools/hl7_packages.py``
(``~/.cache/ql1706kg-hl7/input/hl7.fhir.us.mcode``, fetched with ``npm pack`` when missing), or
the subset copied into ``tests/data/fhir-packages/``. Not run by CI as pass/fail.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-20"
CACHE = Path.home() / ".cache" / "ql1706kg-hl7"
FIXTURES = ROOT / "tests" / "data" / "fhir-packages" / "hl7.fhir.us.mcode"
MARK = "~K~"  # where a copy's suffix goes in the templates
BASE_URL = "http://example.org/fhir"


# -- the realistic set ---------------------------------------------------------------------------

def package_folder(given: Path | None) -> Path:
    """The folder of the mCODE example resources (single-resource files)."""
    if given is not None:
        return given
    cached = CACHE / "input" / "hl7.fhir.us.mcode"
    if not cached.is_dir():
        sys.path.insert(0, str(ROOT / "tools"))
        try:
            import hl7_packages

            hl7_packages.gather(hl7_packages.fetch("hl7.fhir.us.mcode", "4.0.0", CACHE), cached)
        except Exception as exc:  # no network, no npm: the copied subset
            print(f"(mCODE package not available: {exc}; using the test fixtures)",
                  file=sys.stderr)
            return FIXTURES
    return cached


def load_examples(folder: Path) -> list[dict]:
    """The example resources outside bundles (the bundles hold other copies of the same
    resources), in a stable order."""
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(data, dict) and data.get("resourceType") not in (None, "Bundle"):
            out.append(data)
    return out


def _templated(value: object, person: str = "", parent: str = "") -> object:
    """A resource with every id, reference and identifier value marked for a copy suffix.

    The examples give two pairs of different people the same medical record number (m123,
    m456: the reader rightly takes each pair for one person in two sources, and reports their
    contradictions), so a Patient's identifier values also get the patient's own id (``person``)
    and every copy is seven people."""
    if isinstance(value, list):
        return [_templated(item, person, parent) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if (key == "id" and isinstance(item, str) and "resourceType" in value) or (
                key == "reference" and isinstance(item, str) and not item.startswith("#")):
            out[key] = item + MARK
        elif key == "value" and parent == "identifier" and isinstance(item, str):
            out[key] = item + (f".{person}" if person else "") + MARK
        else:
            out[key] = _templated(item, person, key)
    return out


def _patient_of(resource: dict) -> str | None:
    for name in ("subject", "patient"):
        ref = (resource.get(name) or {}).get("reference") if isinstance(
            resource.get(name), dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    return None


def _references(value: object) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class RealisticSet:
    """The mCODE examples as templates, grouped by patient for the bundle layout."""

    def __init__(self, resources: list[dict]) -> None:
        self.resources = resources
        self.templates = [json.dumps(_templated(
            r, r["id"] if r["resourceType"] == "Patient" else ""), ensure_ascii=False)
            for r in resources]
        self.patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
        by_key = {f"{r['resourceType']}/{r['id']}": i for i, r in enumerate(resources)}
        self.groups: list[list[int]] = []
        for patient in self.patients:
            members = [i for i, r in enumerate(resources)
                       if (r["resourceType"] == "Patient" and r["id"] == patient)
                       or _patient_of(r) == patient]
            seen = set(members)
            queue = list(members)
            while queue:  # what they reference, if it has no patient of its own
                for ref in _references(resources[queue.pop()]):
                    index = by_key.get(ref)
                    if index is not None and index not in seen and \
                            _patient_of(resources[index]) is None and \
                            resources[index]["resourceType"] != "Patient":
                        seen.add(index)
                        members.append(index)
                        queue.append(index)
            self.groups.append(members)

    def copies(self, n_patients: int) -> int:
        return math.ceil(n_patients / len(self.patients))

    def write_ndjson(self, folder: Path, n_patients: int) -> int:
        """An NDJSON bulk export, one file per resource type; returns the patients."""
        folder.mkdir(parents=True)
        handles: dict[str, object] = {}
        copies = self.copies(n_patients)
        try:
            for copy in range(copies):
                suffix = "-" + _base36(copy)
                for resource, template in zip(self.resources, self.templates, strict=True):
                    kind = resource["resourceType"]
                    if kind not in handles:
                        handles[kind] = (folder / f"{kind}.ndjson").open("w", encoding="utf-8")
                    handles[kind].write(template.replace(MARK, suffix) + "\n")
        finally:
            for handle in handles.values():
                handle.close()
        return copies * len(self.patients)

    def write_bundles(self, folder: Path, n_patients: int) -> int:
        """One collection Bundle per patient, with fullUrls; returns the patients."""
        folder.mkdir(parents=True)
        copies = self.copies(n_patients)
        entries = [[(self.resources[i], self.templates[i]) for i in group]
                   for group in self.groups]
        for copy in range(copies):
            suffix = "-" + _base36(copy)
            for number, group in enumerate(entries):
                parts = [f'{{"fullUrl": "{BASE_URL}/{r["resourceType"]}/{r["id"]}{suffix}", '
                         f'"resource": {t.replace(MARK, suffix)}}}' for r, t in group]
                (folder / f"patient-{copy:05d}-{number}.json").write_text(
                    '{"resourceType": "Bundle", "type": "collection", "entry": [\n'
                    + ",\n".join(parts) + "\n]}\n", encoding="utf-8")
        return copies * len(self.patients)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def build(layout: str, n_patients: int, folder: Path, package: Path | None = None
          ) -> tuple[Path, int]:
    """Write one layout of the realistic set into ``folder``; the input path and patients."""
    realistic = RealisticSet(load_examples(package_folder(package)))
    target = folder / f"fhir-{layout}"
    writer = realistic.write_ndjson if layout == "ndjson" else realistic.write_bundles
    return target, writer(target, n_patients)


# -- the whole process tree's memory -------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _descendants(root: int) -> list[int]:
    tree, out, stack = _children(), [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(tree.get(pid, ()))
    return out


def _status_kb(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name = line.split(":", 1)[0]
                if name in fields:
                    out[name] = int(line.split()[1])
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeWatcher:
    """Samples the memory of a process and all its descendants until stopped."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = 0
        self.hwm: dict[int, int] = {}
        self.processes: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = pss = 0
            for pid in _descendants(self.root):
                fields = _status_kb(pid, ("VmRSS", "VmHWM"))
                rss += fields.get("VmRSS", 0)
                pss += _pss_kb(pid)
                self.hwm[pid] = max(self.hwm.get(pid, 0), fields.get("VmHWM", 0))
                self.processes.add(pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._stop.wait(self.interval)


# -- one run --------------------------------------------------------------------------------------

def runner(path: Path, jobs: int, out: Path, warm: Path) -> None:
    """In a fresh process: warm up on one copy of the set, then time the CLI code path."""
    from ql1706kg import cli

    def run(target: Path, output: Path) -> float:
        args = ["screen", str(target), "--as-of", AS_OF, "--format", "ndjson", "--jobs",
                str(jobs), "--quiet", "-o", str(output)]
        start = time.perf_counter()
        try:
            cli.main(args, standalone_mode=False)
        except SystemExit as exc:
            assert exc.code in (0, 1, None), f"screen exited with {exc.code}"
        return time.perf_counter() - start

    run(warm, out.with_suffix(".warm"))
    print("START", flush=True)
    print(json.dumps({"seconds": run(path, out)}), flush=True)


def one_run(path: Path, n: int, jobs: int, warm: Path) -> dict:
    out = path.parent / "verdicts.ndjson"
    command = [sys.executable, __file__, "--runner", str(path), "--jobs", str(jobs),
               "--output", str(out), "--warm", str(warm)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout.readline().strip() == "START"
    with TreeWatcher(proc.pid) as watcher:
        lines = proc.stdout.read().splitlines()
        proc.wait()
    assert proc.returncode == 0, proc.returncode
    seconds = json.loads(lines[-1])["seconds"]
    with out.open("rb") as handle:
        verdicts: dict[str, int] = {}
        for line in handle:  # a patient's verdict, or the error entry that stands for one
            verdict = json.loads(line).get("verdict", "error")
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    assert sum(verdicts.values()) == n, (verdicts, n)
    return {"seconds": seconds, "peak_tree_rss_mb": round(watcher.peak_rss / 1024, 1),
            "peak_tree_pss_mb": round(watcher.peak_pss / 1024, 1),
            "largest_process_hwm_mb": round(max(watcher.hwm.values(), default=0) / 1024, 1),
            "processes": len(watcher.processes), "verdicts": verdicts}


def measure(layout: str, n: int, jobs: int, repeat: int, folder: Path, package: Path | None
            ) -> dict:
    """One process and ``jobs`` processes alternately, ``repeat`` times each (medians)."""
    path, patients = build(layout, n, folder, package)
    warm, _ = build(layout, 7, folder / "warm", package)
    runs: dict[int, list[dict]] = {1: [], jobs: []}
    load = []
    for _ in range(repeat):
        for count in dict.fromkeys((1, jobs)):
            load.append(os.getloadavg()[0])
            runs[count].append(one_run(path, patients, count, warm))
    size = sum(p.stat().st_size for p in path.iterdir())
    row = {"layout": layout, "patients": patients, "input_mb": round(size / 2**20, 1),
           "load_average_1min": [round(x, 2) for x in load]}
    for count, label in ((1, "one_process"), (jobs, f"jobs_{jobs}")):
        seconds = [r["seconds"] for r in runs[count]]
        row[label] = {
            "patients_per_second": round(patients / statistics.median(seconds), 1),
            "runs_patients_per_second": [round(patients / s, 1) for s in seconds],
            "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in runs[count]),
            "peak_tree_pss_mb": max(r["peak_tree_pss_mb"] for r in runs[count]),
            "largest_process_hwm_mb": max(r["largest_process_hwm_mb"] for r in runs[count]),
            "verdicts": runs[count][-1]["verdicts"]}
    return row


def report(row: dict, jobs: int) -> None:
    print(f"{row['layout']}, {row['patients']} patients ({row['input_mb']} MB), load "
          f"{row['load_average_1min']}:", flush=True)
    for label in ("one_process", f"jobs_{jobs}"):
        figures = row[label]
        print(f"  {label.replace('_', ' ')}: {figures['patients_per_second']} patients/s "
              f"(runs {figures['runs_patients_per_second']}), whole tree peak RSS "
              f"{figures['peak_tree_rss_mb']} MB (PSS {figures['peak_tree_pss_mb']} MB), "
              f"largest process {figures['largest_process_hwm_mb']} MB", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--layouts", default="ndjson,bundles")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--package", type=Path, help="a folder of mCODE example resources")
    parser.add_argument("--keep", type=Path, help="write the sets here (and keep them)")
    parser.add_argument("--runner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runner:
        runner(args.runner, args.jobs, args.output, args.warm)
        return {}
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        for layout in args.layouts.split(","):
            if args.keep is None:
                with tempfile.TemporaryDirectory() as tmp:
                    row = measure(layout, n, args.jobs, args.repeat, Path(tmp), args.package)
            else:
                folder = args.keep / f"{layout}-{n}"
                shutil.rmtree(folder, ignore_errors=True)
                row = measure(layout, n, args.jobs, args.repeat, folder, args.package)
            report(row, args.jobs)
            rows.append(row)
    figures = {"jobs": args.jobs, "cpus": os.cpu_count(), "runs": rows}
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
