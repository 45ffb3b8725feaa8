"""Mutators and the run check shared by the fuzz tests (tests/test_fuzz.py, a few hundred seeded
examples in CI) and the long campaign (bench/fuzz.py --n 100000).

Every mutator takes a ``random.Random`` so that a campaign is reproducible from its seed. The
mutations are structured (a record, a CSV row, a FHIR resource is changed at one place into
something hostile) or raw (bytes flipped, cut, inserted), because the readers must hold under
both: well-formed JSON that says impossible things, and text that is not JSON at all.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE_RECORD = json.loads((ROOT / "tests" / "data" / "base-eligible.json").read_text())
# The project's FHIR twins and the public HL7 example bundles (mCODE, IPS, R4).
FHIR_BUNDLES = sorted((ROOT / "examples" / "fhir").glob("*.json")) + sorted(
    (ROOT / "tests" / "data" / "fhir-packages").glob("*/Bundle-*.json"))
CSV_TEMPLATE = (ROOT / "examples" / "cohort-template.csv").read_text(encoding="utf-8")

def deep(levels: int) -> Any:
    """A value nested ``levels`` lists deep."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


HOSTILE: list[Any] = [
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 10**30, -(10**400), 0, -1, -50,
    True, False, None, "", " ", "\x00", "line\nbreak", "\u2028", "\ud800", "\U0001f4a9" * 3,
    "x" * 5000, "9" * 5000, "NaN", "Infinity", "-0", "1e400", "0001-01-01", "9999-12-31",
    "2026-02-30", "1899-12-31", "2030-01-01", "<script>alert(1)</script>", "=cmd|' /C calc'!A0",
    "../../../etc/passwd", "%s%s%s", "{}", "[]", [], {}, deep(20),
    {"system": "LOINC", "code": "1920-8"}, {"system": "", "code": ""}, ["a", 1, None],
    "\u202eRTL", "Ω" * 200, 3.4028235e38, 5e-324, "2026-11-10T25:61:61Z",
]


DEEPER = "\u2063DEEP\u2063"  # stands for a nesting too deep for json.dumps; see dumps()


def hostile(rng: random.Random) -> Any:
    """One hostile value (sometimes very deeply nested)."""
    if rng.random() < 0.05:
        return rng.choice([deep(20), deep(200), DEEPER])
    return copy.deepcopy(rng.choice(HOSTILE))


def dumps(value: Any) -> str:
    """JSON text of a fuzzed value; the DEEPER marker becomes 50,000 nested lists."""
    return json.dumps(value).replace(json.dumps(DEEPER), "[" * 50_000 + "1" + "]" * 50_000)


def _paths(value: Any) -> list[tuple]:
    """Every place in a JSON value (to 30 levels), as a path of keys and indexes."""
    out, stack = [], [((), value)]
    while stack:
        prefix, item = stack.pop()
        out.append(prefix)
        if len(prefix) >= 30:
            continue
        if isinstance(item, dict):
            stack.extend(((*prefix, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*prefix, index), child) for index, child in enumerate(item))
    return sorted(out, key=repr)


def mutate_json(rng: random.Random, value: Any, times: int = 1) -> Any:
    """``value`` changed at ``times`` random places: replaced by a hostile value, removed, or
    given an unknown key or an extra item."""
    value = copy.deepcopy(value)
    for _ in range(times):
        path = rng.choice(_paths(value)[1:] or [()])
        if not path:
            return hostile(rng)
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        operation = rng.random()
        if operation < 0.7:
            parent[last] = hostile(rng)
        elif operation < 0.85:
            del parent[last]
        elif isinstance(parent, dict):
            parent[rng.choice(["extra", "Id", "id ", "\x00", "x" * 300])] = hostile(rng)
        else:
            parent.append(hostile(rng))
    return value


def mutated_record(rng: random.Random, patient_id: str) -> Any:
    """The base record under ``patient_id``, mutated at one to three places."""
    record = copy.deepcopy(BASE_RECORD)
    record["id"] = patient_id
    return mutate_json(rng, record, rng.randint(1, 3))


def good_record(patient_id: str) -> dict:
    record = copy.deepcopy(BASE_RECORD)
    record["id"] = patient_id
    return record


def corrupt_bytes(rng: random.Random, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, cut out, duplicated or inserted."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not out:
            out.extend(rng.randbytes(8))
            continue
        at = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.4:
            out[at] = rng.randrange(256)
        elif choice < 0.6:
            del out[at:at + rng.randint(1, 64)]
        elif choice < 0.8:
            out[at:at] = rng.choice([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b'"', b"[", b"{",
                                     b"\\u", b"\n", b"1e999", rng.randbytes(4)])
        else:
            out[at:at] = out[at:at + rng.randint(1, 200)]
    return bytes(out)


def mutated_csv(rng: random.Random) -> str:
    """The cohort template with a few cells made hostile (the table reader's text)."""
    lines = CSV_TEMPLATE.splitlines()
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(1, len(lines))
        cells = lines[at].split(",")
        cell = rng.randrange(len(cells))
        value = hostile(rng)
        text = value if isinstance(value, str) else json.dumps(value)
        if rng.random() < 0.1:
            text = "y" * rng.choice([140_000, 300_000])
        cells[cell] = rng.choice([text, f'"{text}"', text.replace(",", ";")])
        lines[at] = ",".join(cells)
    return "\n".join(lines) + "\n"


def mutated_bundle(rng: random.Random) -> dict:
    """One of the examples' FHIR bundles, mutated at one to three places."""
    bundle = json.loads(rng.choice(FHIR_BUNDLES).read_text())
    return mutate_json(rng, bundle, rng.randint(1, 3))


def check_document(document: dict, good_ids: set[str], records: int | None) -> None:
    """What every screening of fuzzed input must give: the good patients all screened, every
    record accounted for, and no failure of our own (an internal error) in any error entry."""
    ids = {p["id"] for p in document["patients"]}
    assert good_ids <= ids, f"good patients lost: {sorted(good_ids - ids)}"
    if records is not None:
        assert len(document["patients"]) + len(document["errors"]) == records
    internal = [e for e in document["errors"] if "internal error" in e["message"]]
    assert not internal, internal[:2]
