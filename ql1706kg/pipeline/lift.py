"""Lift a patient record to RDF in the ontology's terms. Pure: no file I/O, no derivation.

Names and codes are resolved to ontology terms through the cached terminology, and every
referenced term brings its types from the precomputed OWL-RL closure into the patient graph
(pitfalls.md: "merge a precomputed closure yourself"). Shapes can then test class membership
(a PD-1 inhibitor is a checkpoint inhibitor) without per-patient reasoning. A name the
terminology cannot classify becomes an ``Unrecognised*`` node that keeps the text, so the
criteria that depend on it are ``unknown`` and the explanation can name it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from rdflib import Literal, URIRef

from ..inputs.models import Coded, PatientRecord
from ..protocol.namespaces import QL, QLP, RDF, RDFS
from ..protocol.terminology import Terminology, looks_like_icdo3, terminology
from .graph import PatientGraph
from .literals import boolean, d, dec, text

_SEX = {"female": QL.Female, "male": QL.Male, "other": QL.OtherSex, "unknown": QL.UnknownSex}
_EXTENT = {"metastatic": QL.Metastatic, "locally_advanced": QL.LocallyAdvanced,
           "localised": QL.Localised}
_METHOD = {"CT": QL.CT, "MRI": QL.MRI, "caliper": QL.Caliper, "chest_x_ray": QL.ChestXRay,
           "ultrasound": QL.Ultrasound, "PET": QL.PET, "other": QL.OtherImagingMethod}


def patient_iri(patient_id: str) -> URIRef:
    """Return the stable IRI of a patient."""
    return QLP[quote(patient_id, safe="")]


def lift(record: PatientRecord, source: str | None = None,
         term: Terminology | None = None) -> PatientGraph:
    """Return the RDF graph of one patient record."""
    return _Lifter(record, term or terminology()).run(source)


class _Lifter:
    """One record's lifting; a class only to share the graph and the patient IRI."""

    def __init__(self, record: PatientRecord, term: Terminology) -> None:
        self.record, self.term = record, term
        self.graph = PatientGraph()
        self.patient = patient_iri(record.id)
        self._typed: set[URIRef] = set()

    def node(self, *parts: object) -> URIRef:
        return URIRef(f"{self.patient}/" + "/".join(str(p) for p in parts))

    def add(self, s, p, o) -> None:
        if o is not None:
            self.graph.add((s, p, o))

    def term_ref(self, value: str | Coded, within: URIRef, kind: str,
                 fallback: URIRef, in_phrase: bool = False) -> URIRef:
        """Resolve a name or code to a term; bring its closure types; else an unrecognised node.

        ``in_phrase`` lets a known name inside a longer phrase count ("liver segment VII").
        """
        find = self.term.find_in_phrase if in_phrase else self.term.find
        if isinstance(value, Coded):
            hit = self.term.find_code(value.system, value.code, within)
            written = f"{value.system} {value.code}" + (
                f" ({value.display})" if value.display else "")
            if hit is None and value.display:
                hit = find(value.display, within)
        else:
            hit, written = find(value, within), value
        if hit is not None:
            self.copy_types(hit)
            return hit
        slug = hashlib.sha1(written.encode()).hexdigest()[:10]
        unknown = URIRef(f"{self.patient}/{kind}/{slug}")
        self.graph.add((unknown, RDF.type, fallback))
        self.graph.add((unknown, RDFS.label, Literal(written)))
        return unknown

    def copy_types(self, iri: URIRef) -> None:
        if iri in self._typed:
            return
        self._typed.add(iri)
        for cls in self.term.types.get(iri, ()):
            self.graph.add((iri, RDF.type, cls))
        label = self.term.labels.get(iri)
        if label:
            self.graph.add((iri, RDFS.label, text(label)))

    def run(self, source: str | None) -> PatientGraph:
        r, p = self.record, self.patient
        self.add(p, RDF.type, QL.Patient)
        self.add(p, QL.patientId, Literal(r.id))
        if source:
            self.add(p, QL.sourceFile, Literal(source))
        if r.sex:
            self.add(p, QL.sex, _SEX[r.sex])
        if r.birth_date:
            self.add(p, QL.birthDate, d(r.birth_date))
        self.lift_consent()
        self.lift_diagnosis()
        self.lift_history()
        self.lift_disease_measurements()
        self.lift_status()
        self.lift_observations()
        self.lift_supportive_care()
        self.lift_reproductive()
        return self.graph

    def lift_consent(self) -> None:
        consent = self.record.consent
        if consent is None:
            return
        if consent.icf_signed:
            node = self.node("consent")
            self.add(node, RDF.type, QL.InformedConsent)
            self.add(node, QL.signedOn, d(consent.icf_signed))
            self.add(self.patient, QL.informedConsent, node)
        if consent.able_to_comply is not None:
            self.add(self.patient, QL.ableToComply, boolean(consent.able_to_comply))

    def lift_diagnosis(self) -> None:
        dx = self.record.diagnosis
        if dx is None:
            return
        node = self.node("diagnosis")
        self.add(self.patient, QL.hasDiagnosis, node)
        self.add(node, RDF.type, QL.SarcomaDiagnosis)
        if dx.histology is not None:
            self.type_histology(node, dx.histology)
        if dx.confirmed_at_this_institution is not None:
            self.add(node, QL.confirmedAtThisInstitution, boolean(dx.confirmed_at_this_institution))
        if dx.extent:
            self.add(node, QL.diseaseExtent, _EXTENT[dx.extent])
        if dx.resectable is not None:
            self.add(node, QL.resectable, boolean(dx.resectable))
        if dx.date:
            self.add(node, QL.effectiveDate, d(dx.date))

    def type_histology(self, node: URIRef, histology: str | Coded) -> None:
        """Type the diagnosis by its histology class and every superclass of it."""
        if isinstance(histology, Coded):
            written = f"{histology.system} {histology.code}"
            hit = self.term.find_code(histology.system, histology.code, QL.Neoplasm)
            is_icdo3 = "icd" in histology.system.casefold() and looks_like_icdo3(histology.code)
        else:
            written, hit = histology, self.term.find(histology, QL.Neoplasm)
            is_icdo3 = looks_like_icdo3(histology)
        self.add(node, QL.histologyText, Literal(written))
        if hit is None:
            # Every ICD-O-3 code of the eight histologies is in the terminology, so another
            # ICD-O-3 morphology code is another histology; free text we cannot read is unknown.
            self.add(node, RDF.type, QL.NonProtocolHistology if is_icdo3 else
                     QL.UnrecognisedHistology)
            return
        self.add(node, RDF.type, hit)
        for cls in self.term.types.get(hit, ()):
            self.add(node, RDF.type, cls)

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
                    self.add(node, QL.effectiveDate, d(met.date))
        if r.conditions is not None:
            for cond in r.conditions:
                self.add(self.patient, QL.hasCondition, self.term_ref(
                    cond, QL.ClinicalCondition, "condition", QL.UnrecognisedCondition))
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
                if therapy.start:
                    self.add(node, QL.startDate, d(therapy.start))
                if therapy.end:
                    self.add(node, QL.endDate, d(therapy.end))
                if therapy.intolerance is not None:
                    self.add(node, QL.stoppedForIntolerance, boolean(therapy.intolerance))

    def lift_disease_measurements(self) -> None:
        r = self.record
        for i, m in enumerate(r.tumour_measurements or ()):
            node = self.node("tumour-measurement", i + 1)
            self.add(self.patient, QL.hasTumourMeasurement, node)
            self.add(node, RDF.type, QL.TumourMeasurement)
            self.add(node, QL.effectiveDate, d(m.date))
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
                self.add(node, QL.effectiveDate, d(lesion.date))
        if r.recist is not None:
            self.add(self.patient, QL.investigatorReportsMeasurableDisease,
                     boolean(r.recist.measurable_disease))

    def lift_status(self) -> None:
        r, p = self.record, self.patient
        if r.samples is not None:
            if r.samples.tumour_tissue is not None:
                self.add(p, QL.tumourTissueAvailable, boolean(r.samples.tumour_tissue))
            if r.samples.blood is not None:
                self.add(p, QL.bloodSampleAvailable, boolean(r.samples.blood))
        if r.expected_survival is not None:
            node = self.node("expected-survival")
            self.add(p, QL.expectedSurvival, node)
            self.add(node, RDF.type, QL.SurvivalEstimate)
            self.add(node, QL.value, dec(r.expected_survival.value))
            self.add(node, QL.unit, text({"days": "d", "weeks": "wk", "months": "mo"}[
                r.expected_survival.unit]))
            if r.expected_survival.date:
                self.add(node, QL.effectiveDate, d(r.expected_survival.date))

    def lift_observations(self) -> None:
        for i, obs in enumerate(self.record.observations):
            node = self.node("observation", i + 1)
            self.add(self.patient, QL.hasObservation, node)
            self.add(node, RDF.type, QL.Observation)
            test = self.term_ref(obs.test, QL.Test, "test", QL.UnrecognisedTest)
            self.add(node, QL.test, test)
            self.add(node, QL.testText, text(obs.test if isinstance(obs.test, str)
                                                else f"{obs.test.system} {obs.test.code}"))
            self.add(node, QL.effectiveDate, d(obs.date))
            info = self.term.tests.get(test)
            self.lift_value(node, obs.value, info.value_set if info else None)
            if obs.unit:
                self.add(node, QL.unit, text(obs.unit))
            if obs.uln is not None:
                self.add(node, QL.upperLimitOfNormal, dec(obs.uln))
            if obs.lln is not None:
                self.add(node, QL.lowerLimitOfNormal, dec(obs.lln))

    def lift_value(self, node: URIRef, value: float | str, value_set: URIRef | None) -> None:
        """Numbers become decimals; words become concepts of the test's value set (2+, negative).

        The value set comes from the test (``ql:resultValueSet``): "negative" is a dipstick
        grade for a urine protein test and a qualitative result for a pregnancy test.
        """
        if isinstance(value, str):
            concept = self.term.find(value, value_set) if value_set is not None else None
            if concept is None:
                try:
                    self.add(node, QL.value, dec(Decimal(value.strip())))
                    return
                except InvalidOperation:
                    pass
            self.add(node, QL.value, Literal(value))
            if concept is not None:
                self.copy_types(concept)
                self.add(node, QL.valueConcept, concept)
            return
        self.add(node, QL.value, dec(value))

    def lift_supportive_care(self) -> None:
        care = self.record.supportive_care
        if care is None:
            return
        self.add(self.patient, QL.supportiveCareRecorded, boolean(True))
        for i, event in enumerate(care):
            node = self.node("supportive-care", i + 1)
            self.add(self.patient, QL.receivedSupportiveCare, node)
            self.add(node, RDF.type, QL.SupportiveCareEvent)
            self.add(node, QL.product, self.term_ref(event.product, QL.Drug, "product",
                                                     QL.UnrecognisedDrug))
            if event.date:
                self.add(node, QL.effectiveDate, d(event.date))

    def lift_reproductive(self) -> None:
        rep, p = self.record.reproductive, self.patient
        if rep is None:
            return
        for prop, value in ((QL.lactating, rep.lactating),
                            (QL.childbearingPotential, rep.childbearing_potential),
                            (QL.contraceptionAgreed, rep.contraception_agreed)):
            if value is not None:
                self.add(p, prop, boolean(value))
