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
from .codes import _codes, _project_code, _text
from .conditions import ConditionReader
from .entries import Entry
from .medications import MedicationReader
from .observations import ObservationReader
from .pool import Pool
from .values import _date, reading_rules

ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"  # R4 core extension

IGNORED_STATUS = frozenset({"entered-in-error", "cancelled", "not-done", "not-taken",
                            "refuted", "intended", "draft", "proposed", "rejected"})


# -- one patient --------------------------------------------------------------------------------

class RecordBuilder(ConditionReader, ObservationReader, MedicationReader):
    """Collects what one patient's resources say, in the project's record form."""

    def __init__(self, patient: Entry, pool: Pool, term: Terminology) -> None:
        self.patient, self.pool, self.term = patient, pool, term
        self.rec: dict[str, Any] = {"observations": []}
        self.complete_lists: set[str] = set()
        self.consents: list[dt.date] = []
        self.diagnosis: dict[str, Any] = {}
        self.therapies: list[dict] = []
        self.notes: list[str] = []
        self.origins: dict[str, str] = {}  # single-valued fact -> the resource that gave it
        self.conflicts: list[str] = []
        # resource key -> criteria it could have changed had it been readable (lift --report)
        self.could_change: dict[str, tuple[str, ...]] = {}
        self.excluded: tuple[str, str] | None = None  # (element, why not screened)
        self.current = patient.key
        data = patient.data
        self.rec["id"] = str(data.get("id") or _first_identifier(data) or patient.full_url)
        self.read_patient(patient)

    def read_patient(self, patient: Entry) -> None:
        """Sex and birth date from a Patient resource (the first, or one of the same person's
        Patients from another source, matched by identifier)."""
        self.current = f"{patient.key} ({patient.source})"
        data = patient.data
        if self.excluded is None:
            self.excluded = _not_a_candidate(data)
            if self.excluded is not None:
                self.notes.append(f"not screened: {self.excluded[1]}")
        if self.excluded is not None:
            return
        if data.get("gender"):
            self.set_single("", "sex", data["gender"])
        birth = str(data.get("birthDate") or "")
        if len(birth) == 10:
            self.set_single("", "birth_date", birth)
        elif birth:
            # FHIR allows a year or year-month; an age in completed years needs the day.
            self.notes.append(f"birthDate '{birth}' is partial, so the age is not known")
        deceased = _deceased(data)
        if deceased is not None:
            # Whether a death excludes the patient depends on the assessment date, which the
            # screening knows (plausibility.date_problem), not the reader.
            self.set_single("", "deceased", deceased)

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
            if key in self.complete_lists:
                rec.setdefault(key, [])
        return {"__source__": self.source(), **rec}

    def take(self, entry: Entry) -> tuple[bool, str]:
        """Use one resource of this patient; say why not when it is not used."""
        if self.excluded is not None:
            return False, f"its patient is not screened ({self.excluded[1]})"
        status = str(entry.data.get("status") or "")
        verification = _codes(entry.data.get("verificationStatus"))
        if status in IGNORED_STATUS or IGNORED_STATUS & verification:
            return False, f"status {status or '/'.join(sorted(verification))}"
        handler = getattr(self, "take_" + entry.type)
        self.current = f"{entry.key} ({entry.source})"
        return handler(entry)

    # -- resource kinds ------------------------------------------------------------------------
    def take_Consent(self, entry: Entry) -> tuple[bool, str]:
        """A Consent is the study's ICF only by the rule kept in the ontology
        (ql:StudyInformedConsentRule): research scope, active, not a refusal."""
        why_not = _not_the_study_consent(entry.data)
        if why_not:
            return False, why_not
        when = _date(entry.data.get("dateTime"))
        if when is None:
            return False, "no Consent.dateTime"
        self.consents.append(when)
        return True, "ICF signature date (IC1, IC2)"

    def take_List(self, entry: Entry) -> tuple[bool, str]:
        names = {"prior-systemic-therapy": "prior_therapies", "metastases": "metastases",
                 "supportive-care": "supportive_care"}
        code = _project_code(entry.data.get("code"))
        if code not in names:
            return False, "not a list the protocol uses"
        self.complete_lists.add(names[code])
        return True, f"the {names[code].replace('_', ' ')} list is complete"


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


def _not_a_candidate(data: dict) -> tuple[str, str] | None:
    """Why a Patient is no candidate for screening (element, reason), or None."""
    for extension in data.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == ANIMAL:
            species = next((_text(part.get("valueCodeableConcept"))
                            for part in extension.get("extension") or []
                            if isinstance(part, dict) and part.get("url") == "species"), None)
            return ("Patient.extension:animal",
                    f"not a human subject (patient-animal extension, species "
                    f"{species or 'not given'})")
    return None


def _deceased(data: dict) -> str | bool | None:
    """``deceased[x]`` in the record's form: the date of death, or True (a flag, or a death
    date too partial to compare with the assessment date: never screened as alive)."""
    if data.get("deceasedBoolean") is True:
        return True
    when = data.get("deceasedDateTime")
    if when:
        return str(when)[:10] if len(str(when)) >= 10 else True
    return None


def _first_identifier(data: dict) -> str | None:
    for identifier in data.get("identifier") or []:
        if identifier.get("value"):
            return identifier["value"]
    return None

