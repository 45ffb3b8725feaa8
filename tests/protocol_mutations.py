"""Mutations of a protocol folder as an attacker or a careless author would make them: the
property test (tests/test_protocol_safety.py) and the long campaign (bench/protocol_fuzz.py)
draw from them. Each is an edit of one file's Turtle text; ``apply`` picks one with ``rng``.

The kinds: counts (``sh:minCount`` made 0 or 2, ``sh:maxCount`` added), deactivation
(``sh:deactivated true`` added to a shape), targets (a class or node nobody has), severities
(``sh:Info``, ``sh:Warning``, ``sh:Violation`` swapped), outcomes (``ql:onViolation``
changed, ``ql:Met`` included), ids (a criterion's ``ql:criterionId`` renamed, its IRI renamed
everywhere, a shape's ``ql:criterion`` pointed at another criterion), policies (another
policy, an unknown one), logical wrappers (a constraint put inside ``sh:or`` with an escape
hatch, inside ``sh:not``, or a ``sh:xone``), paths (``sh:path`` moved to another property),
and numbers (a limit moved anywhere).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

Mutation = Callable[[str, random.Random], str | None]
_SHAPE = re.compile(r"^(qls:[\w.-]+) a sh:(?:Property|Node)Shape ;", re.MULTILINE)
_LIMIT = re.compile(r"sh:path (\( [^)]* \)|ql:\w+) ; sh:(min|max)(Inclusive|Exclusive) "
                    r"([0-9.]+) ;")
_RECORDED = re.compile(r"sh:path (\( [^)]* \)|ql:\w+) ; sh:minCount 1 ;")


def _one(text: str, pattern: re.Pattern, rng: random.Random) -> re.Match | None:
    found = list(pattern.finditer(text))
    return rng.choice(found) if found else None


def _splice(text: str, match: re.Match, new: str) -> str:
    return text[:match.start()] + new + text[match.end():]


def counts(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"sh:minCount 1\b"), rng)
    if match is None:
        return None
    return _splice(text, match, rng.choice(["sh:minCount 0", "sh:minCount 2",
                                            "sh:minCount 1 ; sh:maxCount 0"]))


def deactivation(text: str, rng: random.Random) -> str | None:
    match = _one(text, _SHAPE, rng)
    return None if match is None else _splice(text, match, match.group(0)
                                               + " sh:deactivated true ;")


def targets(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"sh:targetClass ql:Patient"), rng)
    if match is None:
        return None
    return _splice(text, match, rng.choice(["sh:targetClass ql:Condition",
                                            "sh:targetNode ql:Condition",
                                            "sh:targetSubjectsOf ql:noSuchProperty"]))


def severities(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"sh:severity sh:\w+"), rng)
    if match is None:
        return None
    return _splice(text, match, "sh:severity " + rng.choice(["sh:Info", "sh:Warning",
                                                             "sh:Violation", "ql:Ignored"]))


def outcomes(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"ql:onViolation ql:\w+"), rng)
    if match is None:
        return None
    return _splice(text, match, "ql:onViolation " + rng.choice(
        ["ql:Unknown", "ql:NotMet", "ql:NotApplicable", "ql:Met"]))


def ids(text: str, rng: random.Random) -> str | None:
    choice = rng.randrange(3)
    if choice == 0:
        match = _one(text, re.compile(r'ql:criterionId "([^"]+)"'), rng)
        return None if match is None else _splice(
            text, match, f'ql:criterionId "{match.group(1)}{rng.choice(["X", "-2", ""])}"')
    if choice == 1:
        match = _one(text, re.compile(r"ql:criterion (ql:IC[\w.-]+)"), rng)
        others = sorted(set(re.findall(r"ql:criterion (ql:IC[\w.-]+)", text)))
        return None if match is None else _splice(text, match,
                                                  f"ql:criterion {rng.choice(others)}")
    return "RENAME"  # the IRI of a criterion renamed in every file (done by apply)


def policies(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"ql:policy ql:\w+"), rng)
    if match is None:
        return None
    return _splice(text, match, "ql:policy " + rng.choice(
        ["ql:MostRecentInWindow", "ql:AgeOnAssessmentDate", "ql:OldestInWindow",
         "ql:NearestScreeningLabOnOrAfter"]))


def logic(text: str, rng: random.Random) -> str | None:
    choice = rng.randrange(4)
    match = _one(text, _LIMIT if choice < 2 else _RECORDED, rng)
    if match is None:
        return None
    path, constraint = match.group(1), match.group(0)[len(f"sh:path {match.group(1)} ; "):]
    inner = f"[ sh:path {path} ; {constraint.rstrip(' ;')} ]"
    hatch = rng.choice([f"[ sh:path {path} ; sh:maxInclusive 0.7 ]",
                        f"[ sh:path {path} ; sh:hasValue 0.7 ]",
                        f"[ sh:path {path} ; sh:maxCount 0 ]", "[ sh:path ql:sex ; "
                                                                "sh:minCount 1 ]"])
    if choice in (0, 2):
        return _splice(text, match, f"sh:or ( {inner} {hatch} ) ;")
    if choice == 1:
        return _splice(text, match, f"sh:xone ( {inner} {hatch} ) ;")
    return _splice(text, match, f"sh:not [ sh:not {inner} ] ; sh:qualifiedValueShape "
                                f"[ sh:datatype ql:none ] ; sh:qualifiedMaxCount 9 ; "
                                f"sh:path {path} ;")


def paths(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"sh:path \( ql:(\w+) ql:(\w+) \)"), rng)
    if match is None:
        return None
    other = rng.choice(["screeningPlatelets", "screeningANC", "age", "screeningLVEF"])
    return _splice(text, match, f"sh:path ( ql:{other} ql:{match.group(2)} )")


def numbers(text: str, rng: random.Random) -> str | None:
    match = _one(text, re.compile(r"sh:(min|max)(Inclusive|Exclusive) ([0-9.]+)"), rng)
    if match is None:
        return None
    new = rng.choice(["-1", "0", "0.7", "1", "2.5", "18", "90", "1000", "1e9"])
    return _splice(text, match, f"sh:{match.group(1)}{match.group(2)} {new}")


KINDS: dict[str, Mutation] = {"counts": counts, "deactivation": deactivation,
                              "targets": targets, "severities": severities,
                              "outcomes": outcomes, "ids": ids, "policies": policies,
                              "logic": logic, "paths": paths, "numbers": numbers}
ONTOLOGY_KINDS = ("ids", "policies")


def apply(folder: Path, rng: random.Random, kind: str | None = None) -> str:
    """Mutate one file of the protocol folder; return what was done (kind and file)."""
    kind = kind or rng.choice(sorted(KINDS))
    ontology = folder / "ontology" / "ql1706kg.ttl"
    shapes = sorted((folder / "shapes").glob("*.ttl"))
    for _attempt in range(20):
        target = ontology if kind == "policies" or (kind == "ids" and rng.random() < 0.5) \
            else rng.choice(shapes)
        text = target.read_text(encoding="utf-8")
        new = KINDS[kind](text, rng)
        if new == "RENAME":
            criterion = rng.choice(sorted(set(re.findall(r"ql:criterion (ql:IC[\w.-]+)",
                                                         shapes[7].read_text()))))
            for file in [ontology, *shapes]:
                body = file.read_text(encoding="utf-8")
                file.write_text(re.sub(re.escape(criterion) + r"(?=[\s;,.])",
                                       criterion + "Renamed", body), encoding="utf-8")
            return f"{kind}: {criterion} renamed"
        if new is not None and new != text:
            target.write_text(new, encoding="utf-8")
            return f"{kind}: {target.relative_to(folder)}"
    return f"{kind}: nothing to change"
