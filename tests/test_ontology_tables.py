"""The small tables read from the ontology's Turtle files (FHIR reading rules, disease codes)
are cached on disk like the terminology: the cached table is the parsed one, a change to the
ontology or to the code that builds a table is a new key, and a corrupt, stale or unwritable
cache only costs speed."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import pytest

from ql1706kg.inputs.fhir.disease_observations import (
    DiseaseCodes,
    _read_disease_codes,
    disease_codes,
)
from ql1706kg.inputs.fhir.values import ReadingRules, _read_rules, reading_rules
from ql1706kg.protocol import ontology_tables
from ql1706kg.protocol.namespaces import dumps_interned
from ql1706kg.protocol.ontology_tables import cached_table
from ql1706kg.protocol.terminology import terminology


@dataclass
class Table:
    rows: dict[str, int] = field(default_factory=dict)


class Builder:
    """Builds a small table and counts how often it had to."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Table:
        self.calls += 1
        return Table({"built": self.calls})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    terminology()  # loaded from the usual cache (an empty one would compute the closure)
    monkeypatch.setenv("QL1706KG_CACHE", str(tmp_path))
    return tmp_path / "ql1706kg"


@pytest.mark.parametrize(("name", "build", "kind", "public"), [
    ("reading_rules", _read_rules, ReadingRules, reading_rules),
    ("disease_codes", _read_disease_codes, DiseaseCodes, disease_codes)])
def test_a_cached_table_is_the_parsed_one(cache, name, build, kind, public):
    parsed = build()
    assert public() == parsed  # the process's own table
    assert cached_table(name, build, kind) == parsed  # written
    assert len(list(cache.glob(f"{name}-*.pickle"))) == 1

    def again() -> None:
        pytest.fail("parsed again")

    again.__module__ = build.__module__  # the same code: the same key
    assert cached_table(name, again, kind) == parsed


def test_a_table_is_built_once_then_read(cache):
    build = Builder()
    assert cached_table("probe", build, Table) == Table({"built": 1})
    assert cached_table("probe", build, Table) == Table({"built": 1})
    assert build.calls == 1


def test_the_key_changes_with_the_ontology(cache, monkeypatch):
    build = Builder()
    cached_table("probe", build, Table)
    monkeypatch.setattr(ontology_tables, "ontology_hash", lambda: "another ontology")
    assert cached_table("probe", build, Table) == Table({"built": 2})
    assert len(list(cache.glob("probe-*.pickle"))) == 2


# each damage, as a function of the file's key and its bytes
JUNK = {"empty": lambda key, data: b"", "not a pickle": lambda key, data: b"not a pickle",
        "cut short": lambda key, data: data[:40],
        "a list": lambda key, data: pickle.dumps(["a", "list"]),
        "another key": lambda key, data: dumps_interned({"version": "other",
                                                          "table": Table({"built": 0})}),
        "another class": lambda key, data: dumps_interned({"version": key,
                                                            "table": {"built": 0}})}


@pytest.mark.parametrize("kind", sorted(JUNK))
def test_a_corrupt_table_is_rebuilt_and_written_back(cache, kind):
    build = Builder()
    cached_table("probe", build, Table)
    (path,) = cache.glob("probe-*.pickle")
    path.write_bytes(JUNK[kind](path.stem.split("-")[1], path.read_bytes()))
    assert cached_table("probe", build, Table) == Table({"built": 2})
    assert pickle.loads(path.read_bytes())["table"] == Table({"built": 2})


def test_an_unwritable_cache_costs_only_speed(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("QL1706KG_CACHE", str(blocked))
    build = Builder()
    assert cached_table("probe", build, Table) == Table({"built": 1})
    assert cached_table("probe", build, Table) == Table({"built": 2})
