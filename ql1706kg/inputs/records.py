"""A patient record with where it came from, and the validation that names what is wrong.

Every reader (JSON, NDJSON, tables, FHIR) ends here: a JSON value is validated against the
record model and becomes a :class:`SourcedRecord`, or an :class:`InputError` naming the
source, the record and the field (``observations[3].date``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..errors import InputError
from .models import PatientRecord, _Strict
from .plausibility import json_problem, record_problem, without_implausible

# Field names of every record model: a location part that is one of these is a field, even
# when it is also the name of a type that pydantic uses for a union branch ("date").
_FIELD_NAMES = frozenset(name for model in _Strict.__subclasses__() for name in model.model_fields)
_UNION_BRANCHES = frozenset({"str", "Coded", "float", "int", "date", "bool", "function-after"})


@dataclass(frozen=True)
class SourcedRecord:
    """A record with where it came from (file, and position in a list)."""

    source: str
    record: PatientRecord
    raw: dict | None = field(default=None, compare=False, repr=False)  # what was validated

    def __reduce__(self) -> tuple:
        # Sent to worker processes as the JSON value it was validated from, and validated
        # again there: pickling the pydantic model cost 4× a validation (0.29 ms a patient).
        if self.raw is None:
            return (SourcedRecord, (self.source, self.record))
        return (_validated, (self.source, self.raw))


    @property
    def id(self) -> str:
        """The patient's id."""
        return self.record.id


def _validated(source: str, raw: dict) -> SourcedRecord:
    return SourcedRecord(source, without_implausible(PatientRecord.model_validate(raw), source),
                         raw)


@dataclass(frozen=True)
class RawRecord:
    """A record read but not validated yet: ``read_paths(..., validate=False)`` leaves the
    validation to the process that screens it, so a parent feeding workers only splits JSON."""

    source: str
    raw: object
    index: int | None = None

    @property
    def id(self) -> str | None:
        """The id the record gives (stripped, as validation would), if it gives one."""
        value = self.raw.get("id") if isinstance(self.raw, dict) else None
        return value.strip() if isinstance(value, str) else None

    def parse(self) -> SourcedRecord | InputError:
        """Validate: the record, or the error naming the source, the record and the field."""
        return parse_record(self.raw, self.source, self.index)


def parse_record(item: object, source: str, index: int | None = None) -> SourcedRecord | InputError:
    """Validate one JSON value as a patient record."""
    record_name = _record_name(item, index)
    if not isinstance(item, dict):
        return InputError(source, f"a patient record must be a JSON object, not "
                                  f"{type(item).__name__}", record=record_name)
    problem = json_problem(item)
    if problem is not None:
        return InputError(source, problem[1], record=record_name, field=problem[0])
    try:
        record = PatientRecord.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(first["loc"])
        more = len(exc.errors()) - 1
        message = _describe(first) + (f" (and {more} more problem{'s' * (more > 1)})"
                                      if more else "")
        return InputError(source, message, record=record_name, field=field or None)
    problem = record_problem(record)
    if problem is not None:
        return InputError(source, problem[1], record=record_name, field=problem[0])
    # an implausible fact is set aside (named in the record's set_aside), never the record
    return SourcedRecord(source, without_implausible(record, source), item)


def _record_name(item: object, index: int | None) -> str | None:
    """How an error names the record: its id if that is a plain line of sane length (else its
    escaped start), or its position in a list."""
    value = item.get("id") if isinstance(item, dict) else None
    if isinstance(value, str) and value.strip():
        name = value.strip()
        if json_problem({"id": name}) is None:
            return name
        return name[:40].encode("unicode_escape", "backslashreplace").decode("ascii") + (
            "…" if len(name) > 40 else "")
    return None if index is None else f"#{index + 1}"


def _field_path(loc: tuple) -> str:
    """Turn pydantic's location into 'observations[3].date' (union branch names dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (part in _UNION_BRANCHES and part not in _FIELD_NAMES) or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check its spelling against the record schema)"
    value = error.get("input")
    shown = (json.dumps(value, default=str)[:60] if not isinstance(value, dict)
             else "an object")
    return f"{error['msg'].rstrip('.')} (got {shown})"
