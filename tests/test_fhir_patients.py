"""Who is screened, and from which consent (issue 12, classes 3, 9 and 10): only a research
Consent in force is the study's ICF; every valid R4 resource type is known; an animal and a
deceased patient are no candidates, reported as error entries (never screened, never lost).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.api import screen
from ql1706kg.cli import main
from ql1706kg.inputs.fhir.conformance import R4_RESOURCE_TYPES, _is_fhir_type
from ql1706kg.inputs.read import read_paths

PACKAGES = Path(__file__).parent / "data" / "fhir-packages"
R4, IPS = PACKAGES / "hl7.fhir.r4.examples", PACKAGES / "hl7.fhir.uv.ips"
AS_OF = "2026-11-20"
SUBJECT = {"reference": "Patient/P1"}
SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PROJECT = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"
R4_ONLY = ["MedicinalProduct", "MedicinalProductAuthorization",
           "MedicinalProductContraindication", "MedicinalProductIndication",
           "MedicinalProductIngredient", "MedicinalProductInteraction",
           "MedicinalProductManufactured", "MedicinalProductPackaged",
           "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
           "EffectEvidenceSynthesis", "RiskEvidenceSynthesis", "SubstanceSpecification"]


def patient(**extra) -> dict:
    return {"resourceType": "Patient", "id": "P1", "gender": "male", "birthDate": "1950-06-01",
            **extra}


def consent(scope: str = "research", status: str = "active", **extra) -> dict:
    return {"resourceType": "Consent", "id": "icf", "status": status, "patient": SUBJECT,
            "scope": {"coding": [{"system": SCOPE, "code": scope}]},
            "category": [{"text": "study informed consent form"}],
            "dateTime": "2026-01-10T10:00:00+08:00", **extra}


COMPLIES = {"resourceType": "Observation", "id": "comply", "status": "final",
            "subject": SUBJECT, "code": {"coding": [{"system": PROJECT,
                                                     "code": "able-to-comply"}]},
            "valueBoolean": True}


def write(tmp_path: Path, *resources: dict, person: dict | None = None) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": r} for r in (person or patient(), *resources)]}))
    return path


def report_of(*paths: Path) -> dict[str, tuple[bool, str]]:
    lines: list = []
    list(read_paths(list(paths), fhir_report=lines))
    return {line.resource: (line.used, line.reason) for line in lines}


def outcomes(result) -> dict[str, str]:
    assert not result.errors, [e.as_dict() for e in result.errors]
    (person,) = result.patients
    return {c.id: c.outcome for c in person.criteria}


# -- the study's informed consent (class 3) --------------------------------------------------

RECORD = {"id": "P1", "sex": "male", "birth_date": "1950-06-01",
          "consent": {"icf_signed": "2026-01-10", "able_to_comply": True}}
NO_ICF = {"id": "P1", "sex": "male", "birth_date": "1950-06-01",
          "consent": {"able_to_comply": True}}


@pytest.mark.parametrize(("resource", "twin", "reason"), [
    (consent(), RECORD, None),
    (consent(scope=None) | {"scope": {"text": "Research"}}, RECORD, None),
    (consent("patient-privacy"), NO_ICF, "scope patient-privacy, not research"),
    (consent("treatment", category=[{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
        "code": "dnr"}]}]), NO_ICF, "scope treatment, not research"),
    (consent(status="inactive"), NO_ICF, "status inactive, not active"),
    (consent(status="draft"), NO_ICF, "status draft"),
    (consent(provision={"type": "deny"}), NO_ICF, "its provision is 'deny' (a refusal)"),
])
def test_only_an_active_research_consent_is_the_icf(tmp_path, resource, twin, reason):
    """The ICF date decides IC1 and the age of IC2 (75 on 2026-01-10, 76 on the as-of date):
    every Consent ignored leaves IC1 unknown and the age taken on the as-of date."""
    path = write(tmp_path, resource, COMPLIES)
    got = outcomes(screen([path], as_of=AS_OF))
    assert got == outcomes(screen([twin], as_of=AS_OF))
    assert (got["IC1"], got["IC2"]) == (("met", "met") if reason is None
                                        else ("unknown", "not_met"))
    used, why = report_of(path)["Consent/icf"]
    assert used == (reason is None)
    assert reason is None or reason in why


def test_a_deny_below_the_top_provision_is_an_exception_not_a_refusal(tmp_path):
    resource = consent(provision={"type": "permit", "provision": [{"type": "deny"}]})
    path = write(tmp_path, resource, COMPLIES)
    assert outcomes(screen([path], as_of=AS_OF))["IC1"] == "met"


def test_f001s_privacy_consents_are_not_his_icf():
    """r4 examples: nine privacy consents (opt-in, opt-out, a deny) for f001; IC2 is then taken
    at the as-of date: born 1944-11-17, 82 on 2026-11-20, above 75."""
    files = [R4 / "Patient-f001.json", *sorted(R4.glob("Consent-consent-example-*.json"))]
    files = [f for f in files if "smartonfhir" not in f.name]
    result = screen(files, as_of=AS_OF)
    got = outcomes(result)
    assert (got["IC1"], got["IC2"]) == ("unknown", "not_met")
    assert result.patients[0].verdict == "ineligible"
    lines = report_of(*files)
    consents = {k: v for k, v in lines.items() if k.startswith("Consent/")}
    assert len(consents) == 9
    assert all(not used and "scope patient-privacy, not research" in why
               for used, why in consents.values())


def test_the_ips_dnr_order_is_not_the_icf():
    path = IPS / "Bundle-bundle-ips-all-sections.json"
    used, why = report_of(path)["Consent/080d85fa-c807-42d1-a3af-b3ee70858a54"]
    assert not used and "scope treatment, not research" in why
    (person,) = screen([path], as_of=AS_OF).patients
    assert person.outcome("IC1") == "unknown"
    ic2 = next(c for c in person.criteria if c.id == "IC2")
    assert ic2.outcome == "met" and "the assessment date" in ic2.explanation


# -- every R4 resource type (class 9) ---------------------------------------------------------

def test_the_r4_resource_list_is_complete():
    assert len(R4_RESOURCE_TYPES) == 146
    assert set(R4_ONLY) <= R4_RESOURCE_TYPES
    assert all(_is_fhir_type(name) for name in R4_RESOURCE_TYPES)
    assert not _is_fhir_type("Observaton")


def test_r4_types_missing_from_r4b_are_ignored_not_errors(tmp_path):
    files = [str(R4 / f"{name}-example.json") for name in R4_ONLY]
    report = tmp_path / "report.tsv"
    run = CliRunner().invoke(main, ["lift", *files, "-o", str(tmp_path / "g.ttl"),
                                    "--report", str(report)])
    assert run.exit_code == 0, run.stderr
    rows = report.read_text().splitlines()[1:]
    assert len(rows) == 13
    assert all("\tignored\tresource type not used by the protocol\t" in row for row in rows)
    run = CliRunner().invoke(main, ["screen", *files, "--as-of", AS_OF, "--format", "json"])
    assert run.exit_code == 0 and json.loads(run.stdout)["errors"] == []


# -- who is a candidate (class 10) ------------------------------------------------------------

@pytest.mark.parametrize(("name", "field", "message"), [
    ("Patient-animal.json", "Patient.extension:animal",
     "Patient/animal is not a human subject (patient-animal extension, species Dog): "
     "not screened"),
    ("Patient-pat3.json", "deceased",
     "recorded as deceased on 2015-02-14: not a candidate, not screened"),
    ("Patient-pat4.json", "deceased", "recorded as deceased: not a candidate, not screened"),
])
def test_an_animal_or_a_deceased_patient_is_an_error_entry_not_a_candidate(name, field,
                                                                            message):
    result = screen([R4 / name], as_of=AS_OF)
    assert result.patients == []
    (error,) = result.errors
    assert (error.field, error.message) == (field, message)
    assert error.record == name.removeprefix("Patient-").removesuffix(".json")


def test_the_cli_names_them_on_stderr_and_exits_1():
    run = CliRunner().invoke(main, ["screen", str(R4 / "Patient-animal.json"),
                                    str(R4 / "Patient-f001.json"), "--as-of", AS_OF])
    assert run.exit_code == 1
    assert "record animal, field Patient.extension:animal" in run.stderr
    assert "Patient f001" in run.stdout


def test_the_resources_of_an_animal_are_reported_not_read(tmp_path):
    animal = patient(extension=[{"url": "http://hl7.org/fhir/StructureDefinition/patient-animal",
                                 "extension": [{"url": "species", "valueCodeableConcept": {
                                     "text": "Dog"}}]}])
    path = write(tmp_path, consent(), COMPLIES, person=animal)
    lines = report_of(path)
    assert lines["Patient/P1"][1].startswith("the patient; not screened: not a human subject")
    assert lines["Consent/icf"][0] is False
    assert lines["Consent/icf"][1].startswith("its patient is not screened")


@pytest.mark.parametrize(("died", "as_of", "screened"), [
    ("2024-03-01", AS_OF, False),          # dead before the assessment: not a candidate
    ("2026-11-20", "2026-11-20", False),   # on the assessment date
    ("2026-11-21", "2026-11-20", True),    # after it: alive on the date screened
])
def test_a_death_counts_by_the_assessment_date(tmp_path, died, as_of, screened):
    path = write(tmp_path, consent(), COMPLIES, person=patient(deceasedDateTime=died))
    result = screen([path], as_of=as_of)
    assert bool(result.patients) is screened
    if not screened:
        assert result.errors[0].field == "deceased"


def test_deceased_false_is_screened():
    assert [p.id for p in screen([R4 / "Patient-f001.json"], as_of=AS_OF).patients] == ["f001"]
