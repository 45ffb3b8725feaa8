"""Where the bundled ontology, shapes and queries are, and where tables derived from them are
cached.

An installed wheel carries ``ontology/`` and ``shapes/`` as package data under
``ql1706kg/data/``; an editable install or a source checkout has them at the top of the
repository. Package data is tried first, then the source tree, so both work (see
shared/design/pitfalls.md, "Packaging top-level data").

Tables derived from the protocol (the terminology from the ontology's OWL-RL closure, the
indexed shapes) are cached in ``$QL1706KG_CACHE/ql1706kg`` (else ``$XDG_CACHE_HOME/ql1706kg``,
else ``~/.cache/ql1706kg``), each file named by the hash of everything it was made from, so an
edited ``.ttl`` file (or a new release) is a new name and the old file is simply not read. A
cache file that cannot be read, or is corrupt, is rebuilt; one that cannot be written only
costs speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..leftovers import remove_stale_temps, temp_name

_PACKAGE = "ql1706kg"
PROTOCOL_PARTS = ("ontology", "shapes", "queries")

_current: Path | None = None  # the protocol folder in use; None: the bundled protocol
_clearers: list[Callable[[], None]] = []


def on_protocol_change(clear: Callable[[], None]) -> Callable[[], None]:
    """Register ``clear``, called whenever the current protocol changes (it must forget
    whatever its module derived from the protocol); returns it, so it can decorate."""
    _clearers.append(clear)
    return clear


def protocol_cache(function):
    """``functools.cache`` for a function whose result is derived from the protocol: the
    cache is cleared when the current protocol changes."""
    cached = cache(function)
    on_protocol_change(cached.cache_clear)
    return cached


def use_protocol(folder: Path | str | None) -> None:
    """Make ``folder`` the current protocol of this process (None: the bundled one) and
    forget every table derived from the previous one (nothing is done if it is the same)."""
    global _current
    chosen = None if folder is None else Path(folder).resolve()
    if chosen == _current:
        return
    _current = chosen
    for clear in _clearers:
        clear()


@contextmanager
def protocol(folder: Path | str | None):
    """Use ``folder`` as the current protocol for the duration of a ``with`` block."""
    before = _current
    use_protocol(folder)
    try:
        yield
    finally:
        use_protocol(before)


def protocol_root() -> Path | None:
    """The folder of the current protocol; None when it is the bundled one."""
    return _current


def _data_dir(name: str) -> Path:
    """Return the directory of the current protocol's ``name`` (ontology, shapes)."""
    if _current is not None:
        return _current / name
    return bundled_data_dir(name)


def bundled_data_dir(name: str) -> Path:
    """Return the directory of the bundled protocol's ``name`` (ontology, shapes)."""
    packaged = resources.files(_PACKAGE) / "data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[2] / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"bundled data folder '{name}' is missing from the installation")


@protocol_cache
def ontology_files() -> tuple[Path, ...]:
    """Return the ontology's Turtle files, schema first."""
    folder = _data_dir("ontology")
    return tuple(sorted(folder.glob("*.ttl"), key=lambda p: (p.name != "ql1706kg.ttl", p.name)))


@protocol_cache
def shape_files() -> tuple[Path, ...]:
    """Return the SHACL shapes files, sorted by name."""
    return tuple(sorted(_data_dir("shapes").glob("*.ttl")))


def query_dir() -> Path:
    """Return the folder of the current protocol's named SPARQL queries (``*.rq``)."""
    if _current is not None:
        return _current / "queries"
    return Path(str(resources.files(_PACKAGE) / "queries"))


def query_files() -> tuple[Path, ...]:
    """The named SPARQL queries of the current protocol, sorted by name."""
    return tuple(sorted(query_dir().glob("*.rq")))


def protocol_files() -> dict[str, tuple[Path, ...]]:
    """Every file of the current protocol, by part (ontology, shapes, queries)."""
    return {"ontology": ontology_files(), "shapes": shape_files(), "queries": query_files()}


@protocol_cache
def protocol_hash() -> str:
    """The content hash of the current protocol: every file of its three parts, by name and
    content (the same for the bundled protocol and a folder exported from it)."""
    digest = hashlib.sha256()
    for part, files in protocol_files().items():
        for path in files:
            data = path.read_bytes()
            for chunk in (f"{part}/{path.name}".encode(), data):
                digest.update(len(chunk).to_bytes(8, "big"))
                digest.update(chunk)
    return digest.hexdigest()[:16]


def unit_cache_file() -> Path:
    """Return the shipped, pre-warmed table of UCUM conversion factors."""
    return Path(str(resources.files(_PACKAGE) / "unit_factors.json"))


def cache_dir() -> Path:
    """The folder of the on-disk caches (see the module's docstring)."""
    base = os.environ.get("QL1706KG_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "ql1706kg" if base else Path.home() / ".cache" / "ql1706kg"


def content_hash(files: Iterable[Path], *extra: bytes) -> str:
    """A short hash of some bytes and of the names and contents of some files (and of the
    rdflib version, whose terms the caches hold)."""
    from rdflib import __version__ as rdflib_version

    digest = hashlib.sha256(rdflib_version.encode())
    for part in extra:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    for path in files:
        digest.update(path.name.encode())
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]


def read_cache(path: Path, valid: Callable[[Any], bool]) -> Any:
    """The object pickled in ``path``, or None when it is missing, unreadable, corrupt or not
    ``valid`` (whatever unpickling raises: a damaged file must never stop a run)."""
    try:
        value = pickle.loads(path.read_bytes())
    except Exception:
        return None
    return value if valid(value) else None


def complete_instance(value: object, kind: type) -> bool:
    """Whether a cached object is of this process's class with every one of its dataclass
    fields (one pickled by a process that had imported an older class under the same cache key
    lacks the new ones)."""
    if not isinstance(value, kind):
        return False
    fields = getattr(kind, "__dataclass_fields__", None)
    return fields is None or all(hasattr(value, name) for name in fields)


def write_cache(path: Path, data: bytes) -> None:
    """Put ``data`` in ``path`` atomically (a temporary file renamed over it, so a reader never
    sees half a file); a failure (read-only home, disk full) is ignored."""
    tmp = path.with_name(temp_name(path.name))  # marked: a killed run's is swept next time
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent, path.name)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
