"""Build ql1706kg/protocol/data/drug-codes.json: drug codes below the ingredient level.

    python tools/build_drug_codes.py [--cache DIR] [--check]

No registry reachable from this project (PyPI, npm, Debian) ships RxNorm's relationships (the
RRF files and RxNav need a UMLS licence or the network; PyPI's pyrxnorm, medrxnorm,
cumulus-library-rxnorm and the rest ship no data), so the map is gathered from what is public
and citable: the RxNorm and SNOMED CT codings of the HL7 FHIR example packages on npm
(hl7.fhir.us.mcode 4.0.0, hl7.fhir.uv.ips 2.0.0, hl7.fhir.r4.examples 4.0.1, all CC0-1.0),
including the R4 ``medication-codes`` expansion. A code is kept only when its display names
drugs of ontology/terminology-drugs.ttl and nothing else (read by the same reader screening
uses, ql1706kg.protocol.drugs), and only if no other display of the same code says otherwise.
Codes the ontology already carries are left out. At run time a code missing from the map is
still read by its display, so this file only matters for a coding that comes without one.

The tarballs are fetched once with ``npm pack`` into the cache (the only step that needs the
network). ``--check`` rebuilds in memory and exits 1 if the shipped file differs (codes only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ql1706kg.protocol.drugs import RXNORM_SYSTEMS, SNOMED_SYSTEMS, drug_index  # noqa: E402
from ql1706kg.protocol.namespaces import QL  # noqa: E402
from ql1706kg.protocol.terminology import terminology  # noqa: E402

OUT = ROOT / "ql1706kg" / "protocol" / "data" / "drug-codes.json"
PACKAGES = (("hl7.fhir.us.mcode", "4.0.0"), ("hl7.fhir.uv.ips", "2.0.0"),
            ("hl7.fhir.r4.examples", "4.0.1"))
MEDICATION_VALUE_SET = "http://hl7.org/fhir/ValueSet/medication-codes"
DRUG_ELEMENTS = ("medicationCodeableConcept", "code", "itemCodeableConcept")


def fetch(name: str, version: str, cache: Path) -> tuple[Path, str]:
    """The package tarball (``npm pack`` once) and its SHA-1."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(cache)],
                       check=True, capture_output=True)
    return tarball, hashlib.sha1(tarball.read_bytes()).hexdigest()


def codings_of(resource: object, path: str = "") -> list[tuple[str, str, str, str]]:
    """(system, code, display, where) of every coding that names a medication: a
    medication[x], a Medication's code or ingredient, a Substance's code."""
    out: list[tuple[str, str, str, str]] = []
    if isinstance(resource, dict):
        kind = resource.get("resourceType")
        for key, value in resource.items():
            drug = key in ("medicationCodeableConcept", "itemCodeableConcept") or (
                key == "code" and kind in ("Medication", "Substance"))
            if drug and isinstance(value, dict):
                for coding in value.get("coding") or []:
                    if isinstance(coding, dict) and coding.get("code") and coding.get("display"):
                        out.append((str(coding.get("system", "")), str(coding["code"]),
                                    str(coding["display"]), f"{path}/{key}"))
            else:
                out += codings_of(value, f"{path}/{key}")
    elif isinstance(resource, list):
        for i, value in enumerate(resource):
            out += codings_of(value, f"{path}[{i}]")
    return out


def expansion_codings(resource: dict) -> list[tuple[str, str, str, str]]:
    """The codings of the R4 medication-codes expansion (in a Bundle of expansions)."""
    out = []
    for entry in resource.get("entry") or []:
        value_set = entry.get("resource") or {}
        if value_set.get("url") != MEDICATION_VALUE_SET:
            continue
        todo = list((value_set.get("expansion") or {}).get("contains") or [])
        while todo:
            item = todo.pop()
            todo += item.get("contains") or []
            if item.get("code") and item.get("display"):
                out.append((item.get("system", ""), item["code"], item["display"],
                            f" (ValueSet {MEDICATION_VALUE_SET} expansion)"))
    return out


def gather(cache: Path) -> tuple[dict, list[dict], list[str]]:
    term = terminology()
    index = drug_index(term)
    found: dict[str, dict[str, dict]] = {"RxNorm": {}, "SNOMED-CT": {}}
    conflicts: set[tuple[str, str]] = set()
    sources, notes = [], []
    for name, version in PACKAGES:
        tarball, sha1 = fetch(name, version, cache)
        sources.append({"package": f"{name}@{version}", "registry": "npm",
                        "tarball_sha1": sha1, "licence": "CC0-1.0"})
        with tarfile.open(tarball) as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                if not member.name.endswith(".json") or "/xml/" in member.name or \
                        "/openapi/" in member.name or "/other/" in member.name:
                    continue
                try:
                    data = json.load(archive.extractfile(member))
                except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                    continue
                if not isinstance(data, dict):
                    continue
                codings = codings_of(data)
                if data.get("resourceType") == "Bundle":
                    codings += expansion_codings(data)
                for system, code, display, where in codings:
                    key = system.casefold()
                    shelf = ("RxNorm" if key in RXNORM_SYSTEMS else
                             "SNOMED-CT" if key in SNOMED_SYSTEMS else None)
                    if shelf is None or (shelf, code) in conflicts:
                        continue
                    if term.find_code(shelf, code) is not None:
                        continue  # the ontology has it (shared/reference/codes.csv)
                    if "^" in display:
                        continue  # an isotope ("^60^Iron"), not a medicine
                    reading = index.read(display)
                    if not reading.identified:
                        continue
                    names = sorted({term.label(k) for k in reading.known})
                    if any(not index.is_anticancer_or_support(k)
                           and not term.is_a(k, QL.OtherMedicine) for k in reading.known):
                        continue
                    entry = {"display": display, "ingredients": names,
                             "source": f"{name}@{version}:{member.name}{where}"}
                    known = found[shelf].get(code)
                    if known is not None and known["ingredients"] != names:
                        conflicts.add((shelf, code))
                        notes.append(f"{shelf} {code}: '{known['display']}' and '{display}' "
                                     "disagree: left out")
                        del found[shelf][code]
                    elif known is None:
                        found[shelf][code] = entry
    codes = {shelf: dict(sorted(items.items(), key=lambda kv: int(kv[0])))
             for shelf, items in found.items()}
    return codes, sources, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "ql1706kg-npm")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    codes, sources, notes = gather(args.cache)
    for note in notes:
        print("note:", note, file=sys.stderr)
    if args.check:
        shipped = json.loads(OUT.read_text("utf-8"))["codes"]
        if shipped != codes:
            print(f"{OUT} is out of date: run tools/build_drug_codes.py", file=sys.stderr)
            return 1
        return 0
    document = {
        "provenance": {
            "what": "Drug codes below (or beside) the ingredient level, each mapped to the "
                    "ingredients of ontology/terminology-drugs.ttl its display names.",
            "sources": sources,
            "built": dt.date.today().isoformat(),
            "tool": "tools/build_drug_codes.py",
            "method": "every RxNorm or SNOMED CT coding of a medication (medication[x], "
                      "Medication.code, ingredient, Substance.code) or of the R4 "
                      "medication-codes expansion whose display names only drugs the "
                      "terminology knows; codes the ontology already carries, and codes whose "
                      "displays disagree, are left out",
            "licence": "the example packages are CC0-1.0; RxNorm codes and names (SAB=RXNORM) "
                       "are published by the U.S. National Library of Medicine without UMLS "
                       "licence restrictions; SNOMED CT codes and displays are (c) SNOMED "
                       "International, used here as HL7 distributes them in these packages",
            "no_rxnorm_source": "no registry this project can reach (PyPI, npm, Debian) ships "
                                "RxNorm relationships, so the map covers only codes of public "
                                "examples; any other clinical or branded drug is read by the "
                                "ingredient its display names",
        },
        "codes": codes,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{OUT}: " + ", ".join(f"{len(v)} {k}" for k, v in codes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
