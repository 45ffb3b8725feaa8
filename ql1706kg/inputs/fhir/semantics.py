"""The FHIR semantics layer: what a resource means, before any criterion reads it.

Every resource a reader takes first passes through :func:`read`, which answers, by the element
table (:mod:`.elements`), the three questions FHIR's modifiers and choice types raise:

* **does it count?** its status elements (``status``, ``clinicalStatus``, ``verificationStatus``,
  ``intent``, ``doNotPerform``, ``mode``) as one :class:`Status` category: counts, ongoing,
  ended, resolved, planned, not-given, removed, uncertain or retired;
* **can it be trusted?** an unknown ``modifierExtension`` (on the resource or on an element the
  reader reads) or ``implicitRules`` sets it aside (:func:`modifier_problem`);
* **when?** the interval its time elements name, in whichever choice type they are written
  (:mod:`.timing`): a Period with no end is ongoing, and so is a course whose status says so.

Values come with their bound (:func:`quantity_bound`, :func:`string_bound`: a comparator is a
bound, not a value), and an ``interpretation`` that contradicts the value and its reference
range is found by :func:`interpretation_conflict`. The readers of each resource family turn the
answers into the record; a fact set aside is named there, never dropped.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import cast

import orjson

from .elements import CATEGORY_ORDER, Row, element_table
from .timing import Span, When, between, choice, days_of, period, timing, when

COMPARATORS = ("<", "<=", ">", ">=")
_STRING_BOUND = re.compile(r"^\s*(<=|>=|=<|=>|≤|≥|<|>|=)?\s*([+-]?\d+(?:[.,]\d+)?)\s*"
                           r"(10[*^]\S+|[^\d\s<>=≤≥.,+-][^<>=≤≥]*)?$")
_SYMBOLS = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">=", "=": "="}
UNREADABLE_VALUES = ("valueRatio", "valueSampledData", "valueTime", "valueDateTime",
                     "valuePeriod", "valueAttachment", "valueReference")


# -- values and their bounds ----------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    """A value as a bound: ``comparator`` '=' for the value itself, else '<', '<=', '>', '>='."""

    comparator: str
    value: Decimal

    @property
    def exact(self) -> bool:
        return self.comparator == "="


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).replace(",", ".") if isinstance(value, str) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def quantity_bound(quantity: object) -> Bound | None:
    """A Quantity's value with its comparator (Quantity.comparator is a modifier: '<2.0' is
    not 2.0); None when it has no usable value or an unknown comparator."""
    if not isinstance(quantity, dict):
        return None
    number = _decimal(quantity.get("value"))
    comparator = quantity.get("comparator", "=")
    if number is None or comparator not in (*COMPARATORS, "="):
        return None
    return Bound(comparator, number)


def string_bound(text: object) -> tuple[Bound, str | None] | None:
    """A result written as text: '<0.5', '≤ 0.5', '>=3', '0.4 mg/dL' as a bound and the unit
    written after it (None when the text is not a number, with or without a comparator)."""
    if not isinstance(text, str):
        return None
    match = _STRING_BOUND.match(text)
    if match is None:
        return None
    symbol, number, unit = match.groups()
    value = _decimal(number)
    if value is None:
        return None
    comparator = _SYMBOLS.get(symbol, symbol) if symbol else "="
    return Bound(comparator, value), (unit.strip() or None) if unit else None


def range_bound(value: object) -> Bound | None:
    """A value Range with one end is a bound (>= low, <= high); with both ends it is an
    interval the record cannot hold (None)."""
    if not isinstance(value, dict):
        return None
    low, high = quantity_bound(value.get("low")), quantity_bound(value.get("high"))
    if low is not None and high is None:
        return Bound(">=", low.value)
    if high is not None and low is None:
        return Bound("<=", high.value)
    return None


def unreadable_value(part: dict) -> str | None:
    """The value element of a result that no record can hold (a ratio, a sampled series, a
    time, a two-ended range...), or None."""
    for key in UNREADABLE_VALUES:
        if key in part:
            return key
    if "valueRange" in part and range_bound(part["valueRange"]) is None:
        return "valueRange"
    return None


def interpretation_conflict(bound: Bound | None, high: Decimal | None, low: Decimal | None,
                            interpretation: object) -> str | None:
    """Why a result's interpretation contradicts its value and reference range, or None: read
    high but not above the upper limit, low but not below the lower, normal but outside."""
    table = element_table()
    said = set()
    for concept in interpretation if isinstance(interpretation, list) else []:
        for coding in (concept.get("coding") or []) if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and coding.get("system") in (
                    table.interpretation_system, None):
                meaning = table.interpretation.get(str(coding.get("code")))
                if meaning:
                    said.add((meaning, str(coding.get("code"))))
    if bound is None or not bound.exact or not said:
        return None
    value = bound.value
    for meaning, code in sorted(said):
        if meaning == "high" and high is not None and value <= high:
            return f"read as high ({code}) but {value} is not above the upper limit {high}"
        if meaning == "low" and low is not None and value >= low:
            return f"read as low ({code}) but {value} is not below the lower limit {low}"
        if meaning == "normal" and ((high is not None and value > high)
                                    or (low is not None and value < low)):
            return f"read as normal ({code}) but {value} is outside the reference range"
    return None


# -- does it count? -------------------------------------------------------------------------

@dataclass(frozen=True)
class Status:
    """What a resource's status elements say together: the worst category and the words."""

    category: str
    said: str = ""

    @property
    def counts(self) -> bool:
        return self.category in ("counts", "ongoing", "ended", "resolved")


def _codes(value: object) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(c["code"]) for c in value.get("coding") or []
                if isinstance(c, dict) and c.get("code") is not None]
    return []


_RANK = {name: rank for rank, name in enumerate(CATEGORY_ORDER)}


def status_of(kind: str, data: dict) -> Status:
    """The status of a resource by the table's status elements of its type (an element absent
    says nothing; a code the table does not know makes the resource uncertain)."""
    found: list[tuple[str, str]] = []
    for name, values in _status_elements(kind):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, str):  # the common case: a code
            found.append((values.get(value, "uncertain"), f"{name} {value}"))
            continue
        codes = _codes(value)
        if codes:
            worst = min((values.get(code, "uncertain") for code in codes), key=_RANK.__getitem__)
            found.append((worst, f"{name} {'/'.join(codes)}"))
    concept = data.get("code")
    if isinstance(concept, dict) and concept.get("coding") and any(
            isinstance(c, dict) and c.get("extension") for c in concept["coding"]):
        found += _qualified(concept)
    if not found:
        return _COUNTS
    if len(found) == 1:
        return Status(found[0][0], found[0][1])
    worst = min((c for c, _ in found), key=_RANK.__getitem__)
    return Status(worst, ", ".join(words for c, words in found if c == worst))


@functools.cache
def _status_elements(kind: str) -> tuple[tuple[str, dict[str, str]], ...]:
    return tuple((row.element, row.values) for row in element_table().status_rows(kind))


def _qualified(concept: object) -> list[tuple[str, str]]:
    """What certainty extensions on the codings of a resource's code say (the German
    Diagnosesicherheit: A excluded, V suspected, Z status after)."""
    qualifiers = element_table().qualifiers
    out = []
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        for extension in (coding.get("extension") or []) if isinstance(coding, dict) else []:
            meanings = qualifiers.get(str(extension.get("url"))) if isinstance(extension,
                                                                           dict) else None
            if meanings is None:
                continue
            value = extension.get("valueCoding") or extension.get("valueCode")
            code = value.get("code") if isinstance(value, dict) else value
            category = meanings.get(str(code), "uncertain")
            out.append((category, f"code qualified {code} ({extension['url'].rsplit('/', 1)[-1]})"))
    return out


_COUNTS = Status("counts")


# -- can it be trusted? ---------------------------------------------------------------------

def modifier_problem(kind: str, data: dict) -> tuple[str, str] | None:
    """The element (field) and the reason a resource must be set aside for a modifier the
    reader does not understand, or None: ``implicitRules``, or a ``modifierExtension`` on the
    resource or on an element the reader reads (one on an element it never reads, such as a
    Patient's contact, changes nothing read). A contained resource is checked as its own type."""
    if not _mentions_modifier(data):  # the common case, told by the C encoder at once
        return None
    table = element_table()
    if "implicitRules" in data:
        return f"{kind}.implicitRules", (f"implicit rules ({data['implicitRules']}) the reader "
                                         "does not know")
    stack: list[tuple[object, str]] = [(data, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, list):
            stack.extend((value, path) for value in item)
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == "modifierExtension":
                element = f"{path}.{key}" if path else key
                if table.modifier_action(kind, element) != "not-read":
                    urls = sorted({str(e.get("url")) for e in value if isinstance(e, dict)}) \
                        if isinstance(value, list) else []
                    return (f"{kind}.{element}",
                            f"modifier extension {', '.join(urls) or '(no url)'} not understood")
            elif key == "contained" and not path and isinstance(value, list):
                for inner in value:
                    if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
                        found = modifier_problem(inner["resourceType"], inner)
                        if found is not None:
                            return (f"{kind}.contained.{found[0]}",
                                    found[1] + " (in a contained resource)")
            elif isinstance(value, dict | list) and not key.startswith("_"):
                stack.append((value, f"{path}.{key}" if path else key))
    return None


def _mentions_modifier(data: dict) -> bool:
    """Whether a resource has a modifierExtension or implicitRules anywhere (a key or a
    string that spells it: then it is walked)."""
    try:
        text = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        return True
    return b"modifierExtension" in text or b"implicitRules" in text


# -- when? ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """What the semantics layer says of one resource (see the module's text)."""

    status: Status
    set_aside: tuple[str, str] | None = None  # (field, reason)
    span: Span | None = None  # when it happened or ran (effective, onset, performed...)
    ended: Span | None = None  # when it was over (a Condition's abatement), if it says so
    abated: bool = False  # an abatement is given (in any form, dated or not)
    recorded: When | None = None  # when it was recorded (fallback date)
    found: str | None = None  # the time element that dated it

    @property
    def date(self) -> When | None:
        """One date for the fact: the end of its period when it has one (a result over a
        period is dated by when it was complete), else its start, else when it was recorded."""
        span = self.span
        if span is not None and (span.end or span.start):
            return span.end or span.start
        return self.recorded


def _value_at(data: object, path: list[str], birth: When | None
              ) -> tuple[Span | When | Decimal | None, str | None]:
    """The time (or length) an element path names: a choice element in any of its types, a
    Timing, a Period, a date, or a Duration/Quantity's length in days (the first of a list
    that has one)."""
    if not isinstance(data, dict) or not path:
        return None, None
    head, rest = path[0], path[1:]
    if head.endswith("[x]"):
        return choice(data, head[:-3], birth)
    value = data.get(head)
    if value is None:
        return None, None
    if rest:
        for item in value if isinstance(value, list) else [value]:
            found = _value_at(item, rest, birth)
            if found[0] is not None:
                return found
        return None, None
    if isinstance(value, list):  # a Timing of every dosage: the first that dates the course
        for item in value:
            course = timing(item)
            if course is not None:
                return course, head
        return None, None
    if isinstance(value, dict):
        if "start" in value or "end" in value:
            return period(value), head
        if "repeat" in value or "event" in value:
            return timing(value), head
        length = days_of(value)
        return (length[1] if length else None), head
    return when(value), head


def read(kind: str, data: dict, birth: When | None = None, clean: bool = False) -> Reading:
    """The status, the modifier problem and the time of one resource, by the element table
    (``clean``: its JSON is known to spell no modifier, so none is looked for)."""
    status = status_of(kind, data)
    problem = None if clean else modifier_problem(kind, data)
    span = ended = recorded = None
    found = None
    supply: Decimal | None = None
    abated = False
    for row, path in _time_paths(kind):
        value, where = _value_at(data, path, birth)
        if row.role == "end" and where is not None:
            abated = True
        if value is None:
            continue
        if row.role in ("when", "start", "bounds") and span is None:
            span = _as_span(value)
            found = where
        elif row.role == "end" and ended is None:
            ended = _as_span(value)
        elif row.role in ("recorded", "asserted", "issued") and recorded is None:
            recorded = value.start if isinstance(value, Span) else value \
                if isinstance(value, When) else None
        elif row.role == "supply" and isinstance(value, Decimal):
            supply = value
    span = _course(span, supply, status)
    return Reading(status, problem, span, ended, abated, recorded, found)


def _as_span(value: object) -> Span:
    """A time element's value as a span (a single time: a span of it alone)."""
    if isinstance(value, Span):
        return value
    return Span(cast(When, value), cast(When, value))  # (the time rows give times)


@functools.cache
def _time_paths(kind: str) -> tuple[tuple[Row, list[str]], ...]:
    """The table's time elements of a type, each with its path split (read for every
    resource)."""
    return tuple((row, row.element.split(".")) for row in element_table().times(kind))


def _course(span: Span | None, supply: Decimal | None, status: Status) -> Span | None:
    """A course's end: a dispense's supply gives it; a status that says the course runs
    (active, on hold, in progress) leaves it open, even past an end it states: FHIR's
    ``active`` is "still being taken" when recorded, so a stated end is a planned or last known
    one and the course may reach any later window."""
    if span is not None and supply is not None and span.start is not None and span.end in (
            None, span.start):
        import datetime as dt

        days = float(max(supply - 1, Decimal(0)))
        end = between(span.start.first + dt.timedelta(days=days),
                      span.start.last + dt.timedelta(days=days))
        span = Span(span.start, end)
    if status.category == "ongoing":
        return Span(span.start if span else None, None, ongoing=True)
    elif span is not None and span.ongoing and status.category in ("ended", "counts") \
            and status.said:
        return Span(span.start, None, ongoing=False)  # over, its end not recorded
    return span


def time_row(kind: str, role: str) -> Row | None:
    rows = element_table().times(kind, role)
    return rows[0] if rows else None
