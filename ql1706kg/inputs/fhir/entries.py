"""FHIR files into resources: Bundles, single resources and NDJSON lines as :class:`Entry`.

Reading a file is separate from understanding its resources: here each resource becomes an
:class:`Entry` that remembers where it came from (or an :class:`InputError` saying why it could
not be read), and the :class:`FhirReport` that accounts for every resource is defined, so the
modules that check, pool and read resources all build on this one and on nothing above it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError
from ..jsonio import json_loads

REQUEST_ONLY = "Bundle.entry"
# The lines of an NDJSON file looked at for another FHIR release: a bulk export file is of one
# release (a later line of another that slipped through fails its R4 model, and is set aside).
RELEASE_LINES = 50
MODIFIER_WORDS = (b"modifierExtension", b"implicitRules")


@dataclass
class ReportLine:
    """What happened to one resource."""

    source: str
    resource: str
    used: bool
    reason: str
    patient: str = ""  # whose resource it is, when that is known
    could_change: tuple[str, ...] = ()  # criteria an ignored resource could have changed

    def as_dict(self) -> dict:
        return {"source": self.source, "resource": self.resource,
                "status": "used" if self.used else "ignored", "reason": self.reason,
                "patient": self.patient, "could_change": " ".join(self.could_change)}


@dataclass
class FhirReport:
    """Every FHIR resource read, used or ignored with why (``ql1706kg lift --report``)."""

    lines: list[ReportLine] = field(default_factory=list)

    def add(self, entry: Entry, used: bool, reason: str, patient: str = "",
            could_change: tuple[str, ...] = ()) -> None:
        self.lines.append(ReportLine(entry.source, entry.key, used, reason, patient,
                                     could_change))

    def could_have_changed(self) -> dict[str, tuple[str, ...]]:
        """The patients an ignored resource could have changed, with the criteria."""
        out: dict[str, set[str]] = {}
        for line in self.lines:
            if line.could_change and line.patient:
                out.setdefault(line.patient, set()).update(line.could_change)
        return {patient: tuple(sorted(ids)) for patient, ids in out.items()}


@dataclass
class Entry:
    """One FHIR resource with where it came from.

    ``scope`` is where it can be referred to: a resource inside a Bundle only from its own
    bundle (two bundles that both hold a ``Patient/1`` hold two patients); a resource outside
    bundles (an NDJSON bulk export, single-resource files) from anything in its ``folder``.
    """

    source: str
    data: dict
    full_url: str | None = None
    contained: dict[str, dict] = field(default_factory=dict)
    scope: str = ""
    folder: str = ""
    span: tuple[int, int] | None = None  # (offset, length) of its NDJSON line, in bytes
    seq: int = 0  # its place in the run's index (:mod:`.index`), once indexed
    # (field, reason) when the resource is read only to be set aside: an entry modifier, two
    # versions that disagree, a file of another FHIR release (:mod:`.bundles`, :mod:`.versions`)
    aside: tuple[str, str] | None = None
    # what a Bundle made of it when it is not a fact to read (:class:`.bundles.Fate`): a
    # superseded or deleted version, a failed request, a bodiless request (with its target)
    fate: object = None
    clean: bool = False  # its JSON is known to spell no modifierExtension nor implicitRules

    @property
    def type(self) -> str:
        return str(self.data.get("resourceType"))

    @property
    def key(self) -> str:
        return f"{self.type}/{self.data.get('id', '?')}"


# -- reading files ------------------------------------------------------------------------------

def is_fhir(data: object) -> bool:
    """Tell whether parsed JSON is a FHIR resource (rather than a project record)."""
    return isinstance(data, dict) and "resourceType" in data


def folder_scope(source: str) -> str:
    """The scope of resources read outside a bundle: their folder (a bulk export's)."""
    head, _, tail = source.rpartition(":")
    return _folder_of(head if head and tail.isdigit() else source)


@functools.lru_cache(maxsize=256)
def _folder_of(path: str) -> str:
    return str(Path(path).resolve().parent)


@functools.lru_cache(maxsize=256)
def _resolved(path: str) -> str:
    return str(Path(path).resolve())


def entries_of(data: dict, source: str, scope: str | None = None,
               refused: tuple[str, str] | None = None) -> Iterator[Entry | InputError]:
    """Yield the resources of a Bundle (any type, resolved to the state it describes:
    :mod:`.bundles`) or a single resource. A file of a FHIR release the reader does not read
    (:mod:`.versions`) is one error, and its resources are yielded to be set aside."""
    folder = folder_scope(source)
    if refused is None:
        refused = _release_refusal(data, folder)
        if refused is not None:
            yield InputError(source, refused[1], field="FHIR version")
    clean = _clean(data)
    if data.get("resourceType") != "Bundle":
        yield Entry(source, data, scope=scope or folder, folder=folder, aside=refused,
                    clean=clean)
        return
    scope = scope or _resolved(source)  # a file's bundle: its own scope
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        yield InputError(source, "Bundle.entry must be an array", field="Bundle.entry")
        return
    from .bundles import plan

    for fate, item in zip(plan(data), entries, strict=True):
        index = fate.index
        full_url = item.get("fullUrl") if isinstance(item, dict) else None
        if full_url is not None and not isinstance(full_url, str):
            yield InputError(source, "a fullUrl must be a string (a URI)",
                             field=f"Bundle.entry[{index}].fullUrl")
            continue
        resource = item.get("resource") if isinstance(item, dict) else None
        if resource is None and isinstance(item, dict) and ({"request", "response"}
                                                            & item.keys()):
            # A transaction's DELETE, a batch's GET, a transaction-response's outcome: a
            # request or a response without a resource; nothing to read (valid R4).
            yield Entry(source, {"resourceType": REQUEST_ONLY, "id": str(index)}, scope=scope,
                        folder=folder, fate=fate)
            continue
        if not isinstance(resource, dict) or "resourceType" not in resource:
            yield InputError(source, "a Bundle entry has no resource with a resourceType",
                             field=f"Bundle.entry[{index}].resource")
            continue
        if resource.get("resourceType") == "Bundle":
            yield from entries_of(resource, source, scope, refused or _NOT_REFUSED)
            continue
        aside = refused if refused is not _NOT_REFUSED else None
        if fate.fate == "aside" and aside is None:
            aside = (f"Bundle.entry[{index}]", fate.reason)
        yield Entry(source, resource, full_url, scope=scope, folder=folder, aside=aside,
                    fate=fate if fate.fate not in ("read", "aside") else None, clean=clean)


_NOT_REFUSED = ("", "")  # a nested Bundle of a file already found to be R4


def _clean(data: dict) -> bool:
    """Whether a file's JSON spells no modifierExtension nor implicitRules anywhere (told once
    for a whole Bundle: its resources then need no look for them)."""
    from .semantics import _mentions_modifier

    return not _mentions_modifier(data)


def _release_refusal(data: dict, folder: str) -> tuple[str, str] | None:
    """('FHIR version', the error) when the file is of a release the reader does not read."""
    from .versions import of_resources, refusal

    resources = [data]
    if data.get("resourceType") == "Bundle" and isinstance(data.get("entry"), list):
        resources = [item["resource"] for item in data["entry"] if isinstance(item, dict)
                     and isinstance(item.get("resource"), dict)]
    found = of_resources(resources, folder)
    return ("FHIR version", refusal(*found)) if found is not None else None


def ndjson_entries(path: Path) -> Iterator[Entry | InputError]:
    """Yield the resources of an NDJSON bulk-export file, one per line; a resource alone on
    its line knows where the line is (``span``), to be read again from the file."""
    folder = str(path.resolve().parent)  # one bulk export: its files join
    told = None  # a file of another FHIR release is one error, however many lines it has
    for number, offset, raw in _numbered_lines(path):
        source = f"{path}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield InputError(source, "this line is not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            data = json_loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(source, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        if not is_fhir(data):
            yield InputError(source, "not a FHIR resource (no resourceType)")
            continue
        if data.get("resourceType") == "Bundle":
            yield from entries_of(data, source, folder)
            continue
        refused = told or (_release_refusal(data, folder) if number <= RELEASE_LINES
                           else None)
        if refused is not None and not told:  # the file's one error; every line set aside
            told = refused
            yield InputError(str(path), refused[1], field="FHIR version")
        yield Entry(source, data, scope=folder, folder=folder, span=(offset, len(raw)),
                    aside=refused, clean=MODIFIER_WORDS[0] not in raw
                    and MODIFIER_WORDS[1] not in raw)


def _numbered_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """The lines of a file as bytes, numbered from 1, with the offset of each (a byte-order
    mark before the first line is left out), as :func:`~..jsonio.text_lines` reads them."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, start = raw[3:], start + 3
            yield number, start, raw


def read_span(path: str, span: tuple[int, int]) -> dict:
    """A resource read again from its NDJSON line."""
    offset, length = span
    with open(path, "rb") as handle:
        handle.seek(offset)
        return json_loads(handle.read(length).decode("utf-8"))
