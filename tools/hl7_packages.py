"""Screen the example resources of the public HL7 FHIR packages and print what came of them.

    python tools/hl7_packages.py [--cache DIR] [--as-of 2026-11-20] [--json OUT.json]

For each package (hl7.fhir.us.mcode 4.0.0, hl7.fhir.uv.ips 2.0.0, hl7.fhir.r4.examples 4.0.1,
all CC0-1.0) the tarball is fetched once with ``npm pack`` into the cache (the only step that
needs the network: the npm registry), its example resources are gathered (JSON files under
``package/`` and ``package/example/``; conformance resources, ActorDefinitions and bundles of
conformance resources only are left out, since they are not patient data) into one folder per
package, and the folder is screened and lifted with this checkout's code. Per package it
prints: patients, resources read / used / ignored (by reason), errors and notes, verdicts, and
the patients an ignored resource could have changed. This is how the issue notes' "before and
after" figures are made; tests use the copied fixtures under tests/data/fhir-packages/.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ql1706kg import screen
from ql1706kg.inputs.read import read_paths

PACKAGES = (("hl7.fhir.us.mcode", "4.0.0"), ("hl7.fhir.uv.ips", "2.0.0"),
            ("hl7.fhir.r4.examples", "4.0.1"))
CONFORMANCE = {
    "StructureDefinition", "ValueSet", "CodeSystem", "ImplementationGuide", "SearchParameter",
    "CapabilityStatement", "OperationDefinition", "ConceptMap", "NamingSystem",
    "CompartmentDefinition", "StructureMap", "GraphDefinition", "MessageDefinition",
    "TerminologyCapabilities", "ExampleScenario",
}


def fetch(name: str, version: str, cache: Path) -> Path:
    """The unpacked package (``npm pack`` once; the tarball is kept in the cache)."""
    unpacked = cache / f"{name}-{version}"
    if (unpacked / "package").is_dir():
        return unpacked / "package"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(cache)],
                       check=True, capture_output=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(unpacked, filter="data")
    return unpacked / "package"


def is_example(path: Path) -> bool:
    """Whether a package file is patient data (not a conformance resource)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind is None or kind in CONFORMANCE:
        return False
    if kind == "Basic" and any(c.get("code") == "ActorDefinition"
                               for c in (data.get("code") or {}).get("coding", [])):
        return False
    if kind == "Bundle":
        kinds = [(e.get("resource") or {}).get("resourceType") for e in data.get("entry", [])]
        return not (kinds and all(k in CONFORMANCE for k in kinds))
    return True


def gather(package: Path, into: Path) -> int:
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    files = [p for p in sorted(package.glob("*.json")) + sorted(
        (package / "example").glob("*.json")) if p.name != "package.json" and is_example(p)]
    for path in files:
        shutil.copy2(path, into / path.name)
    return len(files)


def summary(folder: Path, as_of: str) -> dict:
    """Screen and lift one package folder; count what came of every resource."""
    report: list = []
    notes: list = []
    for _item in read_paths([folder], fhir_report=report, on_note=notes.append):
        pass
    result = screen([folder], as_of=as_of, keep_graphs=False)
    ignored = collections.Counter(line.reason for line in report if not line.used)
    could = sorted({line.patient for line in report if getattr(line, "could_change", "")
                    and getattr(line, "patient", "")})
    return {
        "patients": len(result.patients),
        "resources": len(report),
        "used": sum(line.used for line in report),
        "ignored": sum(not line.used for line in report),
        "ignored_by_reason": ignored.most_common(),
        "errors": [f"{e.source.rsplit('/', 1)[-1]}: {e.message}" for e in result.errors],
        "notes": len(result.notes),
        "verdicts": dict(collections.Counter(p.verdict for p in result.patients)),
        "exit": 1 if result.errors else 0,
        "patients_an_ignored_resource_could_change": could,
        "by_patient": {p.id: {"verdict": p.verdict,
                              "not_met": [c.id for c in p.criteria if c.outcome == "not_met"],
                              "unknown": [c.id for c in p.criteria if c.outcome == "unknown"]}
                       for p in result.patients},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "ql1706kg-hl7")
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--json", type=Path, help="also write the full summary here")
    args = parser.parse_args(argv)
    logging.getLogger("ql1706kg").disabled = True  # notes are counted, not printed one by one
    out = {}
    for name, version in PACKAGES:
        folder = args.cache / "input" / name
        files = gather(fetch(name, version, args.cache), folder)
        out[name] = {"version": version, "files": files, **summary(folder, args.as_of)}
        row = out[name]
        print(f"## {name} {version}: {files} files, {row['patients']} patients, "
              f"{row['resources']} resources ({row['used']} used, {row['ignored']} ignored), "
              f"{len(row['errors'])} errors, {row['notes']} notes, verdicts {row['verdicts']}, "
              f"exit {row['exit']}")
        for error in row["errors"]:
            print(f"  error: {error[:160]}")
        for reason, count in row["ignored_by_reason"][:12]:
            print(f"  ignored ×{count}: {reason[:120]}")
        if row["patients_an_ignored_resource_could_change"]:
            print("  an ignored resource could change: "
                  + ", ".join(row["patients_an_ignored_resource_could_change"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
