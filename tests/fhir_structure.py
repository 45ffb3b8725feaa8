"""A structural check of FHIR R4 JSON against R4's own element definitions.

The definitions are those of the R4 StructureDefinitions (tests/data/fhir-r4/elements.json,
extracted by tools/fhir_r4_elements.py from the public hl7.fhir.r4.examples package): every
element a resource writes must be defined for its type (choice elements by their type suffix,
primitive extensions as ``_name``), arrays exactly where the cardinality allows more than one,
every element with a minimum cardinality present, primitives of their JSON type and lexical form,
and codes of required bindings from their value set. This is what "uses only elements R4
defines" means, checked against the standard's definitions rather than a hand-written list.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

ELEMENTS = Path(__file__).resolve().parent / "data" / "fhir-r4" / "elements.json"
# R4 primitive types: their JSON type and, where the spec gives one, their lexical form.
_DATE = r"([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_FORMS = {
    "date": re.compile(_DATE),
    "dateTime": re.compile(_DATE + rf"(T{_TIME}(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?"),
    "instant": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T" + _TIME + r"(Z|(\+|-)[0-9]{2}:[0-9]{2})"),
    "id": re.compile(r"[A-Za-z0-9\-.]{1,64}"),
    "code": re.compile(r"[^\s]+(\s[^\s]+)*"),
}
_NUMBERS = {"integer", "positiveInt", "unsignedInt"}


@functools.cache
def _table() -> dict[str, dict]:
    return json.loads(ELEMENTS.read_text(encoding="utf-8"))["types"]


@functools.cache
def _children(type_name: str, path: str) -> dict[str, dict]:
    """The elements directly under ``path`` in ``type_name``'s definition, by their last name."""
    out = {}
    for element in _table()[type_name]["elements"]:
        head, _, name = element["path"].rpartition(".")
        if head == path:
            out[name] = element
    return out


def problems(resource: dict) -> list[str]:
    """Every way ``resource`` departs from R4's definitions, as 'where: what' lines."""
    found: list[str] = []
    kind = resource.get("resourceType")
    if kind not in _table():
        return [f"{kind}: not a resource type these definitions cover"]
    _check_object(resource, kind, kind, kind, found)
    return found


def _check_object(value: dict, type_name: str, path: str, where: str, found: list[str]) -> None:
    children = _children(type_name, path)
    for key, item in value.items():
        if key == "resourceType" and path == type_name:
            continue
        name = key[1:] if key.startswith("_") else key
        element, chosen = _element(children, name)
        if element is None:
            found.append(f"{where}.{key}: no such element in R4 {path}")
            continue
        if key.startswith("_"):
            _check_many(item, element, "Element", f"{where}.{key}", found, primitive_ext=True)
        else:
            _check_many(item, element, chosen, f"{where}.{key}", found)
    for name, element in children.items():
        if element["min"] >= 1 and not _present(value, name):
            found.append(f"{where}: {name} is required (min {element['min']})")


def _element(children: dict[str, dict], key: str) -> tuple[dict | None, str | None]:
    if key in children:
        element = children[key]
        types = element["types"]
        return element, types[0] if len(types) == 1 else None
    for name, element in children.items():
        if name.endswith("[x]") and key.startswith(name[:-3]):
            suffix = key[len(name) - 3:]
            for type_code in element["types"]:
                if type_code[:1].upper() + type_code[1:] == suffix:
                    return element, type_code
    return None, None


def _present(value: dict, name: str) -> bool:
    if name.endswith("[x]"):
        return any(key.startswith(name[:-3]) for key in value)
    return name in value or f"_{name}" in value


def _check_many(item: object, element: dict, type_code: str | None, where: str,
                found: list[str], primitive_ext: bool = False) -> None:
    many = element["max"] != "1"
    if many != isinstance(item, list):
        found.append(f"{where}: {'an array' if many else 'a single value'} is expected "
                     f"(max {element['max']})")
        return
    for i, one in enumerate(item if many else [item]):
        at = f"{where}[{i}]" if many else where
        if primitive_ext:
            if one is not None:
                _check_value(one, "Element", element, at, found)
        else:
            _check_value(one, type_code, element, at, found)


def _check_value(value: object, type_code: str | None, element: dict, where: str,
                 found: list[str]) -> None:
    owner = element["path"].split(".")[0]
    if "ref" in element:
        _check_nested(value, owner, element["ref"], where, found)
    elif type_code in ("BackboneElement", "Element") and element["path"].count("."):
        _check_nested(value, owner, element["path"], where, found)
    elif type_code == "Resource":
        if not isinstance(value, dict):
            found.append(f"{where}: a resource is expected")
        else:
            found.extend(f"{where}/{line}" for line in problems(value))
    elif type_code is None or type_code.startswith("http://hl7.org/fhirpath/"):
        if not isinstance(value, str):
            found.append(f"{where}: a string is expected")
    elif _table().get(type_code, {}).get("kind") == "primitive-type":
        _check_primitive(value, type_code, element, where, found)
    elif type_code in _table():
        _check_nested(value, type_code, type_code, where, found)
    else:
        found.append(f"{where}: type {type_code} is not covered by the definitions")


def _check_nested(value: object, type_name: str, path: str, where: str,
                  found: list[str]) -> None:
    if not isinstance(value, dict) or not value:
        found.append(f"{where}: a non-empty object is expected")
        return
    _check_object(value, type_name, path, where, found)


def _check_primitive(value: object, type_code: str, element: dict, where: str,
                     found: list[str]) -> None:
    if type_code == "boolean":
        ok = isinstance(value, bool)
    elif type_code in _NUMBERS:
        ok = isinstance(value, int) and not isinstance(value, bool) and (
            type_code == "integer" or value >= (1 if type_code == "positiveInt" else 0))
    elif type_code == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str) and value != "" and (
            type_code not in _FORMS or _FORMS[type_code].fullmatch(value) is not None)
    if not ok:
        found.append(f"{where}: {value!r} is not a valid R4 {type_code}")
    elif "codes" in element and value not in element["codes"]:
        found.append(f"{where}: {value!r} is not in the required value set")
