"""A second, independent JSON-record -> OMOP CDM v5.4 converter, for tests only.

Written without reading the project's own converter (ql1706kg/inputs/omop/etl.py) so that it makes
the choices another site's ETL would: the reader must give the JSON outcomes whatever a
legitimate ETL chose. It follows the OHDSI conventions (CommonDataModel v5.4 user guide, THEMIS)
and varies, person by person, what they leave open:

* drugs as RxNorm clinical or branded drugs (never the ingredient), one row per administration
  or dispensing, linked to their ingredient through concept_ancestor and concept_relationship;
  drug_source_value free text; quantity and days_supply present or NULL; end date from
  verbatim_end_date or days_supply (THEMIS); a drug RxNorm lacks as concept 0 (source text only);
* cancers as SNOMED CT disorders with the ICD-O-3 pair as source concept, or as the ICDO3
  concept itself with ICD-10-CM as source, or unmapped (the ICD-O-3 pair in
  condition_source_value only); metastases as SNOMED CT with ICD-10-CM source, or as Cancer
  Modifier measurements;
* results in other, equivalent UCUM units (mg/dL creatinine and bilirubin, g/dL haemoglobin and
  albumin, /mm3 counts, ukat/L enzymes) with range_low/range_high converted alike, sometimes
  unit_concept_id 0 with only unit_source_value; bounds as operator_concept_id; qualitative
  results as value concepts; ECOG in measurement or observation, as a number or a LOINC answer;
* visits, observation periods, varied type concepts;
* what the CDM cannot hold in the site supplement (the long table of docs/inputs/tables.md).

Concept ids are OMOP's where they were checked (the vendored Synthea27Nj vocabulary, the fixed
ids of docs/omop.md); others are site-local (>= 2,000,000,000, as the CDM reserves for them).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .omop_independent_codes import (
    ANSWERS,
    CLAIM,
    DRUGS,
    ECOG_ANSWERS,
    EHR,
    EHR_EPISODE,
    GENDER,
    HISTOLOGY,
    LAB,
    METASTASIS,
    OPERATORS,
    REGISTRY,
    SPELLINGS,
    TESTS,
    TRANSFUSION,
    UCUM_UNITS,
    UNIT_ALIASES,
)
from .omop_independent_load import supplement, write_duckdb, write_postgres

__all__ = ["Cdm", "convert", "write_duckdb", "write_postgres"]
LOCAL = 2_000_000_000


@dataclass
class Cdm:
    """The tables being written: name -> list of row dicts; the vocabulary by key."""
    tables: dict[str, list[dict]] = field(default_factory=dict)
    concepts: dict[tuple[str, str], int] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)
    supplement: list[dict] = field(default_factory=list)
    persons: dict[int, str] = field(default_factory=dict)
    written: tuple = ()  # (url, supplement) once written
    folder: object = None  # where write_duckdb wrote the tables' CSV files

    def add(self, table: str, **row) -> int:
        rows = self.tables.setdefault(table, [])
        ident = self.next_id.get(table, 1)
        self.next_id[table] = ident + 1
        if f"{table}_id" not in row and table not in ("death", "concept_ancestor",
                                                      "concept_relationship", "episode_event"):
            row[f"{table}_id"] = ident
        rows.append(row)
        return ident

    def concept(self, vocabulary: str, code: str, name: str, domain: str, klass: str,
                standard: str | None = "S", concept_id: int | None = None) -> int:
        key = (vocabulary, code)
        if key in self.concepts:
            return self.concepts[key]
        cid = concept_id or LOCAL + len(self.concepts) + 1
        self.concepts[key] = cid
        self.add("concept", concept_id=cid, concept_name=name, domain_id=domain,
                 vocabulary_id=vocabulary, concept_class_id=klass, standard_concept=standard,
                 concept_code=code, valid_start_date="1970-01-01", valid_end_date="2099-12-31")
        return cid

    def relate(self, one: int, two: int, relationship: str, back: str) -> None:
        for a, b, r in ((one, two, relationship), (two, one, back)):
            self.add("concept_relationship", concept_id_1=a, concept_id_2=b, relationship_id=r,
                     valid_start_date="1970-01-01", valid_end_date="2099-12-31")

    def ancestor(self, ancestor: int, descendant: int, levels: int) -> None:
        self.add("concept_ancestor", ancestor_concept_id=ancestor,
                 descendant_concept_id=descendant, min_levels_of_separation=levels,
                 max_levels_of_separation=levels)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(str(text)[:10])


def _bound(value) -> tuple[str | None, object]:
    """'<1.5' -> ('<', 1.5); a comparator field is read by the caller."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(<=|>=|<|>|≤|≥)\s*([0-9.]+)\s*", value)
        if match:
            op = {"≤": "<=", "≥": ">="}.get(match[1], match[1])
            return op, float(match[2])
    return None, value


def _full(text) -> str | None:
    """A date as the CDM needs it: a month or year alone becomes its first day (what an ETL
    does; records whose outcome hinges on that day are not converted)."""
    if not text:
        return None
    text = str(text)[:10]
    return text + "-01" * (3 - len(text.split("-")))


def _name(value) -> str:
    return value if isinstance(value, str) else (value.get("display") or value.get("code"))


class Converter:
    """One record at a time into the CDM; ``variant`` picks each person's legitimate choices."""

    def __init__(self, cdm: Cdm, as_of: str) -> None:
        self.cdm, self.as_of = cdm, day(as_of)
        self._ingredients: dict[str, int] = {}
    # -- vocabulary ------------------------------------------------------------------------------
    def ingredient(self, drug: str) -> int:
        rxnorm, _, _, _ = DRUGS[drug]
        cid = self.cdm.concept("RxNorm", rxnorm, drug, "Drug", "Ingredient")
        if drug not in self._ingredients:
            self._ingredients[drug] = cid
            self.cdm.ancestor(cid, cid, 0)
        return cid

    def product(self, drug: str, branded: bool) -> int:
        """A clinical (SCD) or branded (SBD) drug under the ingredient."""
        rxnorm, scd, brand, _ = DRUGS[drug]
        ing = self.ingredient(drug)
        clinical = self.cdm.concept("RxNorm", f"{rxnorm}-scd", scd, "Drug", "Clinical Drug")
        if (ing, clinical) not in getattr(self, "_linked", set()):
            self._linked = getattr(self, "_linked", set()) | {(ing, clinical)}
            self.cdm.ancestor(ing, clinical, 1)
            self.cdm.ancestor(clinical, clinical, 0)
            self.cdm.relate(clinical, ing, "RxNorm has ing", "RxNorm ing of")
        if not branded or not brand:
            return clinical
        sbd = self.cdm.concept("RxNorm", f"{rxnorm}-sbd", f"{scd} [{brand}]", "Drug",
                               "Branded Drug")
        if (ing, sbd) not in self._linked:
            self._linked |= {(ing, sbd)}
            self.cdm.ancestor(ing, sbd, 2)
            self.cdm.ancestor(clinical, sbd, 1)
            self.cdm.ancestor(sbd, sbd, 0)
            self.cdm.relate(sbd, clinical, "Tradename of", "Has tradename")
        return sbd

    def unit(self, ucum: str) -> int:
        return self.cdm.concept("UCUM", ucum, ucum, "Unit", "Unit", concept_id=UCUM_UNITS.get(ucum))

    # -- sections --------------------------------------------------------------------------------
    def person(self, pid: int, record: dict, variant: int) -> None:
        birth = str(record["birth_date"])
        parts = [int(p) for p in birth[:10].split("-")]
        full = len(parts) == 3
        gender = GENDER.get(record.get("sex"), 0) if variant % 5 != 4 else 0  # 0: source only
        self.cdm.add("person", person_id=pid, gender_concept_id=gender,
                     year_of_birth=parts[0], month_of_birth=parts[1] if len(parts) > 1 else None,
                     day_of_birth=parts[2] if full and variant % 2 else None,
                     birth_datetime=f"{birth[:10]} 00:00:00" if full and variant % 2 == 0 else None,
                     race_concept_id=0, ethnicity_concept_id=0,
                     person_source_value=f"MRN{pid:07d}",
                     gender_source_value={"male": "M", "female": "F"}.get(record.get("sex")))

    def diagnosis(self, pid: int, record: dict, variant: int, start: dt.date) -> None:
        diagnosis = record.get("diagnosis") or {}
        histology = diagnosis.get("histology")
        if histology is None:
            return
        if isinstance(histology, dict) and "snomed" in histology.get("system", ""):
            # a SNOMED CT morphology as the EHR coded it: the condition in SNOMED CT only
            concept = self.cdm.concept("SNOMED", histology["code"], "Leiomyosarcoma",
                                       "Observation", "Morph Abnormality")
            self.cdm.add("condition_occurrence", person_id=pid, condition_concept_id=concept,
                         condition_start_date=_full(diagnosis.get("date")) or start.isoformat(),
                         condition_type_concept_id=EHR, condition_source_value=histology["code"],
                         condition_source_concept_id=concept)
            return
        if isinstance(histology, dict) and histology.get("system") == "ICD-O-3":
            morphology, snomed, icd10 = histology["code"], None, "C49.9"
        else:
            morphology, snomed, icd10 = HISTOLOGY[_name(histology).lower()]
        pair = f"{morphology}-{icd10}"  # OMOP's ICDO3 concept code: histology-topography
        icdo3 = self.cdm.concept("ICDO3", pair, f"{_name(histology)} of {icd10}", "Condition",
                                 "ICDO Condition")
        when = day(diagnosis["date"]) if diagnosis.get("date") else start
        choice = variant % 3
        if choice == 0 and snomed:  # SNOMED CT standard, ICD-O-3 source
            concept = self.cdm.concept("SNOMED", snomed, _name(histology), "Condition",
                                       "Clinical Finding")
            self.cdm.relate(icdo3, concept, "Maps to", "Mapped from")
            source, text = icdo3, pair
        elif choice == 2:  # unmapped: the pair in the source value only
            concept, source, text = 0, 0, pair
        else:  # ICDO3 standard, ICD-10-CM source
            concept = icdo3
            source = self.cdm.concept("ICD10CM", icd10, f"Malignant neoplasm {icd10}",
                                      "Condition", "4-char billing code", standard=None)
            self.cdm.relate(source, icdo3, "Maps to", "Mapped from")
            text = icd10
        if variant % 4 == 1:  # the oncology extension's disease episode too
            self.cdm.add("episode", person_id=pid, episode_concept_id=32528,
                         episode_start_date=when.isoformat(), episode_object_concept_id=icdo3,
                         episode_type_concept_id=EHR_EPISODE, episode_source_value=pair)
        self.cdm.add("condition_occurrence", person_id=pid, condition_concept_id=concept,
                     condition_start_date=when.isoformat(),
                     condition_type_concept_id=(EHR, CLAIM, REGISTRY)[variant % 3],
                     condition_status_concept_id=32902,  # primary diagnosis
                     condition_source_value=text, condition_source_concept_id=source)

    def metastases(self, pid: int, record: dict, variant: int) -> None:
        for number, item in enumerate(record.get("metastases") or []):
            site = _name(item["site"]).lower()
            snomed, icd10, modifier = METASTASIS[site]
            when = _full(item.get("date")) or self.as_of.isoformat()
            end = _full(item["resolved"]) if isinstance(item.get("resolved"), str) else None
            if (variant + number) % 3 == 2 and not end:  # Cancer Modifier measurement
                concept = self.cdm.concept("Cancer Modifier", f"OMOP-{site}-met", modifier,
                                           "Measurement", "Metastasis")
                self.cdm.add("measurement", person_id=pid, measurement_concept_id=concept,
                             measurement_date=when[:10], measurement_type_concept_id=REGISTRY,
                             measurement_source_value=modifier, value_as_concept_id=None)
                continue
            source = self.cdm.concept("ICD10CM", icd10, f"Secondary malignant neoplasm {icd10}",
                                      "Condition", "5-char billing code", standard=None)
            concept = (self.cdm.concept("SNOMED", snomed,
                                        f"Metastatic malignant neoplasm to {site}",
                                        "Condition", "Clinical Finding") if snomed else source)
            if snomed:
                self.cdm.relate(source, concept, "Maps to", "Mapped from")
            if (variant + number) % 3 == 1:  # not mapped: the ICD-10-CM code as written only
                concept = source = 0
            self.cdm.add("condition_occurrence", person_id=pid, condition_concept_id=concept,
                         condition_start_date=when[:10], condition_end_date=end,
                         condition_type_concept_id=EHR, condition_source_value=icd10,
                         condition_source_concept_id=source)

    def conditions(self, pid: int, record: dict) -> None:
        for item in record.get("conditions") or []:
            if _name(item).lower() in ("gilbert syndrome", "gilbert's syndrome"):
                concept = self.cdm.concept("SNOMED", "27503000", "Gilbert's syndrome",
                                           "Condition", "Clinical Finding")
                source = self.cdm.concept("ICD10CM", "E80.4", "Gilbert syndrome", "Condition",
                                          "4-char billing code", standard=None)
                self.cdm.add("condition_occurrence", person_id=pid, condition_concept_id=concept,
                             condition_start_date="2010-01-01", condition_type_concept_id=EHR,
                             condition_source_value="E80.4", condition_source_concept_id=source)

    def pregnancies(self, pid: int, record: dict) -> None:
        for item in (record.get("reproductive") or {}).get("pregnancies") or []:
            concept = self.cdm.concept("SNOMED", "77386006", "Pregnant", "Condition",
                                       "Clinical Finding")
            self.cdm.add("condition_occurrence", person_id=pid, condition_concept_id=concept,
                         condition_start_date=_full(item.get("start")),
                         condition_end_date=None if item.get("ongoing") else _full(item.get("end")),
                         condition_type_concept_id=EHR, condition_source_value="Z33.1")

    def therapies(self, pid: int, record: dict, variant: int) -> None:
        for number, therapy in enumerate(record.get("prior_therapies") or []):
            start = day(therapy["start"])
            end = day(therapy["end"]) if therapy.get("end") else self.as_of
            exposures = []
            for drug in therapy["drugs"]:
                exposures += self.exposures(pid, _name(drug).lower(), start, end,
                                            variant + number)
            if variant % 2 and len(therapy["drugs"]) > 1:  # a regimen episode (oncology ext.)
                regimen = self.cdm.concept("HemOnc", f"regimen-{therapy['name']}",
                                           therapy["name"], "Regimen", "Regimen")
                episode = self.cdm.add(
                    "episode", person_id=pid, episode_concept_id=32531,
                    episode_start_date=start.isoformat(), episode_end_date=end.isoformat(),
                    episode_object_concept_id=regimen, episode_type_concept_id=EHR_EPISODE,
                    episode_source_value=therapy["name"])
                for exposure in exposures:
                    self.cdm.add("episode_event", episode_id=episode, event_id=exposure,
                                 episode_event_field_concept_id=1147094)

    def exposures(self, pid: int, drug: str, start: dt.date, end: dt.date,
                  variant: int) -> list[int]:
        """Administrations every 21 days (parenteral, the last on the course's end) or 30-day
        dispensings (oral, the last ending on the course's end); days_supply NULL or given."""
        known = drug in DRUGS
        parenteral = DRUGS[drug][3] if known else True
        concept = self.product(drug, branded=variant % 2 == 1) if known else 0
        if variant % 7 == 3:  # not mapped: the source text only, as the pharmacy wrote it
            concept = 0
        step = dt.timedelta(days=21 if parenteral else 30)
        starts = []
        when = start
        while when < end:
            starts.append(when)
            when += step
        if parenteral or not starts:
            starts = [*starts, end] if not starts or starts[-1] != end else starts
        out = []
        for when in starts:
            last = when if parenteral else min(when + step - dt.timedelta(days=1), end)
            supply = (last - when).days + 1 if (not parenteral or variant % 3) else None
            out.append(self._exposure(pid, drug, concept, when, last, supply, variant))
        return out

    def _exposure(self, pid: int, drug: str, concept: int, start: dt.date, end: dt.date,
                  supply: int | None, variant: int) -> int:
        verbatim = end.isoformat() if variant % 4 == 0 else None
        return self.cdm.add(
            "drug_exposure", person_id=pid, drug_concept_id=concept,
            drug_exposure_start_date=start.isoformat(), drug_exposure_end_date=end.isoformat(),
            verbatim_end_date=verbatim, drug_type_concept_id=(EHR, CLAIM, 32838)[variant % 3],
            quantity=None if variant % 2 else 1, days_supply=supply,
            drug_source_value=(f"Inj. {drug.title()} {variant % 9 + 1}0 mg IV" if variant % 2
                               else f"{drug} {variant % 9 + 1}0 mg")[:50],
            drug_source_concept_id=0)

    def support(self, pid: int, record: dict, variant: int) -> None:
        for item in record.get("supportive_care") or []:
            product = _name(item["product"]).lower()
            start = _full(item.get("date") or item.get("start"))
            # an ongoing course ends, in the CDM, on the day the data were extracted
            end = _full(item.get("date") or item.get("end")) or (
                self.as_of.isoformat() if item.get("ongoing") else start)
            if product in TRANSFUSION:
                snomed, pcs = TRANSFUSION[product]
                concept = self.cdm.concept("SNOMED", snomed, product, "Procedure", "Procedure")
                source = self.cdm.concept("ICD10PCS", pcs, product, "Procedure", "ICD10PCS",
                                          standard=None)
                self.cdm.relate(source, concept, "Maps to", "Mapped from")
                self.cdm.add("procedure_occurrence", person_id=pid, procedure_concept_id=concept,
                             procedure_date=start[:10], procedure_end_date=end[:10],
                             procedure_type_concept_id=EHR, procedure_source_value=pcs,
                             procedure_source_concept_id=source)
                continue
            concept = self.product(product, branded=variant % 2 == 0)
            self.cdm.add("drug_exposure", person_id=pid, drug_concept_id=concept,
                         drug_exposure_start_date=start[:10], drug_exposure_end_date=end[:10],
                         drug_type_concept_id=EHR, days_supply=(day(end) - day(start)).days + 1,
                         drug_source_value=f"{product} SC", drug_source_concept_id=0)

    def results(self, pid: int, record: dict, variant: int) -> None:
        ranges = variant % 11 != 5  # else a laboratory feed without reference ranges
        for number, item in enumerate(record.get("observations") or []):
            self.result(pid, item, variant + number, ranges)

    def result(self, pid: int, item: dict, variant: int, ranges: bool = True) -> None:
        test = item["test"]
        loinc, known_id, units = TESTS[test]
        concept = self.cdm.concept("LOINC", loinc, test, "Measurement",
                                   "Clinical Observation" if test in ("ECOG", "LVEF", "weight")
                                   else "Lab Test", concept_id=known_id)
        when = str(item.get("date") or self.as_of.isoformat())
        op, value = _bound(item["value"])
        op = item.get("comparator", op)
        row = {"person_id": pid, "measurement_concept_id": concept,
               "measurement_date": when[:10],
               "measurement_datetime": when.replace("T", " ")[:19] if "T" in when else None,
               "measurement_type_concept_id": (LAB, EHR)[variant % 2],
               "measurement_source_value": f"{test} ({loinc})"[:50],
               "measurement_source_concept_id": 0,
               "visit_occurrence_id": self.visit(pid, when[:10])}
        if test == "ECOG":
            return self.ecog(row, value, variant)
        if isinstance(value, str):
            answer = ANSWERS[value.lower()]
            row["value_as_concept_id"] = self.cdm.concept(
                answer[0], answer[1], answer[2], "Meas Value", "Qualifier Value",
                concept_id=answer[3])
            row["value_source_value"] = value
            if variant % 5 == 2:  # the result not mapped: its text only
                row["value_as_concept_id"] = 0
            self.cdm.add("measurement", **row)
            return
        unit = UNIT_ALIASES.get(item.get("unit"), item.get("unit"))
        factor = 1.0
        given = dict(units)
        if unit in given:  # this unit or another, equivalent one
            names = [name for name, _ in units]
            other = names[(names.index(unit) + variant) % len(names)]
            factor = given[other] / given[unit]
            unit = other

        def scale(number):  # a laboratory's three decimals (DuckDB's NUMERIC keeps three)
            return None if number is None else round(float(number) * factor, 3)
        row.update(value_as_number=scale(value), range_high=scale(item.get("uln")),
                   range_low=scale(item.get("lln")),
                   operator_concept_id=OPERATORS.get(op), value_source_value=str(item["value"]))
        if not ranges:
            row.update(range_high=None, range_low=None)
        if op and variant % 3 == 0:  # the bound left as text: no number, no operator
            row.update(value_as_number=None, operator_concept_id=None,
                       value_source_value=f"{op}{scale(value):g}")
        if unit and variant % 4 == 3:  # unmapped unit: the source text only
            row.update(unit_concept_id=0, unit_source_value=SPELLINGS.get(unit, unit))
        elif unit in UCUM_UNITS:
            row.update(unit_concept_id=self.unit(unit), unit_source_value=unit)
        elif unit:  # a spelling no UCUM concept has: as written
            row.update(unit_concept_id=0, unit_source_value=unit)
        self.cdm.add("measurement", **row)

    def ecog(self, row: dict, value, variant: int) -> None:
        """ECOG in measurement or observation, as a number or a LOINC answer."""
        table = "observation" if variant % 2 else "measurement"
        if variant % 3 == 1:
            code = ECOG_ANSWERS[int(value)]
            answer = {"value_as_concept_id": self.cdm.concept(
                "LOINC", code, f"ECOG {int(value)}", "Meas Value", "Answer")}
        else:
            answer = {"value_as_number": float(value)}
        if table == "measurement":
            self.cdm.add(table, **row, **answer)
            return
        self.cdm.add(table, person_id=row["person_id"],
                     observation_concept_id=row["measurement_concept_id"],
                     observation_date=row["measurement_date"], observation_type_concept_id=EHR,
                     observation_source_value="ECOG PS", **answer)

    def visit(self, pid: int, when: str) -> int:
        key = (pid, when)
        visits = getattr(self, "_visits", {})
        if key not in visits:
            visits[key] = self.cdm.add("visit_occurrence", person_id=pid,
                                       visit_concept_id=9202,  # outpatient visit
                                       visit_start_date=when, visit_end_date=when,
                                       visit_type_concept_id=EHR)
            self._visits = visits
        return visits[key]

    def specimens(self, pid: int, record: dict, variant: int) -> bool:
        """Samples as specimen rows for some persons (else only in the supplement)."""
        samples = record.get("samples") or {}
        if variant % 3 or not samples or not all(samples.values()):
            return False
        kinds = {"tumour_tissue": ("119376003", "Tissue specimen"),
                 "blood": ("119297000", "Blood specimen")}
        for key, (code, name) in kinds.items():
            if samples.get(key):
                concept = self.cdm.concept("SNOMED", code, name, "Specimen", "Specimen")
                self.cdm.add("specimen", person_id=pid, specimen_concept_id=concept,
                             specimen_type_concept_id=EHR, specimen_date="2026-10-01")
        return True


def convert(records: list[dict], as_of: str, first_id: int = 501) -> Cdm:
    """The records as CDM rows (person ids first_id, first_id + 7, ...)."""
    cdm = Cdm()
    converter = Converter(cdm, as_of)
    for index, record in enumerate(records):
        pid = first_id + 7 * index
        cdm.persons[pid] = str(record["id"])
        variant = index
        dates = sorted(_full(v) for v in _dates(record))
        start = day(dates[0]) if dates else day(as_of) - dt.timedelta(days=365)
        converter.person(pid, record, variant)
        if isinstance(record.get("deceased"), str):  # a death date (a bare true: no row)
            cdm.add("death", person_id=pid, death_date=_full(record["deceased"]),
                    death_type_concept_id=EHR)
        cdm.add("observation_period", person_id=pid,
                observation_period_start_date=min(start, day(as_of)).isoformat(),
                observation_period_end_date=as_of, period_type_concept_id=EHR)
        converter.diagnosis(pid, record, variant, start)
        converter.metastases(pid, record, variant)
        converter.conditions(pid, record)
        converter.pregnancies(pid, record)
        converter.therapies(pid, record, variant)
        converter.support(pid, record, variant)
        converter.results(pid, record, variant)
        specimens = converter.specimens(pid, record, variant)
        cdm.supplement += supplement(pid, record, specimens)
    return cdm


def _dates(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("date", "start", "end") and isinstance(item, str) and item[:4].isdigit():
                yield item
            else:
                yield from _dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dates(item)
