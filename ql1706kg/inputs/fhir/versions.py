"""Which FHIR release a file is written in.

The reader reads R4 (4.0.x) and R4B (4.3.x, the same resources where they are read here). R5
renamed or changed the meaning of elements it reads (a MedicationStatement's status no longer
says whether the drug was taken; ``medication`` is a CodeableReference; a Consent is another
resource), and STU3 said whether a drug was taken in another element: a file of either is
refused with one error, and its resources are set aside for the patients they name rather
than read as R4 (which would read the fields that look alike and drop the rest). The release
is told, in this order, by the
``fhirVersions`` of the npm ``package.json`` of the file's folder (or a folder above), by a
version in ``meta.profile`` (``|5.0.0``) or a ``fhirVersion`` element, then by the structure:
a resource type or an element only R5 has (the element table's ``r5`` block).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .elements import element_table

READ = ("4.0", "4.3")  # R4 and R4B
NAMES = {"5.0": "R5", "4.3": "R4B", "4.0": "R4", "3.0": "STU3", "1.0": "DSTU2", "6.0": "R6"}
# STU3 structure that R4 removed and no R4 writer could mean: a statement's 'taken' (a
# Condition's status written as a plain code is just as STU3, but also a common slip in R4
# data: that one is left to the model check, which sets that resource aside alone).
_STU3 = {"MedicationStatement": ("taken",)}


def release(version: str | None) -> str | None:
    """'5.0' of '5.0.0' (None for text that is no version)."""
    if not isinstance(version, str):
        return None
    parts = version.strip().split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return f"{parts[0]}.{parts[1]}"


@functools.lru_cache(maxsize=256)
def declared(folder: str) -> tuple[str, str] | None:
    """The FHIR release a ``package.json`` in the folder or a folder above declares
    (``fhirVersions``), with the file that says so."""
    path = Path(folder)
    for place in (path, *path.parents):
        manifest = place / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError):
                continue
            versions = data.get("fhirVersions") if isinstance(data, dict) else None
            if isinstance(versions, list):
                found = {release(v) for v in versions} - {None}
                if len(found) == 1:
                    return found.pop(), str(manifest)
    return None


def _said(resource: dict) -> str | None:
    """A release a resource states: a versioned core profile or a fhirVersion element."""
    version = release(resource.get("fhirVersion"))
    if version:
        return version
    meta = resource.get("meta")
    for profile in (meta.get("profile") or []) if isinstance(meta, dict) else []:
        if not isinstance(profile, str):
            continue
        if profile.startswith("http://hl7.org/fhir/5.0/"):
            return "5.0"
        if profile.startswith("http://hl7.org/fhir/StructureDefinition/") and "|" in profile:
            version = release(profile.rsplit("|", 1)[1])
            if version:
                return version
    return None


def structure(resource: dict) -> tuple[str, str] | None:
    """The release a resource's structure gives away (R5 or STU3), with the element that
    tells, or None when it reads as R4."""
    found = signals(resource)
    return found[0] if found else None


def signals(resource: dict) -> list[tuple[str, str]]:
    """Every sign of another release in a resource: an R5-only type (decisive alone), each
    R5-only element, STU3's ``taken``, a versioned profile or ``fhirVersion``."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return []
    table = element_table()
    if kind in table.r5_types:
        return [("5.0", f"the resource type {kind} (R5 only)")] * 2
    out = [("5.0", f"{kind}.{name} (an R5 element)")
           for name in sorted(table.r5_elements.get(kind, frozenset()) & resource.keys())]
    out += [("3.0", f"{kind}.{name} (STU3)") for name in _STU3.get(kind, ())
            if name in resource]
    said = _said(resource)
    if said and said not in READ:
        out += [(said, f"{kind}.meta.profile / fhirVersion ({said})")] * 2
    return out


def of_resources(resources: list[dict], folder: str) -> tuple[str, str] | None:
    """The release of a file's resources when it is one the reader does not read, with what
    tells: the folder's package.json, else the structure of its resources. One element of
    another release alone is no proof (a slip in R4 data: the model check sets that resource
    aside); two, an R5-only type or a stated version are."""
    said = declared(folder)
    if said is not None:
        version, manifest = said
        return (version, f"fhirVersions in {manifest}") if version not in READ else None
    found = [sign for resource in resources for sign in signals(resource)]
    if len(found) >= 2:
        version = found[0][0]
        return version, ", ".join(sorted({why for v, why in found if v == version})[:3])
    return None


def refusal(version: str, why: str) -> str:
    """The one error of a file of another FHIR release."""
    name = NAMES.get(version, f"FHIR {version}")
    return (f"FHIR {name} (told by {why}): this reader reads FHIR R4 and R4B only, so nothing "
            f"of this file is read; its resources are set aside for the patients they name "
            f"(convert the file to R4, e.g. with HL7's R5-to-R4 maps)")
