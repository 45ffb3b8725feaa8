"""A Bundle resolved to the state it describes, as FHIR defines each Bundle type.

A history Bundle lists versions (the newest first), a transaction or batch lists operations
(processed DELETE, then POST, then PUT and PATCH, whatever their order in the Bundle), a
transaction-response says which succeeded. Reading every entry as a resource of its own is how
a later ``entered-in-error`` version or a DELETE came to leave the earlier version in force:
here each entry is given a fate before anything is read (:func:`plan`):

* ``read``: the resource is (the current version of) a fact;
* ``superseded``: a later version of the same resource replaces it (by ``meta.versionId``,
  ``meta.lastUpdated``, else the history's order); reported, never read;
* ``deleted``: a DELETE (or a 410 Gone response) removes the resource: reported, never read;
* ``failed``: a response that is not 2xx: nothing happened;
* ``aside``: the entry has a modifier the reader does not understand, or two versions of one
  resource disagree with nothing to tell which is current: read only to be set aside;
* ``request``: an entry without a resource (a GET, a DELETE of a resource not in this Bundle,
  a PATCH): reported; a DELETE or PATCH of a resource elsewhere in the input is kept in
  ``target`` so the index can apply it there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .timing import when

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 3, "GET": 4, "HEAD": 4}
_NO_ORDER = ("collection", "document", "searchset", "message", "batch-response",
             "transaction-response")


@dataclass
class Fate:
    """What becomes of one entry of a Bundle."""

    index: int
    fate: str  # read, superseded, deleted, failed, aside, request
    reason: str = ""
    target: str | None = None  # 'Type/id' a bodiless DELETE or PATCH acts on
    effect: str | None = None  # 'delete' or 'patch' for such an entry


def identity_of(item: dict) -> str | None:
    """'Type/id' of the resource an entry is about: its resource, else its request's url,
    else its fullUrl (a version in the url, Patient/1/_history/2, is the same resource)."""
    resource = item.get("resource")
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) \
            and isinstance(resource.get("id"), str):
        return f"{resource['resourceType']}/{resource['id']}"
    for where in (_dict(item.get("request")).get("url"), item.get("fullUrl"),
                  _dict(item.get("response")).get("location")):
        if isinstance(where, str) and "?" not in where:
            parts = where.split("/_history/")[0].rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2][:1].isupper():
                return f"{parts[-2]}/{parts[-1]}"
    return None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _version(item: dict) -> tuple[int | None, dt.datetime | None]:
    """An entry's version: meta.versionId as a number (or the etag W/"3", or the url's
    _history/3) and meta.lastUpdated (or response.lastModified) as an instant."""
    meta = _dict(_dict(item.get("resource")).get("meta"))
    response = _dict(item.get("response"))
    raw = meta.get("versionId") or response.get("etag") or ""
    url = str(_dict(item.get("request")).get("url") or item.get("fullUrl") or "")
    if not raw and "/_history/" in url:
        raw = url.split("/_history/")[1]
    digits = str(raw).replace('W/"', "").strip('"')
    number = int(digits) if digits.isdigit() else None
    updated = meta.get("lastUpdated") or response.get("lastModified")
    instant = None
    if isinstance(updated, str) and when(updated) is not None:
        try:
            instant = dt.datetime.fromisoformat(updated.replace("Z", "+00:00"))
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=dt.UTC)
        except ValueError:
            instant = None
    return number, instant


def _status(item: dict) -> int | None:
    text = str(_dict(item.get("response")).get("status") or "").strip()
    return int(text[:3]) if text[:3].isdigit() else None


def _entry_modifier(item: dict) -> str | None:
    for part in (item, _dict(item.get("request")), _dict(item.get("response"))):
        if part.get("modifierExtension"):
            urls = sorted({str(e.get("url")) for e in part["modifierExtension"]
                           if isinstance(e, dict)})
            return f"modifier extension {', '.join(urls)} on the Bundle entry not understood"
    return None


def plan(bundle: dict) -> list[Fate]:
    """The fate of every entry of a Bundle (entries that are not objects are left to the
    reader's own errors: their fate is 'read')."""
    kind = str(bundle.get("type") or "")
    items = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    fates = [Fate(i, "read") for i in range(len(items))]
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        status = _status(item)
        method = str(_dict(item.get("request")).get("method") or "").upper()
        if kind.endswith("-response") and status is not None and not 200 <= status < 300:
            fates[i] = Fate(i, "deleted" if status == 410 else "failed",
                            f"the response was {status}: " + (
                                "the resource is gone" if status == 410 else "nothing happened"))
            continue
        if item.get("resource") is None:
            fates[i] = _bodiless(i, item, method)
        key = identity_of(item)
        if key is not None and fates[i].fate in ("read", "request"):
            groups.setdefault(key, []).append(i)
        if fates[i].fate == "read" and (why := _entry_modifier(item)):
            fates[i] = Fate(i, "aside", why)
        if bundle.get("implicitRules") and fates[i].fate == "read":
            fates[i] = Fate(i, "aside", f"the Bundle has implicit rules "
                                        f"({bundle['implicitRules']}) the reader does not know")
    for key, members in groups.items():
        if len(members) > 1:
            _resolve(kind, key, [(i, items[i]) for i in members], fates)
    return fates


def _bodiless(i: int, item: dict, method: str) -> Fate:
    """An entry without a resource: a request, or a history's DELETE."""
    url = str(_dict(item.get("request")).get("url") or "")
    target = identity_of(item)
    if method == "DELETE":
        if "?" in url or target is None:
            return Fate(i, "request", f"a conditional DELETE ({url}): which resources it "
                                      "removes cannot be told here")
        return Fate(i, "request", f"a DELETE of {target}", target, "delete")
    if method == "PATCH" and target is not None:
        return Fate(i, "request", f"a PATCH of {target}", target, "patch")
    return Fate(i, "request", "a request without a resource (e.g. GET)"
                if method else "an entry without a resource")


def _resolve(kind: str, key: str, members: list[tuple[int, dict]], fates: list[Fate]) -> None:
    """Several entries of one resource: keep the current one, by the Bundle type's rule."""
    if kind in ("transaction", "batch"):
        ranked = sorted(members, key=lambda m: (ORDER.get(_method(m[1]), 4), m[0]))
        last_i, last = ranked[-1]
        for i, _ in ranked[:-1]:
            fates[i] = Fate(i, "superseded", f"{key} is changed later in the "
                                             f"{kind} (entry {last_i + 1})")
        if _method(last) == "DELETE":
            fates[last_i] = Fate(last_i, "deleted", f"{key} is deleted by the {kind}")
        return
    versions = [(i, item, *_version(item)) for i, item in members]
    numbered = all(v[2] is not None for v in versions)
    dated = all(v[3] is not None for v in versions)
    if numbered and len({v[2] for v in versions}) == len(versions):
        ranked = sorted(versions, key=lambda v: v[2])
    elif dated and len({v[3] for v in versions}) == len(versions):
        ranked = sorted(versions, key=lambda v: v[3])
    elif kind == "history":  # newest first, as FHIR's history interaction returns them
        ranked = sorted(versions, key=lambda v: -v[0])
    else:
        _unordered(key, versions, fates)
        return
    newest_i, newest = ranked[-1][0], ranked[-1][1]
    for i, *_ in ranked[:-1]:
        fates[i] = Fate(i, "superseded", f"a later version of {key} (entry {newest_i + 1}) "
                                         "replaces it")
    if newest.get("resource") is None:
        fates[newest_i] = Fate(newest_i, "deleted", f"{key} was deleted (its newest version "
                                                    "is a DELETE)")
        for i, *_ in ranked[:-1]:
            fates[i] = Fate(i, "deleted", f"{key} was deleted later (entry {newest_i + 1})")


def _unordered(key: str, versions: list, fates: list[Fate]) -> None:
    """Copies of one resource with nothing to order them: the same content is one fact (read
    once by the readers that care); different contents are set aside, since which is current
    cannot be told."""
    import orjson

    def content(item: dict) -> bytes:
        kept = {k: v for k, v in _dict(item.get("resource")).items() if k not in ("meta", "text")}
        try:
            return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return repr(kept).encode()

    if len({content(item) for _, item, *_ in versions}) > 1:
        for i, *_ in versions:
            if fates[i].fate == "read":
                fates[i] = Fate(i, "aside", f"{len(versions)} different versions of {key} with "
                                            "nothing to tell which is current (no versionId or "
                                            "lastUpdated)")


def _method(item: dict) -> str:
    return str(_dict(item.get("request")).get("method") or "").upper()
