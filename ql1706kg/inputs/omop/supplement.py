"""The site supplement: what an OMOP CDM cannot hold, in the project's long table.

The ICF, the investigator's judgements (able to comply, confirmed at this institution,
extent, resectability, the RECIST assessment, expected survival), intolerance to a regimen,
lactation, childbearing potential and contraception have no place in the CDM. A site keeps
them in the bulk-table format every coordinator already uses (``.csv``/``.xlsx``, one row per
fact, docs and :mod:`ql1706kg.inputs.tables`), with the person_id in the ``patient`` column.
Without it they stay unknown, saying what to collect.

:func:`merge` joins a person's supplement to the record read from the CDM: lists are joined;
a regimen the supplement names (``group``) with no drugs of its own gives its intolerance or
end to the CDM's regimen of that name; a fact a patient has once that both give differently is
an input error for that person (resolve it at the source), except in the sections the mapping
lets the investigator's answer win (``[supplement] wins``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..records import SourcedRecord
from ..tables import read_table
from .vocab import mapping


class Conflict(Exception):
    """The CDM and the supplement say different things of one fact."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field_name, message


def read_supplement(path: Path) -> Iterator[tuple[str, dict] | InputError]:
    """(person id, the record the supplement gives) per person, or an error naming the row."""
    for item in read_table(path):
        if isinstance(item, InputError):
            yield item
        elif isinstance(item, SourcedRecord):
            raw = dict(item.raw) if isinstance(item.raw, dict) else {}
            key = str(raw.get("id") or item.record.id).strip()
            yield key, raw


def merge(record: dict, extra: dict, where: str) -> dict:
    """The CDM's record with the supplement's facts (raises :class:`Conflict`)."""
    wins = set(mapping()["supplement"]["wins"])
    for key, value in extra.items():
        if key == "id":
            continue
        if key not in record:
            record[key] = value
        elif isinstance(value, list) and isinstance(record[key], list):
            record[key] = _join(key, record[key], value, where)
        elif isinstance(value, dict) and isinstance(record[key], dict):
            for name, item in value.items():
                known = record[key].get(name)
                if known is not None and known != item and key not in wins:
                    raise Conflict(f"{key}.{name}", f"the CDM gives {key}.{name} as "
                                   f"'{known}' and the supplement ({where}) as '{item}'; a "
                                   "patient has one, so resolve it at the source")
                record[key][name] = item
        elif record[key] != value and key not in wins:
            raise Conflict(key, f"the CDM gives {key} as '{record[key]}' and the supplement "
                                f"({where}) as '{value}'; resolve it at the source")
        else:
            record[key] = value
    return record


def _join(key: str, known: list, extra: list, where: str) -> list:
    """Join a list section; a supplement regimen with no drugs completes the CDM's regimen
    of the same name."""
    out = list(known)
    for item in extra:
        target = _same_regimen(out, item) if key == "prior_therapies" else None
        if target is None:
            if item not in out:
                out.append(item)
            continue
        for name, value in item.items():
            if name in ("drugs", "name"):
                continue
            if target.get(name) is not None and target[name] != value:
                raise Conflict(f"prior_therapies.{name}", f"the CDM gives the regimen "
                               f"'{target['name']}' {name} '{target[name]}' and the supplement "
                               f"({where}) '{value}'; resolve it at the source")
            target[name] = value
    return out


def _same_regimen(regimens: list, item: Any) -> dict | None:
    if not isinstance(item, dict) or item.get("drugs") or not item.get("name"):
        return None
    name = str(item["name"]).strip().casefold()
    return next((r for r in regimens if isinstance(r, dict)
                 and str(r.get("name", "")).strip().casefold() == name), None)
