"""Unit normalisation by UCUM code.

Conversions are computed by ``ucumvert`` (UCUM on pint), never by a hand-written table of
factors. Building pint's registry costs ~1.5 s, more than screening a patient, so factors are
kept in a cache: a pre-warmed file shipped with the package (``unit_factors.json``, made by
``python -m ql1706kg.units``) and a per-user file for pairs met later. The only numbers
written by hand are molar masses, which live in the ontology (``ql:molarMass``).

Values are Decimals so that a result exactly at a limit is never flipped by binary rounding
(pitfalls.md: 1400 /uL must be exactly 1.4 ×10⁹/L).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import UnitError
from .resources import unit_cache_file

# Spellings a laboratory or a coordinator writes that are not UCUM, each with its source:
# data/unit-spellings.csv (read once). Powers of ten are read by pattern (10^9/L, x10E3/uL,
# 10(3)/mcL, 10**9/L), counts by their multiplier word (K/uL, thou/mm3, M/uL), and "mc" for
# micro (mcL, mcmol/L) as UCUM's u.
_POWER = re.compile(r"^(?:x|×)?\s*10\.?\s*(?:\^|\*\*?|e|\(|x)\s*(\d+)\)?\s*/\s*(.+)$",
                    re.IGNORECASE)
# A UCUM annotation {...} does not change a unit (UCUM §6.4); standing alone it is the unity 1.
_ANNOTATION = re.compile(r"\{[^{}]*\}")
_FACTOR_ANNOTATION = re.compile(r"(?:^|[/.])\{")  # an annotation standing as a factor of its own
# UCUM arbitrary units are commensurable with nothing but themselves (UCUM §4.3.4); pint would
# treat them as dimensionless and happily turn IU/L into 10*9/L.
_ARBITRARY = re.compile(r"\[(?:IU|iU|arb'U|USP'U|[A-Za-z']*'U)\]")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


@dataclass(frozen=True)
class Spellings:
    """The table of spellings (data/unit-spellings.csv) by kind."""

    units: dict[str, str]  # casefolded spelling -> UCUM
    exact: dict[str, str]  # spelling whose case matters (G/L is not g/L) -> UCUM
    multipliers: dict[str, str]  # word before "/volume" -> power of ten (K -> 10*3)
    volumes: dict[str, str]  # volume spelling -> UCUM (cumm -> uL)
    prefixes: dict[str, str]  # prefix spelling -> UCUM prefix (mc -> u)


@cache
def spellings() -> Spellings:
    """The unit spelling table, read once from the package data."""
    text = (resources.files(__package__) / "data" / "unit-spellings.csv").read_text("utf-8")
    table: dict[str, dict[str, str]] = {k: {} for k in ("unit", "exact", "multiplier",
                                                         "volume", "prefix")}
    for row in csv.DictReader(io.StringIO(text)):
        key = row["written"] if row["kind"] == "exact" else row["written"].casefold()
        table[row["kind"]][key] = row["ucum"]
    return Spellings(table["unit"], table["exact"], table["multiplier"], table["volume"],
                     table["prefix"])


def ucum_spelling(unit: str | None) -> str | None:
    """Rewrite a unit as typed ('x10^9/L', 'µmol/l', 'mg/24h', 'K/mcL') to its UCUM code.
    Remembered per spelling (a cohort writes a handful of units thousands of times, and the
    rewriting runs a dozen regular expressions)."""
    if unit is None:
        return None
    if type(unit) is not str:  # a str subclass (a Literal) or a stray value: as it comes
        return _spell(unit)
    try:
        return _SPELLED[unit]
    except KeyError:
        pass
    if len(_SPELLED) >= 1 << 12:
        _SPELLED.clear()
    spelled = _SPELLED[unit] = _spell(unit)
    return spelled


_SPELLED: dict[str, str | None] = {}


def _spell(unit: str) -> str | None:
    text = unit.strip().replace("µ", "u").replace("μ", "u")
    text = re.sub(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^" + m.group(1).translate(_SUPERSCRIPTS),
                  text).replace("³", "3")
    if not text:
        return None
    text = _without_annotations(text)
    table = spellings()
    if text in table.exact:
        return table.exact[text]
    text = _micro(text, table)
    power = _POWER.match(text.replace(" ", ""))
    if power:
        volume = table.volumes.get(power.group(2).casefold())
        if volume is not None:
            return f"10*{power.group(1)}/{volume}"
    head, slash, tail = text.rpartition("/")
    # a count per microlitre only: K/L is kelvin per litre, never thousands
    if slash and head.strip().casefold() in table.multipliers and \
            table.volumes.get(tail.strip().casefold()) == "uL":
        return f"{table.multipliers[head.strip().casefold()]}/uL"
    if slash and head.strip() in ("", "#") and tail.strip().casefold() in table.volumes and \
            table.volumes[tail.strip().casefold()] == "uL":
        return "/uL"
    return table.units.get(text.casefold(), text)


_MICRO_ATOMS = r"(?=(?:L|l|g|mol|\[IU\]|IU|U)(?:$|[/.\s]))"


def _micro(text: str, table: Spellings) -> str:
    """'mc' for micro (mcL, mcg/L, mcmol/L) as UCUM's prefix 'u'."""
    for written, ucum in table.prefixes.items():
        text = re.sub(rf"(?<![A-Za-z]){written}{_MICRO_ATOMS}", ucum, text)
    return text


def _without_annotations(text: str) -> str:
    """UCUM annotations dropped: ``{ratio}`` and ``{INR}`` alone are the unity 1, ``{cells}/uL``
    is /uL and ``10*3{cells}/uL`` is 10*3/uL. An annotation standing as a factor of its own
    inside a longer unit (``mL/min/{1.73_m2}``, a normalised clearance) is kept: reading it as
    1 would take a normalised value for a raw one, so such a unit stays unconvertible."""
    if not _ANNOTATION.search(text):
        return text
    if _ANNOTATION.fullmatch(text):
        return "1"
    head = _ANNOTATION.match(text)
    if head and text[head.end():].startswith("/"):
        text = text[head.end():]  # '{cells}/uL' is '/uL'
    return re.sub(r"(?<=[\w\]])\{[^{}]*\}", "", text)


def _user_cache_file() -> Path:
    base = os.environ.get("QL1706KG_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) / "ql1706kg" if base else Path.home() / ".cache" / "ql1706kg"
    return root / "unit_factors.json"


def _key(source: str, target: str, molar_mass: Decimal | None) -> str:
    return f"{source} -> {target} @ {molar_mass or '-'}"


@cache
def _factors() -> dict[str, str | None]:
    table: dict[str, str | None] = {}
    for path in (unit_cache_file(), _user_cache_file()):
        try:
            table.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return table


@cache
def _registry():  # pragma: no cover - exercised when the cache misses
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


def compute_factor(source: str, target: str, molar_mass: Decimal | None) -> Decimal | None:
    """Ask UCUM for the factor from ``source`` to ``target``; None when not commensurable."""
    import pint

    if _ARBITRARY.search(source) or _ARBITRARY.search(target):
        standing_in = _same_arbitrary_unit(source, target)
        if standing_in[0] is None or standing_in[1] is None:
            return None
        source, target = standing_in[0], standing_in[1]
    registry = _registry()
    try:
        quantity = registry.from_ucum(source)
        wanted = registry.from_ucum(target)
        if molar_mass is not None and quantity.dimensionality != wanted.dimensionality:
            per_mole = registry.from_ucum("g/mol") * float(molar_mass)
            if (quantity / per_mole).dimensionality == wanted.dimensionality:
                quantity = quantity / per_mole
            elif (quantity * per_mole).dimensionality == wanted.dimensionality:
                quantity = quantity * per_mole
        magnitude = quantity.to(wanted.units).magnitude / wanted.magnitude
    except (pint.PintError, ValueError, TypeError, AttributeError, KeyError, Exception):
        return None
    return Decimal(f"{magnitude:.12g}")


def _same_arbitrary_unit(source: str, target: str) -> tuple[str | None, str | None]:
    """Two units built on the same one arbitrary unit (m[IU]/mL and [IU]/L) differ only by
    prefixes and ordinary units, which UCUM converts (clinical-rules.md: m[IU]/mL = [IU]/L):
    the arbitrary unit is stood in for by a base unit neither uses (the candela), so the
    arithmetic is UCUM's own. Anything else with an arbitrary unit is not commensurable."""
    atoms = set(_ARBITRARY.findall(source)) | set(_ARBITRARY.findall(target))
    if (len(atoms) != 1 or not _ARBITRARY.search(source) or not _ARBITRARY.search(target)
            or "cd" in source + target):
        return None, None
    (atom,) = atoms
    return source.replace(atom, "cd"), target.replace(atom, "cd")


def factor(source: str, target: str, molar_mass: Decimal | None = None) -> Decimal | None:
    """Return the factor that converts ``source`` to ``target`` (cached)."""
    if source == target:
        return Decimal(1)
    if _FACTOR_ANNOTATION.search(source) or _FACTOR_ANNOTATION.search(target):
        return None  # UCUM reads mL/min/{1.73_m2} as mL/min: a normalised value taken for raw
    key = _key(source, target, molar_mass)
    table = _factors()
    if key not in table:
        found = compute_factor(source, target, molar_mass)
        table[key] = None if found is None else str(found)
        _remember(key, table[key])
    value = table[key]
    return None if value is None else Decimal(value)


def _remember(key: str, value: str | None) -> None:
    path = _user_cache_file()
    try:
        known = json.loads(path.read_text()) if path.exists() else {}
        known[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=0, sort_keys=True))
        tmp.replace(path)
    except (OSError, ValueError):
        pass


def convert(value: Decimal, unit: str | None, target: str | None,
            molar_mass: Decimal | None = None, aliases: tuple[str, ...] = ()) -> Decimal:
    """Convert ``value`` in ``unit`` to ``target``; raise UnitError when it cannot be done."""
    if target is None or target in {"1", "{INR}"}:
        spelled = ucum_spelling(unit)
        if spelled in (None, "1", "{INR}", target):
            return value
        raise UnitError(f"unit '{unit}' is not dimensionless")
    spelled = ucum_spelling(unit)
    if spelled is None:
        raise UnitError(f"no unit given (expected {target})")
    if spelled in aliases:
        return value
    found = factor(spelled, target, molar_mass)
    if found is None:
        raise UnitError(f"unit '{unit}' cannot be converted to {target}")
    return value * found


def warm(pairs: list[tuple[str, str, Decimal | None]]) -> dict[str, str | None]:
    """Compute the factors of ``pairs`` (for the shipped cache file)."""
    return {
        _key(s, t, m): (None if (f := compute_factor(s, t, m)) is None else str(f))
        for s, t, m in pairs
    }


def _main() -> None:  # pragma: no cover - maintenance entry point
    """Regenerate the shipped cache for every spelling of clinical-rules.md per test."""
    from .terminology import terminology

    spellings = ["g/dL", "g/L", "10*9/L", "10*3/uL", "10*3/mm3", "/uL", "/mm3", "mg/dL",
                 "umol/L", "mmol/L", "mg/L", "U/L", "[IU]/L", "ukat/L", "s", "%", "mg/(24.h)",
                 "g/(24.h)", "mg/d", "g/d", "kg", "[lb_av]", "g", "mL/min", "mL/s", "10*6/L"]
    pairs = [
        (s, info.canonical_unit, info.molar_mass)
        for info in terminology().tests.values() if info.canonical_unit
        for s in spellings if s != info.canonical_unit
    ]
    # hCG results and their reference ranges in the two spellings of clinical-rules.md §2
    pairs += [("m[IU]/mL", "[IU]/L", None), ("[IU]/L", "m[IU]/mL", None)]
    table = {k: v for k, v in warm(pairs).items() if v is not None}
    unit_cache_file().write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    print(f"wrote {len(table)} factors to {unit_cache_file()}")


if __name__ == "__main__":  # pragma: no cover
    _main()
