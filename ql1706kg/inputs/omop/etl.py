"""One project record as the rows of an OMOP CDM and of its site supplement (see :mod:`.write`).

What the CDM holds goes to its table, coded with the terminology's codes; what it cannot hold
(the ICF, the investigator's judgements, intolerance, lesions, ...) goes to the supplement, in
the long-table rows a coordinator writes (:mod:`ql1706kg.inputs.tables`). A list the record
says is empty ("recorded: none") is the supplement's ``no_metastases`` / ``no_prior_therapy``
/ ``no_supportive_care`` row: the CDM cannot say that something did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...protocol.namespaces import QL
from ..fhir.disease_observations import disease_codes, system_key
from ..fhir.medications import KEPT_ATC_PREFIXES, SUPPORT_ATC_PREFIXES
from .vocab import fixed, mapping
from .write import EHR, FALLBACK_DATE, CdmWriter

_SUPPLEMENT_FLAGS = {("consent", "able_to_comply"): "able_to_comply",
                     ("diagnosis", "confirmed_at_this_institution"):
                         "confirmed_at_this_institution",
                     ("diagnosis", "resectable"): "resectable",
                     ("samples", "tumour_tissue"): "tumour_tissue",
                     ("samples", "blood"): "blood_sample",
                     ("reproductive", "lactating"): "lactating",
                     ("reproductive", "childbearing_potential"): "childbearing_potential",
                     ("reproductive", "contraception_agreed"): "contraception_agreed"}
_EMPTY = {"metastases": "no_metastases", "prior_therapies": "no_prior_therapy",
          "supportive_care": "no_supportive_care"}


class _Etl:
    """What the parts of :class:`RecordEtl` share."""

    w: CdmWriter
    rec: dict
    person: int
    even: bool
    fallback: str
    complete_lists: bool

    def new_row(self, table: str, values: dict[str, Any]) -> int:
        """Write a row of a table whose first column is a new id (the writer numbers it);
        that id."""
        row_id = self.w.row(table, values)
        assert row_id is not None, table
        return row_id

    def coded_term(self, value: Any, within) -> tuple[Any, str, dict | None]:
        """(term, name, coding) of a record's name or code: the coding is the written one,
        else the term's first code in the terminology."""
        term = self.w.term
        if isinstance(value, dict):
            hit = term.find_code(value["system"], value["code"], within)
            return hit, value.get("display") or value["code"], value
        hit = term.find(str(value), within)
        return hit, str(value), None

    def concept_for(self, system: str, code: str, name: str, domain: str) -> int:
        """The mini vocabulary's concept of a code in a system (a name, a URI or a key)."""
        w = self.w
        vocabulary = w.vocabulary_of.get(system) or w.vocabulary_of.get(system_key(system),
                                                                         system)
        if vocabulary == "ICDO3":
            return w.concept("ICDO3", f"{code}-NULL", f"{name} of unknown site", domain,
                             "ICDO Condition")
        return w.concept(vocabulary, code, name, domain, "Clinical Finding")


class _Treatment(_Etl):
    """Prior therapies and support products as drug exposures, procedures and regimens."""

    def drug(self, value: Any, group: str) -> int:
        """A drug as an RxNorm ingredient (its terminology code, else a local concept of its
        name) under its ATC group, with a clinical drug below it; the clinical drug's id. A
        drug the terminology does not know goes under ``group`` (the ATC group of the record's
        section: a prior systemic therapy is an antineoplastic, a support product an
        anti-anaemic or a growth factor), as a real vocabulary classes it."""
        w = self.w
        hit, name, _coding = self.coded_term(value, QL.Drug)
        if hit is not None:
            name = w.term.label(hit)
        rxnorm = w.codes.first(hit, str(QL.rxnormCode)) if hit is not None else None
        ingredient = (w.concept("RxNorm", rxnorm[1], name, "Drug", "Ingredient") if rxnorm
                      else w.concept("RxNorm Extension", f"QL-{name}"[:50], name, "Drug",
                                     "Ingredient"))
        product = w.concept("RxNorm Extension", f"QL-CD-{name}"[:50],
                            f"{name} Injectable Solution", "Drug", "Clinical Drug")
        w.below(ingredient, product)
        atc = w.codes.first(hit, str(QL.atcCode)) if hit is not None else None
        code = atc[1] if atc is not None else (group if hit is None else None)
        if code is not None:
            concept = w.concept("ATC", code, name if atc else code, "Drug", "ATC", standard="C")
            w.below(concept, ingredient)
            w.below(concept, product, 2)
        return product

    def exposure(self, product: int, name: str, start: str, end: str | None) -> int:
        return self.new_row("drug_exposure", {
            "person_id": self.person, "drug_concept_id": product,
            "drug_exposure_start_date": start, "drug_exposure_end_date": end or start,
            "drug_type_concept_id": EHR, "quantity": 1, "drug_source_value": name[:50]})

    def therapies(self) -> None:
        w = self.w
        for _number, therapy in enumerate(self.rec.get("prior_therapies") or [], 1):
            start = therapy.get("start") or self.fallback
            end = therapy.get("end") or start
            names = [self.coded_term(d, QL.Drug)[1] for d in therapy["drugs"]]
            rows = [self.exposure(self.drug(d, KEPT_ATC_PREFIXES[0]), n, start, end)
                    for d, n in zip(therapy["drugs"], names, strict=True)]
            if w.version != "5.4" or not rows:
                continue
            name = therapy.get("name") or " + ".join(names)
            regimen = w.concept("HemOnc", f"QL-REG-{name}"[:50], name, "Regimen", "Regimen")
            episode = w.row("episode", {
                "person_id": self.person,
                "episode_concept_id": mapping()["episodes"]["regimen"][0],
                "episode_start_date": start, "episode_end_date": end,
                "episode_object_concept_id": regimen, "episode_type_concept_id": EHR,
                "episode_source_value": name[:50]})
            for row in rows:
                w.row("episode_event", {"episode_id": episode, "event_id": row,
                                        "episode_event_field_concept_id":
                                            mapping()["event_fields"]["drug_exposure"]})

    def support(self) -> None:
        w = self.w
        for item in self.rec.get("supportive_care") or []:
            date = item.get("date") or item.get("start") or self.fallback
            end = item.get("end") or date  # an open course: OMOP requires an end
            hit, name, _coding = self.coded_term(item["product"], QL.HaematologicSupportProduct)
            snomed = (w.codes.first(hit, str(QL.snomedCode)) if hit is not None
                      and w.term.is_a(hit, QL.BloodComponentTransfusion) else None)
            if snomed is not None:
                w.row("procedure_occurrence", {
                    "person_id": self.person, "procedure_concept_id":
                        w.concept("SNOMED", snomed[1], w.term.label(hit), "Procedure",
                                  "Procedure"),
                    "procedure_date": date, "procedure_type_concept_id": EHR,
                    "procedure_source_value": name[:50],
                    **({"procedure_end_date": end} if end != date and w.version == "5.4"
                       else {})})
            else:
                self.exposure(self.drug(item["product"], SUPPORT_ATC_PREFIXES[0]), name, date,
                              end)


class _Results(_Etl):
    """Results as measurements and observations."""

    def observations(self) -> None:
        w = self.w
        for obs in self.rec.get("observations") or []:
            hit, name, coding = self.coded_term(obs["test"], QL.Test)
            loinc = ((coding["system"], coding["code"]) if coding else
                     w.codes.first(hit, str(QL.loincCode)) if hit is not None else None)
            concept = (self.concept_for(loinc[0], loinc[1], name, "Measurement")
                       if loinc else 0)
            value = obs["value"]
            number = value if isinstance(value, int | float) else None
            word_concept = 0 if number is None else None
            if number is None:
                found = w.term.find(str(value))
                code = w.codes.first(found, str(QL.snomedCode)) if found is not None else None
                if code is not None:
                    word_concept = w.concept("SNOMED", code[1], w.term.label(found),
                                             "Meas Value", "Qualifier Value")
            unit = obs.get("unit")
            unit_concept = (w.concept("UCUM", unit, unit, "Unit", "Unit")
                            if unit and not self.even else (0 if unit else None))
            table = "observation" if (self.even and hit == QL.ECOGPerformanceStatus) \
                else "measurement"
            prefix = table
            values = {"person_id": self.person, f"{prefix}_concept_id": concept,
                      f"{prefix}_date": str(obs["date"])[:10], f"{prefix}_type_concept_id": EHR,
                      "value_as_number": number, "value_as_concept_id": word_concept,
                      "unit_concept_id": unit_concept, "unit_source_value": unit,
                      f"{prefix}_source_value": name[:50]}
            if obs.get("comparator") not in (None, "="):
                operators = {sign: concept for concept, sign in fixed("operators").items()}
                values["operator_concept_id"] = operators[obs["comparator"]]
            if table == "measurement":
                values.update({"range_low": obs.get("lln"), "range_high": obs.get("uln"),
                               "value_source_value": None if number is not None
                               else str(value)[:50]})
            else:
                values["value_as_string"] = None if number is not None else str(value)[:60]
            w.row(table, values)


class _Supplement(_Etl):
    """What the CDM cannot hold, as the supplement's long-table rows."""

    # -- the supplement --------------------------------------------------------------------------
    def supplement(self) -> None:
        rec, rows = self.rec, []

        def add(element: str, value: Any = "", **more: Any) -> None:
            rows.append({"patient": self.person, "element": element, "value": value, **more})

        consent = rec.get("consent") or {}
        if consent.get("icf_signed"):
            add("icf_signed", consent["icf_signed"])
        for (section, name), element in _SUPPLEMENT_FLAGS.items():
            value = (rec.get(section) or {}).get(name)
            if value is not None:
                add(element, "yes" if value else "no")
        extent = (rec.get("diagnosis") or {}).get("extent")
        if extent:
            add("extent", extent)
        if rec.get("recist"):
            add("recist_measurable", "yes" if rec["recist"]["measurable_disease"] else "no",
                date=rec["recist"].get("date"))
        survival = rec.get("expected_survival")
        if survival:
            add("expected_survival", survival["value"], unit=survival.get("unit"),
                date=survival.get("date"))
        for item in rec.get("tumour_measurements") or []:
            add("tumour_measurement", item["sum_of_diameters_mm"], date=item["date"])
        for item in rec.get("lesions") or []:
            size = item.get("longest_diameter_mm", item.get("short_axis_mm"))
            add("lesion", size, code=item["kind"], system=item["method"], site=item.get("site"),
                slice_thickness=item.get("slice_thickness_mm"), date=item.get("date"))
        for therapy in rec.get("prior_therapies") or []:
            if therapy.get("intolerance") is not None:
                for group in self.regimen_names(therapy):
                    add("intolerance", "yes" if therapy["intolerance"] else "no", group=group)
        for section, element in _EMPTY.items():
            if rec.get(section) is not None and self.complete_lists:
                add(element)  # the list is complete: what the CDM holds is all there is
        for row in rows:
            self.w.row("supplement", row)

    def regimen_names(self, therapy: dict) -> list[str]:
        """The names the reader gives the CDM's regimen(s) of a therapy: its episode's, or
        (v5.3, no episodes) each ingredient's."""
        names = [self.coded_term(d, QL.Drug)[1] for d in therapy["drugs"]]
        if self.w.version == "5.4":
            return [therapy.get("name") or " + ".join(names)]
        return [self.w.term.label(h) if (h := self.coded_term(d, QL.Drug)[0]) else n
                for d, n in zip(therapy["drugs"], names, strict=True)]


class RecordEtl(_Treatment, _Results, _Supplement):
    """Writes one record through a :class:`CdmWriter`."""

    def __init__(self, writer: CdmWriter, record: dict, complete_lists: bool = True) -> None:
        self.w, self.rec, self.complete_lists = writer, record, complete_lists
        writer.persons += 1
        self.person = writer.persons
        self.even = self.person % 2 == 0
        self.fallback = _earliest_date(record) or record.get("birth_date") or FALLBACK_DATE
        self.diagnosis_row: int | None = None

    def write(self) -> int:
        self.person_row()
        self.diagnosis()
        self.metastases()
        self.conditions()
        self.therapies()
        self.support()
        self.observations()
        self.supplement()
        return self.person

    # -- the CDM -------------------------------------------------------------------------------
    def person_row(self) -> None:
        rec, w = self.rec, self.w
        genders: dict[str | None, int] = {v: k for k, v in fixed("gender").items()}
        born = str(rec["birth_date"])[:10]
        parts = [int(p) for p in born.split("-")] + [None, None]  # a year, a month: partial
        w.row("person", {"person_id": self.person, "gender_concept_id":
                         genders.get(rec.get("sex"), 0), "year_of_birth": parts[0],
                         "month_of_birth": parts[1], "day_of_birth": parts[2],
                         "birth_datetime": f"{born} 00:00:00" if parts[2] else None,
                         "race_concept_id": 0, "ethnicity_concept_id": 0,
                         "person_source_value": str(rec.get("id", ""))[:50],
                         "gender_source_value": rec.get("sex")})
        w.row("observation_period", {"person_id": self.person,
                                     "observation_period_start_date":
                                         (born + "-01-01")[:10],
                                     "observation_period_end_date": "2026-12-31",
                                     "period_type_concept_id": EHR})
        deceased = rec.get("deceased")
        if isinstance(deceased, str):
            w.row("death", {"person_id": self.person, "death_date": deceased,
                            "death_type_concept_id": EHR})

    def condition(self, value: Any, within, date: str | None, keys: tuple[str, ...],
                  end: str | None = None) -> int:
        """A condition row: coded by the value's code, else the term's first code in one of
        ``keys``'s systems, else unmapped (concept 0, the name as source value)."""
        w = self.w
        hit, name, coding = self.coded_term(value, within)
        concept = 0
        if coding is not None:
            concept = self.concept_for(coding["system"], coding["code"], name, "Condition")
        elif hit is not None:
            found = w.codes.first(hit, *keys)
            if found is not None:
                concept = self.concept_for(found[0], found[1], w.term.label(hit), "Condition")
        return self.new_row("condition_occurrence", {
            "person_id": self.person, "condition_concept_id": concept,
            "condition_start_date": date or self.fallback, "condition_end_date": end,
            "condition_type_concept_id": EHR, "condition_source_value": name[:50],
            "condition_source_concept_id": 0})

    def diagnosis(self) -> None:
        dx = self.rec.get("diagnosis") or {}
        keys = (str(QL.icdO3Morphology), str(QL.snomedCode), str(QL.ncitCode))
        if dx.get("histology") is not None:
            self.diagnosis_row = self.condition(dx["histology"], QL.Neoplasm, dx.get("date"),
                                                keys)
            if self.w.version == "5.4" and self.even:
                self.disease_episode(dx)
        for other in dx.get("other_active_histologies") or []:
            self.condition(other, QL.Neoplasm, dx.get("date"), keys)

    def disease_episode(self, dx: dict) -> None:
        """The same cancer as an oncology-extension disease episode."""
        hit, name, coding = self.coded_term(dx["histology"], QL.Neoplasm)
        found = (coding["system"], coding["code"]) if coding else (
            self.w.codes.first(hit, str(QL.icdO3Morphology)) if hit is not None else None)
        if found is None:
            return
        concept = self.concept_for(found[0], found[1], name, "Condition")
        self.w.row("episode", {"person_id": self.person,
                               "episode_concept_id": mapping()["episodes"]["disease"][0],
                               "episode_start_date": dx.get("date") or self.fallback,
                               "episode_object_concept_id": concept,
                               "episode_type_concept_id": EHR, "episode_source_value": name[:50]})

    def metastases(self) -> None:
        w = self.w
        modifier = mapping()["cancer_modifier"]
        for item in self.rec.get("metastases") or []:
            site = w.term.find_in_phrase(item["site"], QL.AnatomicalSite)
            label = w.term.label(site) if site is not None else item["site"]
            date = item.get("date") or self.fallback
            snomed = str(QL.snomedCode)
            codes = [iri for iri, s in disease_codes().sites.items() if s == site]
            coded = next((w.codes.first(c, snomed) for c in codes if w.codes.first(c, snomed)),
                         None) if site is not None else None
            if coded is None or (self.even and self.diagnosis_row is not None
                                 and not item.get("resolved")):
                concept = w.concept(modifier["vocabulary"], f"QL-MET-{label}"[:50],
                                    f"Metastasis to {label}", "Measurement",
                                    modifier["metastasis_classes"][0])
                linked = w.version == "5.4" and self.diagnosis_row is not None
                w.row("measurement", {
                    "person_id": self.person, "measurement_concept_id": concept,
                    "measurement_date": date, "measurement_type_concept_id": EHR,
                    "measurement_source_value": f"metastasis to {label}"[:50],
                    "measurement_event_id": self.diagnosis_row if linked else None,
                    "meas_event_field_concept_id":
                        mapping()["event_fields"]["condition_occurrence"] if linked else None})
                continue
            concept = self.concept_for("SNOMED-CT", coded[1], f"Metastasis to {label}",
                                       "Condition")
            resolved = item.get("resolved")
            w.row("condition_occurrence", {
                "person_id": self.person, "condition_concept_id": concept,
                "condition_start_date": date, "condition_type_concept_id": EHR,
                "condition_end_date": resolved if isinstance(resolved, str) else None,
                "condition_source_value": f"metastasis to {item['site']}"[:50],
                "condition_source_concept_id": 0})

    def conditions(self) -> None:
        for value in self.rec.get("conditions") or []:
            item = value if isinstance(value, dict) and "condition" in value else None
            resolved = item.get("resolved") if item else None
            self.condition(item["condition"] if item else value, QL.ClinicalCondition,
                           item.get("date") if item else None, (str(QL.snomedCode),),
                           resolved if isinstance(resolved, str) else None)
        for pregnancy in (self.rec.get("reproductive") or {}).get("pregnancies") or []:
            self.pregnancy(pregnancy)

    def pregnancy(self, item: dict) -> None:
        """A pregnancy as a condition (SNOMED CT 77386006 'Pregnant'), to its end if any."""
        w = self.w
        concept = self.concept_for("SNOMED-CT", "77386006", "Pregnant", "Condition")
        w.row("condition_occurrence", {
            "person_id": self.person, "condition_concept_id": concept,
            "condition_start_date": _first_day(item.get("start") or item.get("date"))
                                    or self.fallback,
            "condition_end_date": item.get("end"), "condition_type_concept_id": EHR,
            "condition_source_value": "pregnant", "condition_source_concept_id": 0})

def _first_day(when: str | None) -> str | None:
    """A CDM date for a record's date: its day (an instant's), or a partial date's first day
    (a CDM holds days only: an ETL has to choose one)."""
    return None if not when else (str(when)[:10] + "-01-01"[len(str(when)[:10]) - 4:])[:10]


def _earliest_date(record: dict) -> str | None:
    """The earliest full date a record gives (for CDM dates it does not)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("date", "start", "icf_signed") and isinstance(item, str) \
                        and len(item) == 10:
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk({k: v for k, v in record.items() if k not in ("birth_date", "deceased")})
    return min(found) if found else None


@dataclass
class Written:
    """What :func:`write_cdm` wrote: the file of each table (and ``supplement``), the record
    id of each person_id, and the records it could not write (no birth date: OMOP's
    conventions drop a person without a year of birth)."""

    files: dict[str, Path]
    persons: dict[int, str]
    skipped: list[str]


def write_cdm(records, folder: Path, version: str = "5.4", hierarchy: bool = True,
              complete_lists: bool = True) -> Written:
    """Write records (project JSON dicts) as CDM tables and a supplement (CSV files in
    ``folder``). ``complete_lists``: a list a record holds (even empty) is marked complete in
    the supplement (``no_prior_therapy``...): the CDM cannot say a list is complete."""
    writer = CdmWriter(folder, version, hierarchy)
    persons, skipped = {}, []
    for record in records:
        if not isinstance(record, dict) or not record.get("birth_date"):
            skipped.append(str(record.get("id") if isinstance(record, dict) else record))
            continue
        etl = RecordEtl(writer, record, complete_lists)
        persons[etl.write()] = str(record.get("id"))
    return Written(writer.close(), persons, skipped)
