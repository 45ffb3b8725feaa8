"""The record's form of what the FHIR reader found, for the record model as it stands.

The reader finds intervals, partial dates, instants, comparator bounds, ongoing courses,
resolved metastases and facts set aside; the record model (:mod:`..models`, issue 20's
contract) carries them. Where the model does not carry one yet, the fact is written the safe
way instead, never as a more certain fact than it is: a partial date is left out (the fact is
undated), an instant is cut to its day, a bound becomes the text of the result ('<2.0',
which no limit reads as a number), a resolved metastasis is left out (the stricter limits
apply), an ongoing support course and any fact set aside make the record one the screening
refuses (an error naming them): never screened as if they were not there.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .. import models

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_FIELDS = {"Metastasis": ("date",), "Therapy": ("start", "end"),
                "SupportiveCare": ("date", "start", "end"), "Diagnosis": ("date",),
                "TumourMeasurement": ("date",), "Lesion": ("date",), "Recist": ("date",)}


@functools.cache
def supports(model: str, name: str) -> bool:
    """Whether the record model's ``model`` has a field ``name``."""
    found = getattr(models, model, None)
    return found is not None and name in found.model_fields


@functools.cache
def partial_dates() -> bool:
    """Whether the model's dates accept a year or a year-month (issue 20's contract)."""
    try:
        models.Metastasis.model_validate({"site": "x", "date": "2023-05"})
    except Exception:
        return False
    return True


@functools.cache
def instants() -> bool:
    """Whether an observation's date may be a dateTime."""
    try:
        models.Observation.model_validate({"test": "x", "value": 1,
                                           "date": "2023-05-04T10:00:00Z"})
    except Exception:
        return False
    return True


def record_form(rec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The record the model can hold, and what keeps it from being screened (facts the model
    cannot carry and that must not be dropped)."""
    refused: list[str] = []
    out = dict(rec)
    if out.get("set_aside") and not supports("PatientRecord", "set_aside"):
        refused += [f"{item['source']} ({item['field']}: {item['reason']})"
                    for item in out.pop("set_aside")]
    out.pop("set_aside", None) if not out.get("set_aside") else None
    partial = partial_dates()
    for section, model in (("metastases", "Metastasis"), ("prior_therapies", "Therapy"),
                           ("supportive_care", "SupportiveCare"),
                           ("tumour_measurements", "TumourMeasurement"), ("lesions", "Lesion")):
        items = out.get(section)
        if not isinstance(items, list):
            continue
        kept = []
        for item in items:
            item = _dated(dict(item), model, partial)
            if item is None:
                continue
            if section == "metastases" and "resolved" in item and not supports(
                    "Metastasis", "resolved"):
                continue  # over: the stricter limits apply until the model can say so
            if section == "supportive_care" and not supports("SupportiveCare", "ongoing") and (
                    item.get("ongoing") or "start" in item or "end" in item):
                refused.append(f"a support course ({item.get('product')}) that the record "
                               "cannot date yet")
                continue
            if section == "prior_therapies" and not supports("Therapy", "ongoing"):
                item.pop("ongoing", None)
            kept.append(item)
        out[section] = kept
    if isinstance(out.get("diagnosis"), dict):
        out["diagnosis"] = _dated(dict(out["diagnosis"]), "Diagnosis", partial) or {}
    out["observations"] = [o for o in (_observation(dict(item), partial)
                                       for item in out.get("observations") or []) if o]
    return out, refused


def _dated(item: dict, model: str, partial: bool) -> dict | None:
    """Dates the model cannot hold are left out (the fact undated)."""
    for name in _DATE_FIELDS.get(model, ()):
        value = item.get(name)
        if isinstance(value, str) and not partial and not _FULL_DATE.match(value):
            del item[name]
    return item


def _observation(item: dict, partial: bool) -> dict | None:
    date = item.get("date")
    if isinstance(date, str) and "T" in date and not instants():
        item["date"] = date = date[:10]
    if isinstance(date, str) and not partial and not _FULL_DATE.match(date[:10]):
        return None  # a result the model cannot date is not a screening result
    comparator = item.get("comparator")
    if comparator is not None and not supports("Observation", "comparator"):
        del item["comparator"]
        if comparator != "=":
            item["value"] = f"{comparator}{item['value']}"
    return item
