"""Extract the isModifier elements of the FHIR R4 StructureDefinitions the reader's types use.

    python tools/fhir_modifiers.py [--cache DIR]

The official R4 (4.0.1) StructureDefinitions ship in the npm package ``hl7.fhir.r4.examples``
4.0.1 (CC0-1.0; the ``hl7.fhir.r4.core`` package is not on the npm registry), fetched once with
``npm pack`` into the cache. For each resource type the reader reads (the built-in readers'
and those a protocol's declared fact kind may name) and each datatype it reads inside them,
every snapshot element with ``isModifier`` true is written, with its ``isModifierReason`` as
published, to ``tests/data/fhir-r4-modifiers/modifiers.json``;
with, for every element whose codes the table reads (status, clinicalStatus, intent, mode,
emptyReason...), the codes of the value set it is bound to (from the package's ValueSet and
CodeSystem resources); ``tests/test_fhir_elements.py`` checks that the element table
(ql1706kg/inputs/fhir/elements.json) names each of them and gives every code a meaning.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hl7_packages import fetch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "fhir-r4-modifiers" / "modifiers.json"
TYPES = ("Patient", "Condition", "Observation", "MedicationStatement", "MedicationRequest",
         "MedicationAdministration", "MedicationDispense", "Medication", "Procedure", "List",
         "Consent", "DiagnosticReport", "Bundle",
         # the types a protocol's declared fact kind may name (ql:fhirResourceType)
         "AllergyIntolerance", "Immunization", "Specimen", "Appointment", "ImagingStudy",
         "FamilyMemberHistory", "ServiceRequest", "CarePlan", "Encounter", "ClinicalImpression",
         "DeviceUseStatement", "NutritionOrder", "RiskAssessment", "QuestionnaireResponse",
         "AdverseEvent")
DATATYPES = ("Reference", "Identifier", "Quantity", "Age", "Duration", "Period", "Timing",
             "Dosage", "Range", "CodeableConcept", "Coding", "BackboneElement")


def value_set_codes(package: Path, url: str) -> list[str]:
    """The codes of an R4 value set of the package (its CodeSystems' concepts, nested too)."""
    name = url.split("|")[0].rsplit("/", 1)[-1]
    value_set = json.loads((package / f"ValueSet-{name}.json").read_text(encoding="utf-8"))
    codes: list[str] = []
    for include in value_set.get("compose", {}).get("include", []):
        if include.get("concept"):
            codes += [c["code"] for c in include["concept"]]
            continue
        system = include["system"].rsplit("/", 1)[-1]
        path = package / f"CodeSystem-{system}.json"
        if not path.exists():
            path = package / f"CodeSystem-{name}.json"
        stack = list(json.loads(path.read_text(encoding="utf-8")).get("concept", []))
        while stack:
            concept = stack.pop(0)
            codes.append(concept["code"])
            stack[:0] = concept.get("concept", [])
    return codes


def bound_codes(package: Path) -> dict[str, list[str]]:
    """path -> codes, for every element of the table whose codes it reads (bound elements)."""
    table = json.loads((ROOT / "ql1706kg" / "inputs" / "fhir" / "elements.json").read_text(
        encoding="utf-8"))
    paths = [row["path"] for block in table["resources"].values() for row in block["elements"]
             if row["action"] in ("status", "empty-reason") and row["types"] != ["boolean"]]
    out = {}
    for path in paths:
        kind = path.split(".")[0]
        definition = json.loads((package / f"StructureDefinition-{kind}.json").read_text(
            encoding="utf-8"))
        element = next(e for e in definition["snapshot"]["element"] if e["path"] == path)
        out[path] = value_set_codes(package, element["binding"]["valueSet"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "ql1706kg-hl7")
    args = parser.parse_args(argv)
    package = fetch("hl7.fhir.r4.examples", "4.0.1", args.cache)
    out: dict = {"package": "hl7.fhir.r4.examples@4.0.1", "licence": "CC0-1.0",
                 "source": "package/StructureDefinition-<type>.json, snapshot.element[] with "
                           "isModifier true", "types": {}}
    for kind in (*TYPES, *DATATYPES):
        definition = json.loads((package / f"StructureDefinition-{kind}.json").read_text(
            encoding="utf-8"))
        out["types"][kind] = {
            "fhirVersion": definition.get("fhirVersion"),
            "modifiers": [{"path": e["path"], "isModifierReason": e.get("isModifierReason", "")}
                          for e in definition["snapshot"]["element"] if e.get("isModifier")]}
    out["codes"] = bound_codes(package)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {sum(len(t['modifiers']) for t in out['types'].values())} elements")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
