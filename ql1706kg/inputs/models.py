"""The project's own patient record: the format a coordinator writes by hand.

One pydantic model per section, so that parsing, error locations ("labs[3].date") and the
published JSON Schema come from one definition. Every field maps to a data element of
criteria.md; the criterion ids that use a field are named in its description.

A section that is absent means "not recorded" (the criterion is ``unknown``); an empty list
means "recorded: none" (e.g. ``"prior_therapies": []`` is a therapy-naive patient).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


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
    """IC1, IC2: informed consent and the investigator's judgement of compliance."""

    icf_signed: dt.date | None = Field(None, description="Date the ICF was signed (IC1, IC2).")
    able_to_comply: bool | None = Field(
        None, description="Investigator's judgement that the subject can comply (IC1)."
    )


class Diagnosis(_Strict):
    """IC3.1-IC3.3: the sarcoma under study."""

    histology: str | Coded | None = Field(
        None, description="Histology as a name ('leiomyosarcoma') or a code (IC3.3, IC4, IC5)."
    )
    confirmed_at_this_institution: bool | None = Field(
        None, description="Histology confirmed by this institution's pathology (IC3.1)."
    )
    extent: Extent | None = Field(None, description="Disease extent (IC3.2).")
    resectable: bool | None = Field(None, description="Surgically resectable (IC3.2).")
    date: dt.date | None = None
    other_active_histologies: list[str | Coded] | None = Field(
        None, description="Histologies of other primary cancers that are current too (active, "
        "recurrent or relapsed, with a histology that differs from this one): which cancer is "
        "under study must be confirmed, so IC3.3 is unknown and names them."
    )


class Metastasis(_Strict):
    """A metastasis: the site drives the liver-metastasis limit (IC9.2), the date IC5.2."""

    site: str = Field(description="Organ, e.g. 'liver', 'lung', 'bone'.")
    date: dt.date | None = Field(None, description="Date the metastasis was first found.")


class Therapy(_Strict):
    """A prior systemic regimen (IC4, IC5.1, IC5.2)."""

    name: str | None = Field(None, description="Regimen name, e.g. 'AI' or 'weekly paclitaxel'.")
    drugs: list[str | Coded] = Field(description="Every drug, by name or ATC/RxNorm/NCIt code.")
    start: dt.date | None = None
    end: dt.date | None = None
    intolerance: bool | None = Field(
        None, description="Stopped for intolerance to this therapy (IC5.2)."
    )


class TumourMeasurement(_Strict):
    """A dated sum of longest diameters of the target lesions (IC5.2 progression)."""

    date: dt.date
    sum_of_diameters_mm: Number = Field(ge=0, le=5000)


class Lesion(_Strict):
    """A lesion measured at baseline (IC6, RECIST 1.1 measurability)."""

    kind: Literal["non_nodal", "lymph_node"]
    method: Literal["CT", "MRI", "caliper", "chest_x_ray", "ultrasound", "PET", "other"]
    longest_diameter_mm: Number | None = Field(None, ge=0, le=1000)
    short_axis_mm: Number | None = Field(None, ge=0, le=1000)
    slice_thickness_mm: Number | None = Field(None, gt=0, le=100)
    previously_irradiated: bool = False
    site: str | None = None
    date: dt.date | None = None


class Recist(_Strict):
    """The investigator's own RECIST 1.1 baseline assessment (IC6)."""

    measurable_disease: bool
    date: dt.date | None = None


class Samples(_Strict):
    """Availability of biomarker samples (IC7)."""

    tumour_tissue: bool | None = None
    blood: bool | None = None


class Observation(_Strict):
    """A dated measurement: lab result, ECOG, LVEF, weight, pregnancy test, dipstick.

    ``test`` is a name known to the terminology ('AST', 'haemoglobin', 'LVEF', 'ECOG',
    'weight', 'urine protein dipstick', 'pregnancy test'...) or a LOINC code. ``value`` is a
    number, or a word for ordinal and qualitative results ('2+', 'negative').
    """

    test: str | Coded
    value: Number | str
    unit: str | None = Field(None, description="UCUM code or common spelling ('g/dL', '10*9/L').")
    uln: Number | None = Field(None, description="Upper limit of normal, in the value's unit.")
    lln: Number | None = Field(None, description="Lower limit of normal, in the value's unit.")
    date: dt.date


class SupportiveCare(_Strict):
    """A transfusion or a haematopoietic/anti-anaemic product, with its date (IC9.0)."""

    product: str | Coded = Field(description="e.g. 'red blood cell transfusion', 'filgrastim'.")
    date: dt.date | None = None


class ExpectedSurvival(_Strict):
    """The investigator's estimate of survival (IC8.2)."""

    value: Number = Field(ge=0, le=36500)
    unit: Literal["days", "weeks", "months"] = "weeks"
    date: dt.date | None = None


class Reproductive(_Strict):
    """IC10 and IC11."""

    lactating: bool | None = None
    childbearing_potential: bool | None = Field(
        None, description="Of childbearing potential (either sex) (IC11)."
    )
    contraception_agreed: bool | None = Field(
        None, description="Agrees to effective contraception until 180 days after the last dose."
    )


class PatientRecord(_Strict):
    """One patient, as a coordinator records them for QL1706 screening."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "$id": "https://w3id.org/ql1706kg/schema/patient-record.schema.json",
            "title": "QL1706 screening record",
        },
    )

    id: str = Field(min_length=1, description="The patient's screening id.")
    sex: Sex | None = None
    birth_date: dt.date | None = None
    consent: Consent | None = None
    diagnosis: Diagnosis | None = None
    metastases: list[Metastasis] | None = None
    conditions: list[str | Coded] | None = Field(
        None, description="Relevant conditions, e.g. 'Gilbert syndrome'."
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
    deceased: dt.date | bool | None = Field(
        None, description="Recorded as deceased: true, or the date of death. A patient dead on "
                          "or before the assessment date is not screened (an input error); a "
                          "death after it is set aside.")


def record_json_schema() -> dict:
    """Return the JSON Schema of a patient record (what ``schema/`` publishes)."""
    return PatientRecord.model_json_schema()
