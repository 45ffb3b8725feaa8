"""Facts set aside: what a resource the reader cannot trust would have said, named in the record.

A resource with a modifier the reader does not understand, a status that leaves its truth open
(unknown, preliminary), a file of another FHIR release, two versions that disagree, a resource
tied to no patient: FHIR says such a resource must not be used as if it were absent, and the
project says it must never make a patient eligible. :meth:`SetAsideReader.set_aside` reads it
as any other resource, into a copy of the record that is then thrown away, and writes what the
read would have changed (a section of the record, and for results the test) as ``set_aside``
entries; the screening then cannot meet a criterion that reads them, and says why.
"""

from __future__ import annotations

import copy
from typing import Any

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .declared import declared_facts
from .elements import element_table
from .entries import Entry
from .semantics import read

# Builder state that is not the record (kept across a read that is thrown away).
_KEEP = frozenset({"patient", "pool", "term", "current", "reading", "notes", "shadowing"})
# Builder state -> the record section it becomes.
_STATE_SECTIONS = {"therapies": "prior_therapies", "consents": "consent",
                   "diagnosis": "diagnosis", "_disease_state": "diagnosis"}
# R5 names of the elements a thrown-away read looks at, in R4's (a refused R5 file's resources
# are read only to tell what they would have said).
_R5_NAMES = {"occurenceDateTime": "effectiveDateTime", "occurencePeriod": "effectivePeriod",
             "occurrenceDateTime": "performedDateTime", "occurrencePeriod": "performedPeriod",
             "subject": "patient"}


class SetAsideReader:
    """The set-aside part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    rec: dict[str, Any]
    term: Terminology
    notes: list[str]
    complete_lists: set[str]

    def set_aside(self, entry: Entry, field: str, reason: str, only: tuple[str, ...] = (),
                  via: Entry | None = None, otherwise: str = "") -> tuple[bool, str]:
        """Set a resource aside: the sections (``only`` these, when given) its reading would
        have changed (read as ``via``, when given: another resource saying the same) become
        ``set_aside`` entries naming the resource, the element and why; ``otherwise`` is said
        when it would have changed none of them."""
        found = self.would_give(via or entry)
        if only:
            found = [f for f in found if f[0] in only]
        source = f"{entry.source}#{entry.key}"
        for section, test in found:
            item = {"section": section, "source": source, "field": field, "reason": reason}
            if test:  # the test of a result, the declared kind of a fact
                item["kind" if section == "facts" else "test"] = test
            if item not in self.rec.setdefault("set_aside", []):
                self.rec["set_aside"].append(item)
        if not self.rec.get("set_aside"):
            self.rec.pop("set_aside", None)
        if not found:
            return False, otherwise or f"{reason}; no criterion reads what it says"
        said = ", ".join(sorted({s + (f" ({t})" if t else "") for s, t in found}))
        return False, f"set aside: {reason} (it would have given {said})"

    def aside_fact(self, entry: Entry, section: str, test: str | None, field: str,
                   reason: str) -> None:
        """Set one fact of a resource aside (a result whose value or interpretation cannot be
        trusted), the rest of the resource being read."""
        item = {"section": section, "source": f"{entry.source}#{entry.key}", "field": field,
                "reason": reason}
        if test:
            item["test"] = test
        if item not in self.rec.setdefault("set_aside", []):
            self.rec["set_aside"].append(item)

    def would_give(self, entry: Entry) -> list[tuple[str, str | None]]:
        """The record sections (with the test, for results) a resource would change if read:
        read into a copy of the builder's state, which is then restored. A resource its
        readers cannot read at all gives every section of its type."""
        before = {k: v for k, v in self.__dict__.items() if k not in _KEEP}
        saved = copy.deepcopy(before)
        data = _as_r4(entry.data) if entry.aside and entry.aside[0] == "FHIR version" else None
        shadow = Entry(entry.source, data, entry.full_url, entry.contained, entry.scope,
                       entry.folder, seq=entry.seq) if data is not None else entry
        reading = self.__dict__.get("reading")
        try:
            self.__dict__["reading"] = read(shadow.type, shadow.data, self.__dict__.get("birth"))
            self.__dict__["shadowing"] = True
            handler = getattr(self, "take_" + shadow.type, None)
            used, why = handler(shadow) if handler is not None else (False, "")
            failed = not used and why.startswith("no medication code")
        except Exception:  # a resource that trips its reader: all it could have said
            failed = True
        self.__dict__["reading"] = reading
        self.__dict__["shadowing"] = False
        after = {k: v for k, v in self.__dict__.items() if k not in _KEEP}
        for key in list(self.__dict__):
            if key not in _KEEP and key not in saved:
                del self.__dict__[key]
        self.__dict__.update(saved)
        kinds = _declared_kinds(self.term, shadow)
        if failed:
            return [(section, None) for section in element_table().sections.get(entry.type, ())
                    ] + kinds
        return _changes(self.term, before_copy=saved, after=after) + kinds


def _declared_kinds(term: Terminology, entry: Entry) -> list[tuple[str, str | None]]:
    """The protocol's declared fact kinds a resource would have given (``facts``, by kind):
    a set-aside HBsAg result must keep the criteria reading HBsAg from being met."""
    if entry.type == "List" or not isinstance(entry.data, dict):
        return []
    try:
        kinds = {f["kind"] for f in declared_facts(term, entry)}
    except Exception:  # a resource that trips the reader may be of any kind on its type
        kinds = {k.key for k in term.fact_kinds.values()
                 if k.built_in is None and entry.type in k.fhir_types}
    return [("facts", kind) for kind in sorted(kinds)]


def _changes(term: Terminology, before_copy: dict, after: dict) -> list[tuple[str, str | None]]:
    """The sections (and tests) that differ between two states of a builder."""
    out: list[tuple[str, str | None]] = []
    old, new = before_copy.get("rec", {}), after.get("rec", {})
    for key in sorted(set(old) | set(new)):
        if key in ("id", "set_aside") or old.get(key) == new.get(key):
            continue
        if key == "observations":
            seen = old.get(key) or []
            for item in (new.get(key) or [])[len(seen):]:
                out.append(("observations", _test_name(term, item.get("test"))))
        else:
            out.append((key, None))
    for name, section in _STATE_SECTIONS.items():
        if before_copy.get(name) != after.get(name) and (section, None) not in out:
            out.append((section, None))
    for section in sorted(set(after.get("complete_lists") or ()) -
                          set(before_copy.get("complete_lists") or ())):
        if (section, None) not in out:
            out.append((section, None))
    return out


def _test_name(term: Terminology, test: object) -> str | None:
    """The canonical name of a result's test, as the record names tests."""
    if isinstance(test, dict):
        hit = term.find_code(str(test.get("system")), str(test.get("code")), QL.Test)
        return term.label(hit) if hit is not None else str(test.get("code"))
    if isinstance(test, str):
        hit = term.find(test, QL.Test)
        return term.label(hit) if hit is not None else test
    return None


def _as_r4(data: dict) -> dict:
    """An R5 resource with the R4 names of the elements a reader looks at (CodeableReference
    medication, occurence[x], occurrence[x]): only to tell what it would have said."""
    out = {_R5_NAMES.get(k, k) if not (k == "subject" and data.get("resourceType") != "Consent")
           else k: v for k, v in data.items()}
    medication = data.get("medication")
    if isinstance(medication, dict):
        out.pop("medication", None)
        if isinstance(medication.get("concept"), dict):
            out["medicationCodeableConcept"] = medication["concept"]
        if isinstance(medication.get("reference"), dict):
            out["medicationReference"] = medication["reference"]
    return out
