"""Kidney function equations as data (protocol/equations.py), and what the check refuses.

The bundled equations are computed by the one engine from the ontology's data and compared
with the published equations written out here independently (floats, as the papers state
them); a folder naming an equation, a rule parameter or a policy the software does not
implement is refused by the static check, naming it.
"""

from __future__ import annotations

import math
import shutil
from decimal import Decimal

import pytest
from rdflib import URIRef

from ql1706kg.protocol.check import ProtocolRefused, static_check
from ql1706kg.protocol.equations import AGE, EquationError, named_equations
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.terminology import load_ontology, terminology

CRITERION = URIRef("urn:test:criterion")


@pytest.fixture(scope="module")
def ontology():
    return load_ontology(rendered=False)


def _equation(ontology, iri):
    ontology.add((CRITERION, QL.usesEquation, iri))
    try:
        return named_equations(ontology)[iri]
    finally:
        ontology.remove((CRITERION, QL.usesEquation, iri))


def ckd_epi_2021(scr: float, age: int, female: bool) -> float:
    """Inker et al., N Engl J Med 2021;385:1737-49 (race-free eGFRcr)."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    return (142 * min(scr / kappa, 1) ** alpha * max(scr / kappa, 1) ** -1.200
            * 0.9938 ** age * (1.012 if female else 1))


def mdrd_175(scr: float, age: int, female: bool) -> float:
    """Levey et al., Ann Intern Med 2006;145:247-54 (IDMS-traceable, no race factor)."""
    return 175 * scr ** -1.154 * age ** -0.203 * (0.742 if female else 1)


def cockcroft_gault(scr: float, age: int, female: bool, weight: float) -> float:
    """Cockcroft and Gault, Nephron 1976;16:31-41."""
    return (140 - age) * weight / (72 * scr) * (0.85 if female else 1)


@pytest.mark.parametrize("scr", [0.5, 0.7, 0.9, 1.3, 4.0])  # both sides of each kappa
@pytest.mark.parametrize("age", [18, 47, 80])
@pytest.mark.parametrize("female", [True, False])
def test_the_engine_computes_each_bundled_equation_from_its_data(ontology, scr, age, female):
    sex = QL.Female if female else QL.Male
    for iri, expected in ((QL.CKDEPI2021, ckd_epi_2021(scr, age, female)),
                          (QL.MDRD175, mdrd_175(scr, age, female)),
                          (QL.CockcroftGault, cockcroft_gault(scr, age, female, 70.0))):
        equation = _equation(ontology, iri)
        inputs = {AGE: Decimal(age), QL.Creatinine: Decimal(str(scr)),
                  QL.BodyWeight: Decimal(70)}
        got = float(equation.compute({i: inputs[i] for i in equation.inputs}, sex))
        assert math.isclose(got, expected, rel_tol=1e-9), (iri, got, expected)


def test_each_bundled_equation_cites_its_source(ontology):
    for iri in (QL.CockcroftGault, QL.CKDEPI2021, QL.MDRD175):
        source = str(ontology.value(iri, URIRef("http://purl.org/dc/terms/source")))
        assert "doi:10." in source, iri


def test_the_bundled_protocol_names_cockcroft_gault_for_the_clearance():
    equations = terminology().equations
    assert list(equations) == [QL.CockcroftGault]
    assert equations[QL.CockcroftGault].result == QL.creatinineClearance


def test_an_interval_of_inputs_gives_the_equations_bounds(ontology):
    equation = _equation(ontology, QL.CKDEPI2021)
    low, high = equation.bounds({AGE: (Decimal(50), Decimal(51)),
                                 QL.Creatinine: (Decimal("0.8"), None)}, QL.Female)
    assert low == 0 and math.isclose(float(high), ckd_epi_2021(0.8, 50, True))


def test_two_equations_for_one_result_are_refused(ontology):
    ontology.add((CRITERION, QL.usesEquation, QL.CKDEPI2021))
    ontology.add((CRITERION, QL.usesEquation, QL.MDRD175))
    try:
        with pytest.raises(EquationError, match="both write ql:estimatedGFR"):
            named_equations(ontology)
    finally:
        ontology.remove((CRITERION, QL.usesEquation, None))


@pytest.mark.parametrize(("added", "expected"), [
    ("ql:IC9.3-CR ql:usesEquation ql:CKDEPI .",
     r"added\.ttl: criterion ql:IC9\.3-CR names the equation ql:CKDEPI, which is not a "
     r"ql:KidneyFunctionEquation this software can compute"),
    ("ql:MyEquation a ql:KidneyFunctionEquation ; ql:resultProperty ql:estimatedGFR ; "
     "ql:resultUnit \"mL/min\" ; ql:equationTerm ql:MyTerm .\n"
     "ql:MyTerm ql:termOrder 1 ; ql:termInput ql:cystatinC ; ql:inputUnit \"mg/L\" .\n"
     "ql:IC9.3-CR ql:usesEquation ql:MyEquation .",
     r"its term ql:MyTerm reads ql:cystatinC, which is neither a ql:Test nor "
     r"ql:AgeInCompletedYears"),
    ("ql:ClearanceEquation a ql:RuleParameter ; ql:policy ql:CockcroftGault .",
     r"rule parameter ql:ClearanceEquation is not one this software reads"),
    ("ql:OldestFirst a ql:RulePolicy .",
     r"policy ql:OldestFirst is not one this software implements"),
], ids=["unknown-equation", "equation-with-unknown-input", "unknown-parameter",
        "unknown-policy"])
def test_what_the_engine_does_not_implement_is_refused(exported, tmp_path, added, expected):
    folder = tmp_path / "amended"
    shutil.copytree(exported, folder)
    (folder / "ontology" / "added.ttl").write_text(
        "@prefix ql: <https://w3id.org/ql1706kg#> .\n" + added + "\n", encoding="utf-8")
    with pytest.raises(ProtocolRefused, match=expected):
        static_check(folder)
