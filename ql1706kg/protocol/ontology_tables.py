"""Small tables read from the ontology's Turtle files, cached on disk like the terminology.

The FHIR reading rules and the disease codings are read from a few Turtle files of the
ontology as written (not from the closure the terminology holds). Parsing them costs rdflib
~0.2 s, paid by every run before its first patient (the reading process of ``--omop`` pushes
their codes down into its statements). Each table is kept beside the terminology's, in the
same folder (:func:`~.resources.cache_dir`), named by the same key (the ontology's content,
this release, the terminology's own code: :func:`~.terminology.ontology_hash`) and by the
source of the module that builds it (a new table layout is a new name). As with every cache
of the project, a missing, unreadable, corrupt or stale file is rebuilt and one that cannot be
written only costs speed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .namespaces import dumps_interned
from .resources import cache_dir, complete_instance, content_hash, read_cache, write_cache
from .terminology import ontology_hash

T = TypeVar("T")


def cached_table(name: str, build: Callable[[], T], kind: type[T]) -> T:
    """The table ``build()`` makes from the current protocol's ontology, from the on-disk
    cache when it was made from the same files by the same code (``build``'s module); stored
    as ``{"version": key, "table": ...}`` with its IRIs the shared objects."""
    source = Path(sys.modules[build.__module__].__file__ or "")
    key = content_hash((), ontology_hash().encode(), name.encode(), source.read_bytes())
    path = cache_dir() / f"{name}-{key}.pickle"

    def valid(value: object) -> bool:
        return (isinstance(value, dict) and value.get("version") == key
                and complete_instance(value.get("table"), kind))

    cached = read_cache(path, valid)
    if cached is not None:
        return cached["table"]
    built = build()
    write_cache(path, dumps_interned({"version": key, "table": built}))
    return built

