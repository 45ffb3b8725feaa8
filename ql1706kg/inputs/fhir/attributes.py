"""The declared attributes of a fact (protocol/fact_attributes.py) read from a FHIR resource.

An attribute is said by an element path (``category``, ``bodySite``, ``method``,
``dosage.route``, ``series.modality``: each step may repeat, FHIR's 0..* elements are lists)
whose value is a CodeableConcept, a Coding, a bare ``code`` or an R5-style CodeableReference,
or by an extension on the resource (by URL; its ``valueCodeableConcept``, ``valueCoding`` or
``valueCode``). A value is read by the attribute's value codings (system and code; a bare code
by its code), else by the words of its text or a coding's display.

What cannot be read is left out, never guessed: an element no value coding names, or one that
names two different values (a course coded both wide and limited field), says nothing, so a
selection that needs the attribute is undecided for the fact.
"""

from __future__ import annotations

import re

from ...protocol.fact_attributes import Attribute
from .codes import _codings

_EXTENSION_VALUES = ("valueCodeableConcept", "valueCoding", "valueCode")


def _walk(value: object, parts: list[str]) -> list[object]:
    """Every value at the end of a dotted path (lists flattened at each step)."""
    if isinstance(value, list):
        return [v for item in value for v in _walk(item, parts)]
    if not parts:
        return [value]
    if not isinstance(value, dict):
        return []
    return _walk(value.get(parts[0]), parts[1:])


def _labels(attribute: Attribute, value: object) -> set[str]:
    """The labels one element value says (empty: it says none the attribute knows)."""
    if isinstance(value, str):  # a FHIR code
        label = attribute.label_of("", value)
        return {label} if label else set()
    if not isinstance(value, dict):
        return set()
    if isinstance(value.get("concept"), dict):  # CodeableReference
        return _labels(attribute, value["concept"])
    codings = _codings(value) if "coding" in value else _codings({"coding": [value]})
    found = {label for c in codings
             if (label := attribute.label_of(str(c.get("system", "")), str(c.get("code", ""))))}
    if found:
        return found
    texts = [value.get("text")] + [c.get("display") for c in codings]
    return {label for pattern, label in attribute.texts for t in texts
            if isinstance(t, str) and re.search(pattern, t, re.IGNORECASE)}


def _values(attribute: Attribute, data: dict) -> list[object]:
    found = [v for path in attribute.elements for v in _walk(data, path.split("."))]
    extensions = data.get("extension")
    for extension in extensions if isinstance(extensions, list) else ():
        if isinstance(extension, dict) and extension.get("url") in attribute.extensions:
            found += [extension[k] for k in _EXTENSION_VALUES if k in extension]
    return found


def read_attributes(attributes: tuple[Attribute, ...], data: dict) -> dict[str, str]:
    """The attributes a resource says, each as its one label (an attribute it does not say,
    says unreadably or says two ways is left out)."""
    out: dict[str, str] = {}
    for attribute in attributes:
        labels: set[str] = set()
        unread = False
        for value in _values(attribute, data):
            said = _labels(attribute, value)
            labels |= said
            unread = unread or not said
        if len(labels) == 1 and not unread:
            out[attribute.key] = labels.pop()
    return out
