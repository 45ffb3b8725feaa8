"""Where the bundled ontology, shapes and queries are.

An installed wheel carries ``ontology/`` and ``shapes/`` as package data under
``ql1706kg/data/``; an editable install or a source checkout has them at the top of the
repository. Package data is tried first, then the source tree, so both work (see
shared/design/pitfalls.md, "Packaging top-level data").
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

_PACKAGE = "ql1706kg"


def _data_dir(name: str) -> Path:
    """Return the directory of bundled data ``name`` (ontology, shapes)."""
    packaged = resources.files(_PACKAGE) / "data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[2] / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"bundled data folder '{name}' is missing from the installation")


@cache
def ontology_files() -> tuple[Path, ...]:
    """Return the ontology's Turtle files, schema first."""
    folder = _data_dir("ontology")
    return tuple(sorted(folder.glob("*.ttl"), key=lambda p: (p.name != "ql1706kg.ttl", p.name)))


@cache
def shape_files() -> tuple[Path, ...]:
    """Return the SHACL shapes files, sorted by name."""
    return tuple(sorted(_data_dir("shapes").glob("*.ttl")))


def query_dir() -> Path:
    """Return the folder of the named SPARQL queries (``*.rq``)."""
    return Path(str(resources.files(_PACKAGE) / "queries"))


def unit_cache_file() -> Path:
    """Return the shipped, pre-warmed table of UCUM conversion factors."""
    return Path(str(resources.files(_PACKAGE) / "unit_factors.json"))
