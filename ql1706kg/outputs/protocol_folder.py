"""The current protocol written as a folder of editable files (``ql1706kg protocol export``):
``ontology/*.ttl``, ``shapes/*.ttl``, ``queries/*.rq``, byte for byte as the package holds
them, and ``MANIFEST.json`` naming the protocol's version and content hash.

The files are written by :class:`~ql1706kg.outputs.folder.OutputFolder` (one lock, each file
written beside its place and all renamed in only when every one is complete); protocol files
of an earlier export that this one does not hold are removed afterwards, so the folder is
exactly the protocol exported.
"""

from __future__ import annotations

import contextlib
import json

from ..protocol.resources import PROTOCOL_PARTS, protocol_files, protocol_hash
from ..protocol.terminology import terminology
from ..version import __version__
from .folder import OutputFolder

MANIFEST = "MANIFEST.json"
_SUFFIX = {"ontology": ".ttl", "shapes": ".ttl", "queries": ".rq"}


def export_protocol(folder) -> dict:
    """Write the current protocol to ``folder``; return the manifest written."""
    files = protocol_files()
    manifest = {"protocol_version": terminology().protocol_version,
                "content_hash": protocol_hash(), "software_version": __version__,
                "files": {part: [path.name for path in found] for part, found in files.items()},
                "use": "ql1706kg screen PATH... --protocol THIS_FOLDER"}
    with OutputFolder(folder) as out:
        for part, found in files.items():
            for path in found:
                out.write_bytes(f"{part}/{path.name}", path.read_bytes())
        out.write_text(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for part in PROTOCOL_PARTS:
        kept = set(manifest["files"][part])
        for stale in (folder / part).glob(f"*{_SUFFIX[part]}"):
            if stale.name not in kept:
                with contextlib.suppress(OSError):
                    stale.unlink()
    return {"version": manifest["protocol_version"], "content_hash": manifest["content_hash"],
            "files": sum(len(found) for found in files.values()) + 1}
