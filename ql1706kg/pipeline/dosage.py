"""FHIR R4 ``Dosage`` read as amounts a day: the dose on a dosing day, split by the parts of
the day a protocol names (morning, evening), as intervals of what the instruction allows.

One reader for both inputs: the JSON record's ``facts[].dosage`` is a list of R4 Dosage
objects, and the FHIR reader copies a resource's ``dosage`` / ``dosageInstruction`` (and a
MedicationAdministration's ``dosage``, as one line) there. Every case R4 allows is read, and
whatever the instruction leaves open widens the interval (pipeline/uncertain.py), never
narrows it:

* ``doseAndRate``: ``doseQuantity`` or ``doseRange`` (low/high, one end missing: open); several
  entries (ordered, calculated) are one dose said several ways: their hull. No dose, a rate
  alone, or a unit that is not a mass (a tablet, whose strength the record does not give):
  the dose is unknown.
* ``timing``: ``repeat.frequency``/``frequencyMax`` per ``period``/``periodMax`` ``periodUnit``
  (read as administrations on a dosing day, spread evenly), ``when`` events and ``timeOfDay``
  (one administration each; which part of the day, by the protocol's ``ql:DayPart``), or a
  ``code`` (BID, TID, QID, QD, QOD, AM, PM, Qn H, BED, WK, MO). No timing, or ``event`` dates
  only: at least one administration a day, how many not known.
* ``asNeeded[x]``: taken or not on a day: from none up to ``maxDosePerPeriod`` (unknown maximum
  without it); ``maxDosePerPeriod`` and ``maxDosePerAdministration`` also cap any line.
* ``route``: a route the kind excludes (``ql:excludesRoute``) drops the line; no coded route
  leaves it possibly counted (from none of it to all of it).
* several lines with one ``sequence`` (or none) are taken together (summed); lines of
  different sequences follow each other, so the dose on the assessment date is any of them
  (their hull).

An administration whose part of the day is not known (no ``when``, an event in no declared
part, more administrations than events) counts in every part from none to all of it, and is
also reported as ``unscheduled`` (its largest single amount), so a shape can say "excessive
above the larger limit whatever the time".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from ..errors import UnitError
from ..inputs.fhir.values import _decimal
from ..protocol.equivalents import DoseKind, code_key
from ..protocol.units import convert
from .uncertain import Interval

ZERO = Decimal(0)
UNKNOWN = Interval(ZERO, None)  # an amount that is not known: never zero, never a point
# Timing.repeat.periodUnit (UnitsOfTime) in days: a month or a year as the days it may have
_DAYS = {"s": (Decimal(1) / 86400,) * 2, "min": (Decimal(1) / 1440,) * 2,
         "h": (Decimal(1) / 24,) * 2, "d": (Decimal(1),) * 2, "wk": (Decimal(7),) * 2,
         "mo": (Decimal(28), Decimal(31)), "a": (Decimal(365), Decimal(366))}
# TimingAbbreviation (R4 Timing.code, v3 GTSAbbreviation): the repeat each stands for
_CODES: dict[str, dict] = {
    "QD": {"frequency": 1, "period": 1, "periodUnit": "d"},
    "BID": {"frequency": 2, "period": 1, "periodUnit": "d"},
    "TID": {"frequency": 3, "period": 1, "periodUnit": "d"},
    "QID": {"frequency": 4, "period": 1, "periodUnit": "d"},
    "QOD": {"frequency": 1, "period": 2, "periodUnit": "d"},
    "AM": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["MORN"]},
    "PM": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["AFT"]},
    "BED": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]},
    "WK": {"frequency": 1, "period": 1, "periodUnit": "wk"},
    "MO": {"frequency": 1, "period": 1, "periodUnit": "mo"},
    **{f"Q{n}H": {"frequency": 1, "period": n, "periodUnit": "h"} for n in (1, 2, 3, 4, 6, 8)},
}


@dataclass(frozen=True)
class DoseReading:
    """What a dosage says of one day, in the kind's unit."""

    daily: Interval
    parts: dict = field(default_factory=dict)  # DayPart iri -> Interval
    unscheduled: Interval | None = None  # largest single amount at an unknown time of day
    notes: tuple[str, ...] = ()


def add(a: Interval, b: Interval) -> Interval:
    return Interval(None if a.lo is None or b.lo is None else a.lo + b.lo,
                    None if a.hi is None or b.hi is None else a.hi + b.hi,
                    a.lo_open or b.lo_open, a.hi_open or b.hi_open)


def times(a: Interval, b: Interval) -> Interval:
    """The product of two intervals of non-negative numbers."""
    lo = ZERO if a.lo is None or b.lo is None else a.lo * b.lo
    hi = None if a.hi is None or b.hi is None else a.hi * b.hi
    return Interval(lo, hi)


def larger(a: Interval | None, b: Interval | None) -> Interval | None:
    """The interval of max(x, y) for x in a, y in b."""
    if a is None or b is None:
        return a or b
    lo = max(x for x in (a.lo, b.lo, ZERO) if x is not None)
    return Interval(lo, None if a.hi is None or b.hi is None else max(a.hi, b.hi))


def _up_to(a: Interval) -> Interval:
    """From none of it to all of it (an amount that may not count)."""
    return Interval(ZERO, a.hi, False, a.hi_open)


def _number(value: object) -> Decimal | None:
    """A dose, rate or count: a FHIR decimal (the readers' own), never negative."""
    number = _decimal(value)
    return number if number is not None and number >= 0 else None


def _amount(quantity: object, unit: str) -> Decimal | None:
    """A Quantity's value in ``unit`` (None: no value, or not convertible: not a mass)."""
    if not isinstance(quantity, dict) or quantity.get("comparator") is not None:
        return None  # a SimpleQuantity has no comparator: one written is not trusted
    value = _number(quantity.get("value"))
    written = quantity.get("code") or quantity.get("unit")
    if value is None or not isinstance(written, str):
        return None
    try:
        return convert(value, written, unit)
    except (UnitError, ArithmeticError, ValueError, TypeError, KeyError):
        return None


def _dose(line: dict, unit: str, notes: list[str]) -> Interval:
    """The amount of one administration."""
    found: Interval | None = None
    entries = line.get("doseAndRate")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if "doseQuantity" in entry:
            value = _amount(entry["doseQuantity"], unit)
            this = UNKNOWN if value is None else Interval.point(value)
        elif isinstance(entry.get("doseRange"), dict):
            low, high = entry["doseRange"].get("low"), entry["doseRange"].get("high")
            lo, hi = _amount(low, unit), _amount(high, unit)
            bad = (low is not None and lo is None) or (high is not None and hi is None)
            this = UNKNOWN if bad or (lo is None and hi is None) else Interval(lo or ZERO, hi)
        else:
            continue  # a rate alone says no amount per administration
        found = this if found is None else found.hull(this)
    if found is None or found.hi is None:
        notes.append("no dose in " + unit + " is recorded" if found is None
                     else "the dose is not a mass or has no upper end")
        return UNKNOWN if found is None else found
    return found


def _cap(amount: Interval, cap: Decimal | None) -> Interval:
    if cap is None:
        return amount
    hi = cap if amount.hi is None else min(amount.hi, cap)
    return Interval(min(amount.lo or ZERO, hi), hi, amount.lo_open, False)


def _per_day(repeat: dict) -> Interval | None:
    """Administrations on a dosing day (None: the repeat says no rate)."""
    events = _events(repeat)
    freq, freq_max = _number(repeat.get("frequency")), _number(repeat.get("frequencyMax"))
    period, period_max = _number(repeat.get("period")), _number(repeat.get("periodMax"))
    unit = repeat.get("periodUnit")
    unit = unit if isinstance(unit, str) else None
    if period is None and events and freq in (None, len(events)) and freq_max is None:
        return Interval.point(Decimal(len(events)))  # one administration per event, a day
    if period is None or unit not in _DAYS or period == 0:
        return None
    freq = freq if freq is not None else Decimal(1)
    freq_hi = max(freq_max or freq, freq)
    days_lo = period * _DAYS[unit][0]
    days_hi = max(period_max or period, period) * _DAYS[unit][1]
    if days_lo == 0:
        return None
    low, high = freq / days_hi, freq_hi / days_lo
    return Interval(Decimal(max(1, math.floor(low))), Decimal(max(1, math.ceil(high))))


def _events(repeat: dict) -> list[str | time | None]:
    """The events of a day: each ``when`` code, each ``timeOfDay`` (None: not a time)."""
    when = repeat.get("when")
    clock = repeat.get("timeOfDay")
    events: list[str | time | None] = [str(w) for w in when] if isinstance(when, list) else []
    return events + ([_clock(t) for t in clock] if isinstance(clock, list) else [])


def _clock(value: object) -> time | None:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None


def _part_of(kind: DoseKind, event: object):
    for part in kind.parts:
        if (isinstance(event, str) and event in part.events) or (
                isinstance(event, time) and part.holds(event)):
            return part.iri
    return None


@dataclass
class _Line:
    """One line's amounts: certain per part, and not placed in any part."""

    daily: Interval
    parts: dict
    floating: Interval
    single: Interval | None


def _line(line: dict, unit: str, kind: DoseKind, notes: list[str]) -> _Line | None:
    route = [code_key(c.get("system"), c.get("code")) for c in _codings(line.get("route"))]
    if route and any(r in kind.excluded_routes for r in route):
        return None
    dose = _dose(line, unit, notes)
    dose = _cap(dose, _amount(line.get("maxDosePerAdministration"), unit))
    timing = line.get("timing")
    timing = timing if isinstance(timing, dict) else {}
    repeat = timing.get("repeat")
    repeat = repeat if isinstance(repeat, dict) else None
    code = next((str(c.get("code")) for c in _codings(timing.get("code"))
                 if str(c.get("code")) in _CODES), None)
    if repeat is None and code is not None:
        repeat = _CODES[code]
    count = _per_day(repeat) if repeat is not None else None
    if count is None:
        notes.append("how often it is taken is not recorded")
        count = Interval(Decimal(1), None)
    daily = times(dose, count)
    events = _events(repeat) if repeat is not None else []
    parts: dict = {}
    placed = count.exact and len(events) == count.lo and all(
        _part_of(kind, e) is not None for e in events)
    if placed:
        for event in events:
            iri = _part_of(kind, event)
            parts[iri] = add(parts.get(iri, Interval.point(ZERO)), dose)
    floating, single = (Interval.point(ZERO), None) if placed else (daily, dose)
    if not placed and kind.parts:
        notes.append("the time of day it is taken is not recorded")
    if _as_needed(line):
        cap = _max_per_day(line.get("maxDosePerPeriod"), unit)
        notes.append("taken as needed" + ("" if cap is not None else ", with no maximum"))
        daily = Interval(ZERO, cap)
        parts = {iri: _up_to(amount) for iri, amount in parts.items()}
        floating = Interval.point(ZERO) if placed else Interval(ZERO, cap)
        single = None if single is None else _cap(_up_to(single), cap)
    else:
        daily = _cap(daily, _max_per_day(line.get("maxDosePerPeriod"), unit))
    if not route or not any(c for c in route if c[1]):
        notes.append("its route is not recorded")
        daily, floating = _up_to(daily), _up_to(floating)
        parts = {iri: _up_to(amount) for iri, amount in parts.items()}
        single = None if single is None else _up_to(single)
    return _Line(daily, parts, floating, single)


def _as_needed(line: dict) -> bool:
    return line.get("asNeededBoolean") is True or isinstance(
        line.get("asNeededCodeableConcept"), dict)


def _max_per_day(ratio: object, unit: str) -> Decimal | None:
    """The most a day may hold by ``maxDosePerPeriod`` (a Ratio: mass per time)."""
    if not isinstance(ratio, dict):
        return None
    amount = _amount(ratio.get("numerator"), unit)
    over = ratio.get("denominator")
    if amount is None or not isinstance(over, dict):
        return None
    length = _number(over.get("value"))
    said = over.get("code") or over.get("unit")
    if length is None or length == 0 or not isinstance(said, str) or said not in _DAYS:
        return None
    days = length * _DAYS[str(said)][0]
    return amount if days >= 1 else amount * math.ceil(1 / days)


def _codings(concept: object) -> list[dict]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [c for c in concept["coding"] if isinstance(c, dict)]


def _together(lines: list[_Line], kind: DoseKind) -> DoseReading:
    daily, floating = Interval.point(ZERO), Interval.point(ZERO)
    parts: dict = {p.iri: Interval.point(ZERO) for p in kind.parts}
    single: Interval | None = None
    for line in lines:
        daily, floating = add(daily, line.daily), add(floating, line.floating)
        for iri, amount in line.parts.items():
            parts[iri] = add(parts[iri], amount)
        single = larger(single, line.single)
    parts = {iri: add(amount, _up_to(floating)) for iri, amount in parts.items()}
    return DoseReading(daily, parts, single)


def _either(a: Interval | None, b: Interval | None) -> Interval | None:
    """The largest unscheduled amount of one reading or another (none in one: from zero)."""
    if a is not None and b is not None:
        return a.hull(b)
    known = a if a is not None else b
    return None if known is None else _up_to(known)


def read_dosage(lines: Iterable[object], unit: str, kind: DoseKind) -> DoseReading:
    """The amounts a day the dosage lines allow (never raises; an unreadable line is unknown)."""
    notes: list[str] = []
    groups: dict[object, list[_Line]] = {}
    common: list[_Line] = []
    excluded = 0
    for raw in lines if isinstance(lines, list | tuple) else []:
        if not isinstance(raw, dict):
            notes.append("a dosage line is not readable")
            common.append(_Line(UNKNOWN, {}, UNKNOWN, UNKNOWN))
            continue
        line = _line(raw, unit, kind, notes)
        if line is None:
            excluded += 1
            continue
        sequence = _number(raw.get("sequence"))
        (groups.setdefault(sequence, []) if sequence is not None else common).append(line)
    if not groups and not common and not excluded:
        notes.append("no dosage is recorded")
        common.append(_Line(UNKNOWN, {}, UNKNOWN, UNKNOWN))
    readings = [_together(common + g, kind) for g in groups.values()] or [
        _together(common, kind)]
    if len(readings) > 1:
        notes.append("its dosage changes in sequence")
    first = readings[0]
    daily, parts, single = first.daily, dict(first.parts), first.unscheduled
    for other in readings[1:]:
        daily = daily.hull(other.daily)
        parts = {iri: amount.hull(other.parts[iri]) for iri, amount in parts.items()}
        single = _either(single, other.unscheduled)
    return DoseReading(daily, parts, single, tuple(dict.fromkeys(notes)))
