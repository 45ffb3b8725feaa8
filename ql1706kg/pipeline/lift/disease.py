"""Lift the disease: the diagnosis typed by its histology class, metastases, conditions, prior
therapies with their drugs, tumour measurements and lesions.
"""

from __future__ import annotations

from rdflib import Literal, URIRef

from ...inputs.fhir.disease_observations import find_disease_term, primary_behaviour
from ...inputs.models import Coded, Condition
from ...protocol.namespaces import QL, RDF, RDFS
from ...protocol.terminology import looks_like_icdo3
from ..literals import boolean, dec, when
from .base import LiftBase

_EXTENT = {"metastatic": QL.Metastatic, "locally_advanced": QL.LocallyAdvanced,
           "localised": QL.Localised}
_METHOD = {"CT": QL.CT, "MRI": QL.MRI, "caliper": QL.Caliper, "chest_x_ray": QL.ChestXRay,
           "ultrasound": QL.Ultrasound, "PET": QL.PET, "other": QL.OtherImagingMethod}


class DiseaseLifter(LiftBase):
    """Diagnosis, history and disease measurements."""

    def lift_diagnosis(self) -> None:
        dx = self.record.diagnosis
        if dx is None:
            return
        node = self.node("diagnosis")
        self.add(self.patient, QL.hasDiagnosis, node)
        self.add(node, RDF.type, QL.SarcomaDiagnosis)
        histology = QL.Neoplasm  # none recorded: it may be any
        if dx.histology is not None:
            histology = self.type_histology(node, dx.histology)
        self.scope_histology(node, histology)
        if dx.confirmed_at_this_institution is not None:
            self.add(node, QL.confirmedAtThisInstitution, boolean(dx.confirmed_at_this_institution))
        if dx.extent:
            self.add(node, QL.diseaseExtent, _EXTENT[dx.extent])
        if dx.resectable is not None:
            self.add(node, QL.resectable, boolean(dx.resectable))
        if dx.date:
            self.add(node, QL.effectiveDate, when(dx.date))
        for i, other in enumerate(dx.other_active_histologies or ()):
            self.lift_other_active_cancer(i + 1, other)

    def histology_term(self, histology: str | Coded) -> tuple[str, URIRef | None, bool]:
        """What was written, the histology term it names (by a code of the shared reference or
        one of the ontology's FHIR codings, else by its display) and whether it is an ICD-O-3
        morphology code (a metastatic-site /6 or uncertain /9 behaviour read as the primary)."""
        if isinstance(histology, Coded):
            written = f"{histology.system} {histology.code}"
            hit = find_disease_term(self.term, histology.system, histology.code, QL.Neoplasm)
            if hit is None and histology.display:
                hit = self.term.find(histology.display, QL.Neoplasm)
            is_icdo3 = "icd" in histology.system.casefold() and looks_like_icdo3(
                primary_behaviour(histology.code))
            return written, hit, is_icdo3
        return histology, self.term.find(histology, QL.Neoplasm), looks_like_icdo3(
            primary_behaviour(histology))

    def type_histology(self, node: URIRef, histology: str | Coded) -> URIRef:
        """Type the diagnosis by its histology class and every superclass of it; return the
        class."""
        written, hit, is_icdo3 = self.histology_term(histology)
        self.add(node, QL.histologyText, Literal(written))
        if hit is None:
            # Only a histology the terminology knows is in or outside the protocol's set: a
            # well-formed ICD-O-3 morphology code it does not list (a newer edition's, a
            # typing slip, a code a protocol folder's terminology left out) may be any
            # histology, so the histology criteria are unknown, with the code named; so is
            # free text the terminology cannot read. Never "another histology" (not_met).
            hit = QL.UnlistedHistologyCode if is_icdo3 else QL.UnrecognisedHistology
            self.add(node, RDF.type, hit)
            if hit != QL.UnrecognisedHistology:
                self.add(node, RDF.type, QL.UnrecognisedHistology)
            return hit
        self.add(node, RDF.type, hit)
        for cls in self.term.types.get(hit, ()):
            self.add(node, RDF.type, cls)
        return hit

    def scope_histology(self, node: URIRef, histology: URIRef) -> None:
        """Say which histology-dependent criteria apply to the diagnosis, or may (the
        criteria's ql:appliesToHistology read over the terminology: Terminology.scope_of); a
        criterion not named does not apply to it."""
        for cid, scope in sorted(self.term.scope_of(histology).items()):
            prop = QL.histologyInScopeOf if scope == "in" else QL.histologyPossiblyInScopeOf
            self.add(node, prop, self.term.criteria[cid]["iri"])

    def lift_other_active_cancer(self, index: int, histology: str | Coded) -> None:
        """Another current primary cancer (the histology criterion unknown until the one under
        study is confirmed), named in the explanation by its histology as recorded and as
        classified."""
        written, hit, _ = self.histology_term(histology)
        node = self.node("other-active-cancer", index)
        self.add(self.patient, QL.hasOtherActivePrimaryCancer, node)
        self.add(node, RDF.type, QL.OtherActivePrimaryCancer)
        name = self.term.label(hit) if hit is not None else "unrecognised histology"
        shown = name if name.casefold() == written.casefold() else f"{name} (recorded as "\
            f"'{written}')"
        self.add(node, RDFS.label, Literal(f"another current primary cancer: {shown}"))

    def lift_history(self) -> None:
        r = self.record
        if r.metastases is not None:
            self.add(self.patient, QL.metastasesRecorded, boolean(True))
            for i, met in enumerate(r.metastases):
                node = self.node("metastasis", i + 1)
                self.add(self.patient, QL.hasMetastasis, node)
                self.add(node, RDF.type, QL.Metastasis)
                self.add(node, QL.site, self.term_ref(met.site, QL.AnatomicalSite, "site",
                                                      QL.AnatomicalSite, in_phrase=True))
                if met.date:
                    self.add(node, QL.effectiveDate, when(met.date))
                self.lift_resolution(node, met.resolved)
        if r.conditions is not None:
            for i, cond in enumerate(r.conditions):
                if not isinstance(cond, Condition):
                    self.add(self.patient, QL.hasCondition, self.term_ref(
                        cond, QL.ClinicalCondition, "condition", QL.UnrecognisedCondition))
                    continue
                # dated or resolved: derive decides whether it holds on the assessment date
                node = self.node("condition", i + 1)
                self.add(self.patient, QL.hasConditionRecord, node)
                self.add(node, RDF.type, QL.ConditionRecord)
                self.add(node, QL.condition, self.term_ref(
                    cond.condition, QL.ClinicalCondition, "condition", QL.UnrecognisedCondition))
                if cond.date:
                    self.add(node, QL.effectiveDate, when(cond.date))
                self.lift_resolution(node, cond.resolved)
        if r.prior_therapies is not None:
            self.add(self.patient, QL.priorTherapyRecorded, boolean(True))
            for i, therapy in enumerate(r.prior_therapies):
                node = self.node("therapy", i + 1)
                self.add(self.patient, QL.hadPriorTherapy, node)
                self.add(node, RDF.type, QL.TherapyCourse)
                if therapy.name:
                    self.add(node, RDFS.label, Literal(therapy.name))
                for drug in therapy.drugs:
                    self.add(node, QL.includesDrug, self.term_ref(drug, QL.Drug, "drug",
                                                                  QL.UnrecognisedDrug))
                self.lift_course(node, therapy)
                if therapy.intolerance is not None:
                    self.add(node, QL.stoppedForIntolerance, boolean(therapy.intolerance))
                if therapy.setting:
                    self.lift_setting(node, therapy.setting)

    def lift_setting(self, node: URIRef, written: str) -> None:
        """The therapy's setting, by the word the protocol's ontology gives it; a word it does
        not name is kept as written and decides no setting."""
        setting = self.term.settings.by_key.get(written.strip().casefold())
        if setting is not None:
            self.add(node, QL.therapySetting, setting)
        else:
            self.add(node, QL.settingAsWritten, Literal(written))

    def lift_disease_measurements(self) -> None:
        r = self.record
        for i, m in enumerate(r.tumour_measurements or ()):
            node = self.node("tumour-measurement", i + 1)
            self.add(self.patient, QL.hasTumourMeasurement, node)
            self.add(node, RDF.type, QL.TumourMeasurement)
            self.add(node, QL.effectiveDate, when(m.date))
            self.add(node, QL.sumOfDiametersMm, dec(m.sum_of_diameters_mm))
        for i, lesion in enumerate(r.lesions or ()):
            node = self.node("lesion", i + 1)
            self.add(self.patient, QL.hasLesion, node)
            kind = QL.NodalLesion if lesion.kind == "lymph_node" else QL.NonNodalLesion
            self.add(node, RDF.type, kind)
            self.add(node, RDF.type, QL.Lesion)
            self.add(node, QL.imagingMethod, _METHOD[lesion.method])
            for prop, value in ((QL.longestDiameterMm, lesion.longest_diameter_mm),
                                (QL.shortAxisMm, lesion.short_axis_mm),
                                (QL.sliceThicknessMm, lesion.slice_thickness_mm)):
                if value is not None:
                    self.add(node, prop, dec(value))
            self.add(node, QL.previouslyIrradiated, boolean(lesion.previously_irradiated))
            if lesion.site:
                self.add(node, QL.site, self.term_ref(lesion.site, QL.AnatomicalSite, "site",
                                                      QL.AnatomicalSite, in_phrase=True))
            if lesion.date:
                self.add(node, QL.effectiveDate, when(lesion.date))
        if r.recist is not None:
            self.add(self.patient, QL.investigatorReportsMeasurableDisease,
                     boolean(r.recist.measurable_disease))
