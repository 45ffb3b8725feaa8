"""Extract the element definitions of FHIR R4 that a structural check of our exports needs.

    python tools/fhir_r4_elements.py PACKAGE_DIR [-o tests/data/fhir-r4/elements.json]

PACKAGE_DIR is the unpacked ``package/`` folder of the public npm package
``hl7.fhir.r4.examples@4.0.1`` (CC0-1.0; ``npm pack hl7.fhir.r4.examples@4.0.1``), which carries
the R4 StructureDefinitions, ValueSets and CodeSystems. For every resource our exports write
(``RESOURCES``) and every data type (primitive and complex), each element's path, cardinality
and types, and for each element bound with strength *required* the codes its value set allows
(from the value set's compose.include of whole code systems or listed concepts). The output is
what tests/test_fhir_export_structure.py validates exports against: the definitions themselves,
not a copy of a validator's rules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESOURCES = ("ResearchStudy", "Group", "Bundle", "Patient", "Condition", "Consent", "List",
             "Medication", "MedicationAdministration", "MedicationStatement", "Observation",
             "Procedure")


def _load(folder: Path, kind: str, url: str) -> dict | None:
    name = url.split("|")[0].rsplit("/", 1)[-1]
    path = folder / f"{kind}-{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _codes(folder: Path, value_set_url: str) -> list[str] | None:
    """The codes a value set allows, or None when it cannot be enumerated from the package."""
    value_set = _load(folder, "ValueSet", value_set_url)
    if value_set is None:
        return None
    codes: list[str] = []
    for include in value_set.get("compose", {}).get("include", []):
        if include.get("filter") or include.get("valueSet"):
            return None
        if include.get("concept"):
            codes += [c["code"] for c in include["concept"]]
            continue
        system = _load(folder, "CodeSystem", include["system"])
        if system is None:
            return None
        stack = list(system.get("concept", []))
        while stack:
            concept = stack.pop()
            codes.append(concept["code"])
            stack += concept.get("concept", [])
    return sorted(set(codes))


def _elements(folder: Path, definition: dict) -> list[dict]:
    out = []
    for element in definition["snapshot"]["element"]:
        row = {"path": element["path"], "min": element["min"], "max": element["max"],
               "types": [t["code"] for t in element.get("type", [])]}
        if element.get("contentReference"):
            row["ref"] = element["contentReference"].lstrip("#")
        binding = element.get("binding", {})
        if binding.get("strength") == "required" and binding.get("valueSet"):
            codes = _codes(folder, binding["valueSet"])
            if codes is not None:
                row["codes"] = codes
        out.append(row)
    return out


def extract(folder: Path) -> dict:
    """Every data type's and each named resource's elements, keyed by type name."""
    table: dict[str, dict] = {}
    for path in sorted(folder.glob("StructureDefinition-*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        if definition.get("derivation") != "specialization":
            continue
        kind, name = definition.get("kind"), definition["type"]
        if kind in ("primitive-type", "complex-type") or (kind == "resource"
                                                          and name in RESOURCES):
            table[name] = {"kind": kind, "elements": _elements(folder, definition)}
    return {"source": "hl7.fhir.r4.examples 4.0.1 (CC0-1.0), StructureDefinitions, ValueSets "
                      "and CodeSystems of FHIR R4", "types": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "tests" / "data"
                        / "fhir-r4" / "elements.json")
    args = parser.parse_args()
    args.output.write_text(json.dumps(extract(args.package), indent=0, sort_keys=True) + "\n",
                           encoding="utf-8")


if __name__ == "__main__":
    main()
