"""The project's own patient record: the format a coordinator writes by hand.

One pydantic model per section, so that parsing, error locations ("labs[3].date") and the
published JSON Schema come from one definition. Every field maps to a data element of
criteria.md; the criterion ids that use a field are named in its description.

A section that is absent means "not recorded" (the criterion is ``unknown``); an empty list
means "recorded: none" (e.g. ``"prior_therapies": []`` is a therapy-naive patient).

Time and certainty (issue 20, docs/record.md): every date is a :class:`~.when.When` (a day, a
month, a year or an instant: an interval of days); a course has a ``start``, an ``end`` or is
``ongoing``; a metastasis or a condition may be ``resolved``; a result may be a bound
(``comparator``, or a value written ``"<0.5"``); and ``set_aside`` lists the facts a reader
could not read or trust, so that no criterion reading them is met on their absence.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .when import When


def _not_a_boolean(value: object) -> object:
    """JSON true/false is not a number (pydantic would read true as 1.0)."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


def _finite_and_sane(value: float) -> float:
    """A number written as text ("1e400", "NaN") must still be a number a record can hold."""
    if not math.isfinite(value) or abs(value) > 1e12:
        raise ValueError("a finite number of sane size is expected")
    return value


# A number in a record: JSON true/false is refused, not read as 1 or 0; text that reads as a
# number ("40", as FHIR gives normal limits) must be finite and of sane size.
Number = Annotated[float, BeforeValidator(_not_a_boolean), AfterValidator(_finite_and_sane)]

Sex = Literal["female", "male", "other", "unknown"]

# A bound instead of a value: FHIR Quantity.comparator's four (absent means "="). "≤" and "≥"
# are read as "<=" and ">=".
Comparator = Literal["<", "<=", ">", ">="]
_COMPARATOR_SPELLINGS = {"<": "<", "<=": "<=", "≤": "<=", "=<": "<=", ">": ">", ">=": ">=",
                         "≥": ">=", "=>": ">="}
# A result written as a bound: "<0.5", "≤ 0.5", ">=3", "< 1e-3".
_BOUND_TEXT = re.compile(r"^\s*(<=|>=|=<|=>|<|>|≤|≥)\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\s*$")


def _comparator(value: object) -> object:
    """Accept the spellings of a comparator (≤, ≥, =<, =>) as the four the record names."""
    if isinstance(value, str):
        return _COMPARATOR_SPELLINGS.get(value.strip(), value)
    return value


ComparatorField = Annotated[Comparator, BeforeValidator(_comparator)]
Extent = Literal["metastatic", "locally_advanced", "localised"]


class _Strict(BaseModel):
    """Base: unknown keys are errors, so a misspelt field never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Coded(_Strict):
    """A code in a named system, e.g. ``{"system": "ICD-O-3", "code": "8890/3"}``."""

    system: str = Field(description="ICD-O-3, NCIt, OncoTree, SNOMED-CT, ATC, RxNorm or LOINC")
    code: str
    display: str | None = None


class Consent(_Strict):
    """Informed consent and the investigator's judgement of compliance."""

    icf_signed: When | None = Field(None, description="Date the ICF was signed.")
    able_to_comply: bool | None = Field(
        None, description="Investigator's judgement that the subject can comply."
    )


class Diagnosis(_Strict):
    """The sarcoma under study."""

    histology: str | Coded | None = Field(
        None, description="Histology as a name ('leiomyosarcoma') or a code."
    )
    confirmed_at_this_institution: bool | None = Field(
        None, description="Histology confirmed by this institution's pathology."
    )
    extent: Extent | None = Field(None, description="Disease extent.")
    resectable: bool | None = Field(None, description="Surgically resectable.")
    date: When | None = Field(None, description="Date of the diagnosis (a diagnosis made after "
                              "the assessment date is not yet on record).")
    other_active_histologies: list[str | Coded] | None = Field(
        None, description="Histologies of other primary cancers that are current too (active, "
        "recurrent or relapsed, with a histology that differs from this one): which cancer is "
        "under study must be confirmed, so the histology criterion is unknown and names them."
    )


def _no_end_when_ongoing(model: BaseModel) -> BaseModel:
    if getattr(model, "ongoing", None) and getattr(model, "end", None) is not None:
        raise ValueError("a course is either ongoing or has an end, not both (leave out "
                         "'ongoing' to give the end, or 'end' when it had not ended)")
    return model


class Metastasis(_Strict):
    """A metastasis: the site drives the liver-metastasis limits, the date whether it came
    after a regimen."""

    site: str = Field(description="Organ, e.g. 'liver', 'lung', 'bone'.")
    date: When | None = Field(None, description="Date the metastasis was first found.")
    resolved: When | bool | None = Field(
        None, description="Resolved: the date it resolved, or true (resolved, date not known: "
        "taken as resolved by the assessment date). A metastasis resolved on or before the "
        "assessment date no longer raises the liver limits; one that may have "
        "resolved by then makes them unknown between the two limits. It still counts as "
        "metastatic disease and as metastasis after a regimen.")


class Condition(_Strict):
    """A relevant condition with when it was found and whether it has resolved."""

    condition: str | Coded = Field(description="e.g. 'Gilbert syndrome' or a SNOMED CT code.")
    date: When | None = Field(None, description="Date it was found or recorded (onset).")
    resolved: When | bool | None = Field(
        None, description="Resolved (a date, or true): a condition resolved on or before the "
        "assessment date no longer changes a limit.")


class Therapy(_Strict):
    """A prior systemic regimen."""

    name: str | None = Field(None, description="Regimen name, e.g. 'AI' or 'weekly single agent'.")
    drugs: list[str | Coded] = Field(description="Every drug, by name or ATC/RxNorm/NCIt code.")
    start: When | None = Field(None, description="First day of the regimen.")
    end: When | None = Field(None, description="Last day of the regimen.")
    ongoing: bool | None = Field(
        None, description="true: not ended when recorded; it runs up to the assessment date "
        "(not with 'end').")
    intolerance: bool | None = Field(
        None, description="Stopped for intolerance to this therapy."
    )
    setting: str | None = Field(
        None, min_length=1, max_length=64,
        description="The disease setting it was given in, as the protocol's ontology names "
        "the settings (ql:TherapySetting, e.g. 'metastatic', 'adjuvant', 'neoadjuvant'); a "
        "word it does not name leaves the setting undetermined.")

    _check = model_validator(mode="after")(_no_end_when_ongoing)


class TumourMeasurement(_Strict):
    """A dated sum of longest diameters of the target lesions (progression)."""

    date: When
    sum_of_diameters_mm: Number = Field(ge=0, le=5000)


class Lesion(_Strict):
    """A lesion measured at baseline (RECIST 1.1 measurability)."""

    kind: Literal["non_nodal", "lymph_node"]
    method: Literal["CT", "MRI", "caliper", "chest_x_ray", "ultrasound", "PET", "other"]
    longest_diameter_mm: Number | None = Field(None, ge=0, le=1000)
    short_axis_mm: Number | None = Field(None, ge=0, le=1000)
    slice_thickness_mm: Number | None = Field(None, gt=0, le=100)
    previously_irradiated: bool = False
    site: str | None = None
    date: When | None = None


class Recist(_Strict):
    """The investigator's own RECIST 1.1 baseline assessment."""

    measurable_disease: bool
    date: When | None = None


class Samples(_Strict):
    """Availability of biomarker samples."""

    tumour_tissue: bool | None = None
    blood: bool | None = None


class Observation(_Strict):
    """A dated measurement: lab result, ECOG, LVEF, weight, pregnancy test, dipstick.

    ``test`` is a name known to the terminology ('AST', 'haemoglobin', 'LVEF', 'ECOG',
    'weight', 'urine protein dipstick', 'pregnancy test'...) or a LOINC code. ``value`` is a
    number, or a word for ordinal and qualitative results ('2+', 'negative'). A bound is a
    ``comparator`` with the number, or the number written with it (``"<0.5"``, ``"≥ 3"``):
    a limit is met or not met only when every value the bound allows gives that answer.
    """

    test: str | Coded
    value: Number | str
    comparator: ComparatorField | None = Field(
        None, description="The value is a bound: '<', '<=', '>' or '>=' (absent: the value "
        "itself). A text value '<0.5' gives the same bound.")
    unit: str | None = Field(None, description="UCUM code or common spelling ('g/dL', '10*9/L').")
    uln: Number | None = Field(None, description="Upper limit of normal, in the value's unit.")
    lln: Number | None = Field(None, description="Lower limit of normal, in the value's unit.")
    date: When = Field(description="Date of the result; a date and time orders the results of "
                       "one day (without one, same-day results that disagree are unknown).")

    @model_validator(mode="after")
    def _bound(self) -> Observation:
        """Read a value written as a bound ('<0.5') into the comparator and the number."""
        if isinstance(self.value, str):
            match = _BOUND_TEXT.match(self.value)
            if match is not None:
                written = _COMPARATOR_SPELLINGS[match.group(1)]
                if self.comparator is not None and self.comparator != written:
                    raise ValueError(f"the value '{self.value}' and the comparator "
                                     f"'{self.comparator}' disagree")
                object.__setattr__(self, "comparator", written)
                object.__setattr__(self, "value", match.group(2))
                return self
        if self.comparator is not None and not _is_number(self.value):
            raise ValueError(f"a comparator bounds a number, not '{self.value}'")
        return self


class SupportiveCare(_Strict):
    """A transfusion or a haematopoietic/anti-anaemic product: one administration
    (``date``) or a course (``start``, ``end`` or ``ongoing``)."""

    product: str | Coded = Field(description="A product's name or code, e.g. a transfusion or a "
                           "colony-stimulating factor.")
    date: When | None = Field(None, description="One administration, on some day of this date.")
    start: When | None = Field(None, description="A course: its first day.")
    end: When | None = Field(None, description="A course: its last day (absent and not ongoing: "
                             "not known, so it may have run up to the assessment date).")
    ongoing: bool | None = Field(None, description="A course not ended when recorded: it runs "
                                 "up to the assessment date (not with 'end').")

    @model_validator(mode="after")
    def _one_or_course(self) -> SupportiveCare:
        if self.date is not None and (self.start is not None or self.end is not None
                                      or self.ongoing is not None):
            raise ValueError("give 'date' for one administration or 'start'/'end'/'ongoing' "
                             "for a course, not both")
        _no_end_when_ongoing(self)
        return self


class ExpectedSurvival(_Strict):
    """The investigator's estimate of survival."""

    value: Number = Field(ge=0, le=36500)
    unit: Literal["days", "weeks", "months"] = "weeks"
    date: When | None = None


class Pregnancy(_Strict):
    """A pregnancy on record: one that covers the assessment date makes a pregnancy
    criterion not met whatever a test says; one that may cover it makes it unknown."""

    date: When | None = Field(None, description="Recorded as pregnant on this date.")
    start: When | None = Field(None, description="First day (onset), if known.")
    end: When | None = Field(None, description="Last day (delivery or end), if known.")
    ongoing: bool | None = Field(None, description="Not ended when recorded: it runs up to the "
                                 "assessment date (not with 'end').")

    _check = model_validator(mode="after")(_no_end_when_ongoing)


class Reproductive(_Strict):
    """Pregnancy, breast-feeding, childbearing potential and contraception."""

    lactating: bool | None = None
    childbearing_potential: bool | None = Field(
        None, description="Of childbearing potential (either sex)."
    )
    contraception_agreed: bool | None = Field(
        None, description="Agrees to effective contraception until 180 days after the last dose."
    )
    pregnancies: list[Pregnancy] | None = Field(
        None, description="Pregnancies on record; an empty list says: none.")


# The sections of a record a fact set aside can belong to (every field but id and set_aside).
Section = Literal["sex", "birth_date", "consent", "diagnosis", "metastases", "conditions",
                  "prior_therapies", "tumour_measurements", "lesions", "recist", "samples",
                  "expected_survival", "observations", "supportive_care", "reproductive",
                  "deceased", "facts"]


class Fact(_Strict):
    """A fact of a kind the protocol declares (``ql:FactKind``: an HBsAg result, a vaccination,
    an allergy, a judgement...). ``kind`` is the kind's record key; ``value`` a yes/no, a
    number (with ``unit``), a word of the kind's coded values ('positive'), or a date; a kind
    that is the record itself (a condition, a vaccination) needs no value. A kind this protocol
    does not declare is not read (no criterion reads it)."""

    kind: str = Field(min_length=1, description="The fact kind's record key (ql:recordKey).")
    value: bool | Number | str | None = Field(None, description="Yes/no, number, coded word "
                                              "or date (absent: the record itself).")
    unit: str | None = Field(None, description="UCUM unit of a number.")
    date: When | None = Field(None, description="When it was found, given, measured or began.")
    end: When | None = Field(None, description="When it ended (a course, a resolved condition).")
    status: str | None = Field(None, description="Its status as written (e.g. 'active', "
                               "'resolved', 'completed').")
    code: str | Coded | None = Field(None, description="The code or name it was recorded with.")
    attributes: dict[str, str] | None = Field(
        None, description="Its declared attributes (ql:hasAttribute), each by its key with one "
        "of its value labels, e.g. {\"field-extent\": \"wide\", \"intent\": \"palliative\"}; "
        "an attribute left out is not known, so a criterion that needs it stays unknown.")
    dosage: list[dict[str, Any]] | None = Field(
        None, description="For a medication kind whose value is a dose: its dosage lines as "
        "FHIR R4 Dosage objects (doseAndRate, timing, asNeeded[x], route, sequence...).")


class SetAside(_Strict):
    """A fact the reader could not read or trust (an unknown modifier extension, an implausible
    value, a value its interpretation contradicts, a resource it does not read that could carry
    the fact...). While it stands, no criterion that reads its section (for observations, its
    test) can be met; the explanation names the source, the field and the reason."""

    section: Section = Field(description="The record section the fact would have gone to.")
    test: str | Coded | None = Field(None, description="For observations: the test, by name "
                                     "or code (absent: any test).")
    kind: str | None = Field(default=None, description="For facts: the declared kind's record key "
                             "(ql:recordKey; absent: any kind).")
    source: str | None = Field(None, description="Where it was read, e.g. 'bundle.json#"
                               "Observation/42'.")
    field: str | None = Field(None, description="The element or field, e.g. "
                              "'modifierExtension' or 'observations[3].value'.")
    reason: str = Field(min_length=1, description="Why it was set aside, in words.")


class PatientRecord(_Strict):
    """One patient, as a coordinator records them for screening."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "$id": "https://w3id.org/ql1706kg/schema/patient-record.schema.json",
        },
    )

    id: str = Field(min_length=1, description="The patient's screening id.")
    sex: Sex | None = None
    birth_date: When | None = Field(None, description="Date of birth; a year or a month "
                                    "gives the ages every day of it allows.")
    consent: Consent | None = None
    diagnosis: Diagnosis | None = None
    metastases: list[Metastasis] | None = None
    conditions: list[str | Coded | Condition] | None = Field(
        None, description="Relevant conditions, e.g. 'Gilbert syndrome', each as a name, a "
        "code, or with when it was found and whether it resolved."
    )
    prior_therapies: list[Therapy] | None = None
    tumour_measurements: list[TumourMeasurement] | None = None
    lesions: list[Lesion] | None = None
    recist: Recist | None = None
    samples: Samples | None = None
    expected_survival: ExpectedSurvival | None = None
    observations: list[Observation] = Field(default_factory=list)
    supportive_care: list[SupportiveCare] | None = None
    reproductive: Reproductive | None = None
    deceased: When | bool | None = Field(
        None, description="Recorded as deceased: true, or the date of death. A patient dead on "
                          "or before the assessment date is not screened (an input error); a "
                          "death after it is set aside.")
    facts: list[Fact] | None = Field(
        None, description="Facts of the kinds the protocol declares (ql:FactKind), beyond the "
        "sections above.")
    facts_complete: list[str] | None = Field(
        None, description="Fact kinds (record keys) recorded complete: no fact of one of them "
        "means none (the JSON form of a FHIR List with emptyReason nilknown).")
    set_aside: list[SetAside] = Field(
        default_factory=list, description="Facts the reader could not read or trust: no "
        "criterion reading their section (and test) is met while they stand.")


def _is_number(value: object) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    try:
        float(str(value).strip())
    except ValueError:
        return False
    return True


def record_json_schema() -> dict:
    """Return the JSON Schema of a patient record (what ``schema/`` publishes), titled with
    the protocol's trial name (``ql:trialShortName``)."""
    from ..protocol.terminology import terminology  # the schema's only use of the protocol

    schema = PatientRecord.model_json_schema()
    schema["title"] = f"{terminology().trial_name} screening record"
    return schema
