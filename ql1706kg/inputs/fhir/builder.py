"""One patient's record assembled from the resources that point at the patient.

:class:`RecordBuilder` holds what is known of one patient so far (from the Patient resource,
its Consents and Lists), routes every other resource of the patient to the reader of its
family (:mod:`.conditions`, :mod:`.observations`, :mod:`.medications`, mixed in) and gives the
record in the project's form once all resources are read.

A Patient that is not a human subject (the ``patient-animal`` extension) is no candidate: its
builder reads nothing more and gives an error entry naming it (a death is carried into the
record, where the screening decides by the assessment date), so
the person is reported on every output and in the exit code, never screened and never lost.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...errors import InputError
from ...protocol.terminology import Terminology
from .aside import SetAsideReader
from .codes import _codings, _project_code, _text
from .conditions import ConditionReader
from .declared import ALSO_BUILT_IN, complete_kinds, declared_facts, member_facts
from .elements import element_table
from .entries import Entry
from .medications import MedicationReader
from .members import unread_members
from .observations import ObservationReader
from .patients import birth_date, deceased, first_identifier, not_a_candidate
from .pool import Pool, declared_types
from .semantics import Reading, read
from .timing import When, record_date
from .unread import UnreadReader
from .values import reading_rules

# Resource types whose readers weigh their own status (a cancer's clinical status chooses the
# diagnosis; the ontology's consent rule names the statuses of an ICF; a List's status, mode
# and emptyReason decide together).
OWN_STATUS = frozenset({"Condition", "Consent", "List"})
# What a fact that may still happen (intended, draft, planned) can change: a support product
# may be given inside a support-product waiting period; a planned therapy is no prior therapy.
PLANNED_MATTERS = ("supportive_care",)


# -- one patient --------------------------------------------------------------------------------

class RecordBuilder(ConditionReader, ObservationReader, MedicationReader, SetAsideReader,
                    UnreadReader):
    """Collects what one patient's resources say, in the project's record form."""

    def __init__(self, patient: Entry, pool: Pool, term: Terminology) -> None:
        self.patient, self.pool, self.term = patient, pool, term
        self.rec: dict[str, Any] = {"observations": []}
        self.complete_lists: set[str] = set()
        self.consents: list[dt.date] = []
        self.diagnosis: dict[str, Any] = {}
        self.therapies: list[dict] = []
        self.unidentified: list[str] = []  # drugs that may be anticancer or support products
        self.notes: list[str] = []
        self.origins: dict[str, str] = {}  # single-valued fact -> the resource that gave it
        self.conflicts: list[str] = []
        # resource key -> criteria it could have changed had it been readable (lift --report)
        self.could_change: dict[str, tuple[str, ...]] = {}
        self.excluded: tuple[str, str] | None = None  # (element, why not screened)
        self.birth: When | None = None
        self.reading = Reading(read("Patient", {}).status)  # the resource being read
        self.current = patient.key
        data = patient.data
        self.rec["id"] = str(data.get("id") or first_identifier(data) or patient.full_url)
        self.read_patient(patient)

    def read_patient(self, patient: Entry) -> None:
        """Sex and birth date from a Patient resource (the first, or one of the same person's
        Patients from another source, matched by identifier)."""
        self.current = f"{patient.key} ({patient.source})"
        data = patient.data
        if self.excluded is None:
            self.excluded = not_a_candidate(patient)
            if self.excluded is not None:
                self.notes.append(f"not screened: {self.excluded[1]}")
        if self.excluded is not None:
            return
        if data.get("gender"):
            self.set_single("", "sex", data["gender"])
        birth, note = birth_date(data)
        if note:
            self.notes.append(note)
        if birth is not None:  # a partial date is written as such: the ages it allows
            written = record_date(birth)
            if (written is None or self.set_single("", "birth_date", written)) and \
                    self.birth is None:
                self.birth = birth  # the interval, for ages (onsetAge)
        died = deceased(data)
        if died is not None:
            # Whether a death excludes the patient depends on the assessment date, which the
            # screening knows (plausibility.date_problem), not the reader.
            self.set_single("", "deceased", died)

    def set_single(self, section: str, name: str, value: Any) -> bool:
        """Record a fact a patient has once; a second resource that says otherwise is a
        conflict to resolve at the source (named with both resources), never last-one-wins."""
        holder = self.rec.setdefault(section, {}) if section else self.rec
        path = f"{section}.{name}" if section else name
        if name in holder and holder[name] != value:
            self.conflicts.append(f"{self.current} gives {path} '{value}' but "
                                  f"{self.origins.get(path, 'an earlier resource')} gave "
                                  f"'{holder[name]}'")
            return False
        holder[name] = value
        self.origins.setdefault(path, self.current)
        return True

    def source(self) -> str:
        return f"{self.patient.source}#{self.patient.key}"

    def record(self) -> dict | InputError:
        """The assembled record, with lists marked complete only when the export says so; for
        a Patient that is no candidate (an animal, a deceased person) the error entry that
        names it instead."""
        if self.excluded is not None:
            element, why = self.excluded
            return InputError(self.patient.source, f"{self.patient.key} is {why}: not screened",
                              record=self.rec["id"], field=element)
        rec = self.rec
        if self.consents:
            rec.setdefault("consent", {})["icf_signed"] = min(self.consents).isoformat()
        if self.diagnosis:
            rec["diagnosis"] = {**rec.get("diagnosis", {}), **self.diagnosis}
        if self.therapies:
            rec["prior_therapies"] = self.therapies
        for key in ("metastases", "prior_therapies", "supportive_care"):
            if key not in self.complete_lists:
                continue
            if self.unidentified and key != "metastases":
                # a drug that may be one of those the List says there are none of
                rec.setdefault("set_aside", []).append({
                    "section": key, "source": self.source(), "field": "List.emptyReason",
                    "reason": f"the List says none, but {', '.join(self.unidentified[:3])} "
                              "names a drug that could not be identified"})
                continue
            rec.setdefault(key, [])
        return {"__source__": self.source(), **rec}

    def take(self, entry: Entry) -> tuple[bool, str]:
        """Use one resource of this patient; say why not when it is not used. The semantics
        layer speaks first (:func:`.semantics.read`): a resource set aside, or whose status
        says it does not count, never reaches its reader."""
        if self.excluded is not None:
            return False, f"its patient is not screened ({self.excluded[1]})"
        self.current = f"{entry.key} ({entry.source})"
        if entry.aside is not None:
            return self.set_aside(entry, *entry.aside)
        if not hasattr(self, "take_" + entry.type) and entry.type not in declared_types(
                self.term):  # a type only a declared kind reads, and the protocol declares none
            return False, "resource type not used by the protocol"
        self.reading = reading = read(entry.type, entry.data, self.birth, entry.clean)
        if reading.set_aside is not None:
            return self.set_aside(entry, *reading.set_aside)
        status = reading.status
        plan = status.category == "planned" and entry.type in element_table().plans
        if entry.type not in OWN_STATUS and not status.counts and not plan:
            field = f"{entry.type}.{status.said.split(' ')[0]}"
            if status.category == "uncertain":
                return self.set_aside(entry, field, f"{status.said}: whether it stands is not "
                                                    "known")
            if status.category == "planned":
                return self.set_aside(entry, field, f"{status.said}: it may yet be given",
                                      only=PLANNED_MATTERS, otherwise=status.said)
            return False, status.said
        declared = declared_facts(self.term, entry) if entry.type != "List" else []
        if not declared:
            taker = getattr(self, "take_" + entry.type, None)
            return taker(entry) if taker is not None else (
                False, "resource type not used by the protocol")
        self.rec.setdefault("facts", []).extend(declared)
        said = ("a planned date" if plan else "a fact") + " of the protocol's kind " + ", ".join(
            f["kind"] for f in declared)
        if entry.type in ALSO_BUILT_IN:
            used, why = getattr(self, "take_" + entry.type)(entry)
            if used:
                return True, f"{why}; {said}"
        return True, said

    # -- resource kinds ------------------------------------------------------------------------
    def take_Consent(self, entry: Entry) -> tuple[bool, str]:
        """A Consent is the study's ICF only by the rule kept in the ontology
        (ql:StudyInformedConsentRule): research scope, active, not a refusal."""
        why_not = _not_the_study_consent(entry.data)
        if why_not:
            return False, why_not
        when = self.reading.date
        if when is None or not when.exact:
            return False, ("no Consent.dateTime" if when is None else
                           f"Consent.dateTime {when.text} is not a full date")
        self.consents.append(when.first)
        return True, "ICF signature date"

    def _complete_kinds(self, entry: Entry, kinds: list[str]) -> tuple[bool, str]:
        return _complete_list(self, entry, kinds)

    def take_List(self, entry: Entry) -> tuple[bool, str]:
        """A List of the project says 'none' only when FHIR lets it: current, not a list of
        changes, emptyReason nilknown and no entry left (a deleted entry is no entry)."""
        names = {"prior-systemic-therapy": "prior_therapies", "metastases": "metastases",
                 "supportive-care": "supportive_care"}
        data = entry.data
        code = _project_code(data.get("code"))
        kinds = complete_kinds(self.term, data) if code not in names else []
        if kinds:
            return self._complete_kinds(entry, kinds)
        if code not in names:
            return False, "not a list the protocol uses"
        status = self.reading.status
        if not status.counts:
            return False, f"{status.said}: the list says nothing"
        entries = [e for e in data.get("entry") or [] if not (
            isinstance(e, dict) and e.get("deleted") is True)]
        if entries:
            return False, (f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} in the "
                           "list: not 'none' (each entry is read as its own resource)")
        reasons = element_table().values("List.emptyReason")
        said = {c.get("code") for c in _codings(data.get("emptyReason"))}
        if not said or any(reasons.get(str(c)) != "none" for c in said):
            shown = "/".join(sorted(str(c) for c in said)) or "none given"
            return False, f"emptyReason {shown}: nothing is known, which is not 'none'"
        self.complete_lists.add(names[code])
        return True, f"the {names[code].replace('_', ' ')} list is complete"


def _complete_list(builder: RecordBuilder, entry: Entry, kinds: list[str]) -> tuple[bool, str]:
    """A List of declared kinds records them complete when FHIR lets it: current, a snapshot,
    and either its members as entries (each read as its own resource) or emptyReason nilknown."""
    data = entry.data
    if not builder.reading.status.counts or data.get("mode") not in (None, "snapshot"):
        return False, "not a current snapshot: the list says nothing"
    entries = [e for e in data.get("entry") or [] if isinstance(e, dict)
               and e.get("deleted") is not True]
    if not entries:
        reasons = element_table().values("List.emptyReason")
        said = {c.get("code") for c in _codings(data.get("emptyReason"))}
        if not said or any(reasons.get(str(c)) != "none" for c in said):
            return False, "an empty list without emptyReason nilknown: nothing is known"
    unread = unread_members(builder.term, builder.pool, entry, kinds, entries)
    if unread:  # a member nobody read: the list cannot say the kinds are complete
        return False, f"the list's member {'; '.join(unread[:3])} was not read: it says nothing"
    done = builder.rec.setdefault("facts_complete", [])
    done.extend(k for k in kinds if k not in done)
    for item in entries:  # each entry is a member of the kinds the List records
        ref = item.get("item")
        member = builder.pool.resolve_entry(
            ref.get("reference") if isinstance(ref, dict) else None, entry)
        if member is not None:
            _member(builder, kinds, member)
    return True, f"recorded complete: {', '.join(kinds)}"


def _member(builder: RecordBuilder, kinds: list[str], member: Entry) -> None:
    """A List's member read as a fact of its kinds through the semantics layer, as any
    resource is: one entered in error, refuted, not done or only planned is no member; one the
    reader cannot trust (an unknown modifier, a status that leaves its truth open) is set aside
    for those kinds, so no criterion reading them is met on it."""
    facts = member_facts(builder.term, kinds, member)
    if not facts:
        return
    reading = read(member.type, member.data, builder.birth, member.clean)
    status = reading.status
    problem = reading.set_aside
    if problem is None and status.category == "uncertain":
        problem = (f"{member.type}.{status.said.split(' ')[0]}",
                   f"{status.said}: whether it stands is not known")
    if problem is not None:
        aside = builder.rec.setdefault("set_aside", [])
        for fact in facts:
            item = {"section": "facts", "source": f"{member.source}#{member.key}",
                    "field": problem[0], "reason": problem[1], "kind": fact["kind"]}
            if item not in aside:
                aside.append(item)
        return
    if status.counts or (status.category == "planned" and member.type in element_table().plans):
        builder.rec.setdefault("facts", []).extend(facts)


def _not_the_study_consent(data: dict) -> str | None:
    """Why a Consent is not the study's informed consent, or None when it is."""
    rules = reading_rules()
    scope = data.get("scope")
    codings = [c for c in (scope.get("coding") or []) if isinstance(c, dict)] \
        if isinstance(scope, dict) else []
    tokens = {(str(c.get("system", "")), str(c.get("code", ""))) for c in codings}
    text = (_text(scope) or "").strip().casefold() if isinstance(scope, dict) else ""
    if not (tokens & rules.consent_scopes
            or (not codings and text in rules.consent_scope_texts)):
        shown = ", ".join(sorted(code for _, code in tokens)) or text or "none"
        return f"not the study's informed consent: scope {shown}, not research"
    status = str(data.get("status") or "")
    if status not in rules.consent_statuses:
        return f"not the study's informed consent: status {status or 'missing'}, not active"
    provision = data.get("provision")
    kind = provision.get("type") if isinstance(provision, dict) else None
    if kind in rules.voiding_provisions:
        return f"not the study's informed consent: its provision is '{kind}' (a refusal)"
    return None
