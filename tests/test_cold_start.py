"""Cold start: what a fresh process imports and reads before its first answer.

The compiled SHACL evaluator is the default engine, so neither ``criteria`` nor screening a
patient may import pySHACL (~0.1 s) or owlrl, and the shapes come from the on-disk cache
(keyed by the content of the shapes and ontology files) instead of being parsed. A cache that
is corrupt, unreadable or unwritable is rebuilt or skipped, never fatal.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ql1706kg.pipeline import validate
from ql1706kg.protocol import terminology as terminology_module
from ql1706kg.protocol.namespaces import dumps_interned, interned_graph

ROOT = Path(__file__).resolve().parents[1]
ONE = ROOT / "examples" / "patients" / "eligible-leiomyosarcoma.json"

# Runs a command of the CLI in-process and prints which heavy modules it imported.
PROBE = """
import json, sys
from ql1706kg.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = ("pyshacl", "owlrl", "tqdm")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def run(cache: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items()
               if key != "QL1706KG_SHACL_ENGINE"}
    environ.update(QL1706KG_CACHE=str(cache), **(env or {}))
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=environ, cwd=ROOT, check=False, timeout=300)


def imported(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def warm_cache(cache_folder) -> Path:
    """A cache folder filled by a run before this module's tests (the first run on a machine
    builds the tables); the tests only read it, or copy it before damaging it."""
    imported(run(cache_folder, "screen", str(ONE), "--as-of", "2026-11-20", "--quiet"))
    return cache_folder


def test_the_tables_are_cached_where_QL1706KG_CACHE_says(warm_cache):
    names = sorted(p.name.split("-")[0] for p in (warm_cache / "ql1706kg").glob("*.pickle"))
    assert names == ["shapes", "terminology", "texts"]


def test_criteria_imports_no_pyshacl(warm_cache):
    assert imported(run(warm_cache, "criteria")) == []
    assert imported(run(warm_cache, "criteria", "--format", "json")) == []


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_screening_a_patient_with_the_default_engine_imports_no_pyshacl(warm_cache, fmt):
    proc = run(warm_cache, "screen", str(ONE), "--as-of", "2026-11-20", "--format", fmt)
    assert imported(proc) == []
    assert "ELIGIBLE" in proc.stdout.upper()


def test_the_reference_engine_still_imports_pyshacl(warm_cache):
    proc = run(warm_cache, "screen", str(ONE), "--as-of", "2026-11-20", "--format", "json",
               env={"QL1706KG_SHACL_ENGINE": "pyshacl"})
    assert "pyshacl" in imported(proc)


def _outputs(cache: Path) -> str:
    proc = run(cache, "screen", str(ONE), "--as-of", "2026-11-20", "--format", "json")
    imported(proc)
    return "\n".join(line for line in proc.stdout.splitlines()[:-1]
                     if "software_version" not in line)


@pytest.fixture(scope="module")
def expected(warm_cache) -> str:
    """The output of one screening with the warm cache, which every damaged cache must give."""
    return _outputs(warm_cache)


JUNK = {"empty": b"", "not a pickle": b"not a pickle",
        "wrong version": pickle.dumps({"version": "wrong"}), "a list": pickle.dumps(["a", "list"]),
        "interned, no version": dumps_interned({"version": None}), "cut short": None}


@pytest.mark.parametrize("kind", sorted(JUNK))
def test_a_corrupt_cache_is_rebuilt(warm_cache, expected, tmp_path, kind):
    """Each kind of damage, on one of the three tables in turn (every table sees two kinds):
    the output is the same and the table is rebuilt and written back."""
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    files = sorted((cache / "ql1706kg").glob("*.pickle"))
    assert len(files) == 3  # shapes, terminology, rendered texts
    damaged = files[sorted(JUNK).index(kind) % len(files)]
    junk = JUNK[kind]
    damaged.write_bytes(damaged.read_bytes()[:100] if junk is None else junk)
    assert _outputs(cache) == expected
    table = pickle.loads(damaged.read_bytes())  # rebuilt and written back
    key = damaged.stem.split("-")[1]
    assert (table["version"] if isinstance(table, dict) else table.version) == key


def test_an_unreadable_and_unwritable_cache_costs_only_speed(warm_cache, expected, tmp_path):
    cache = tmp_path / "cache"
    for found in (warm_cache / "ql1706kg").glob("*.pickle"):
        (cache / "ql1706kg" / found.name).mkdir(parents=True)  # a folder where the file goes
    assert _outputs(cache) == expected
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert _outputs(blocked) == expected


def test_the_key_changes_with_any_shapes_or_ontology_file(monkeypatch, tmp_path):
    shapes = [tmp_path / f"s{i}.ttl" for i in range(2)]
    ontology = [tmp_path / f"o{i}.ttl" for i in range(2)]
    for path in (*shapes, *ontology):
        path.write_text(f"# {path.name}\n")
    monkeypatch.setattr(validate, "shape_files", lambda: tuple(shapes))
    monkeypatch.setattr(validate, "ontology_files", lambda: tuple(ontology))
    monkeypatch.setattr(terminology_module, "ontology_files", lambda: tuple(ontology))
    keys = {(validate._shapes_hash(), terminology_module.ontology_hash())}
    for path in (*shapes, *ontology):
        path.write_text(path.read_text() + " ")
        keys.add((validate._shapes_hash(), terminology_module.ontology_hash()))
    assert len({shapes_key for shapes_key, _ in keys}) == 5
    assert len({ontology_key for _, ontology_key in keys}) == 3  # shapes leave it alone


def test_cached_shapes_are_the_parsed_shapes():
    parsed = validate._index(interned_graph(validate.load_shapes_graph()))
    stored = dumps_interned({"version": "k", "triples": parsed.triples,
                             "prefixes": parsed.prefixes, "info": parsed.info,
                             "owner": parsed.owner})
    cached = validate._from_cache(pickle.loads(stored))
    assert set(cached.triples) == set(parsed.triples)
    assert cached.info == parsed.info and cached.owner == parsed.owner
    assert set(cached.graph) == set(parsed.graph)  # the same blank nodes: owners resolve
    assert sorted(cached.graph.namespaces()) == sorted(parsed.graph.namespaces())
    assert cached.fast is not None
    assert sorted(map(str, cached.fast.checks)) == sorted(map(str, parsed.fast.checks))
