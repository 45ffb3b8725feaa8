"""Rule parameters are data (issue 14): the screening window, the Cockcroft-Gault coefficients,
RECIST's slice-thickness factor and the policies are read from the ontology; a change to the
ontology in a protocol copy moves outcomes, at and one unit either side of each parameter."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from ql1706kg import screen
from ql1706kg.errors import ShapesError
from ql1706kg.protocol.resources import bundled_data_dir, protocol, query_dir
from ql1706kg.protocol.terminology import terminology

AS_OF = date(2026, 11, 20)


def _copy(tmp: Path, old: str, new: str) -> Path:
    for part in ("ontology", "shapes"):
        shutil.copytree(bundled_data_dir(part), tmp / part)
    shutil.copytree(query_dir(), tmp / "queries")
    path = tmp / "ontology" / "ql1706kg.ttl"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return tmp


def _base(**changes) -> dict:
    record = {"id": "P", "sex": "male", "birth_date": "1968-03-14",
              "consent": {"icf_signed": "2026-11-10", "able_to_comply": True},
              "observations": []}
    record.update(changes)
    return record


def test_the_bundled_parameters_are_read_from_the_ontology():
    term = terminology()
    assert term.parameter("ScreeningWindowDays") == 28
    assert (term.parameter("CockcroftGaultAgeConstant"), term.parameter(
        "CockcroftGaultCreatinineFactor"), term.parameter("CockcroftGaultFemaleFactor")) == (
        140, 72, term.parameter("CockcroftGaultFemaleFactor"))
    assert str(term.parameter("CockcroftGaultFemaleFactor")) == "0.85"
    assert term.parameter("RecistSliceThicknessFactor") == 2
    assert term.policy("ScreeningResultSelection", ("MostRecentInWindow",)) == \
        "MostRecentInWindow"


# One protocol copy with the three parameters changed, shared by every boundary case (a changed
# ontology costs its OWL-RL closure once; the parameters are independent, and each case moves
# its data across one of them).
CHANGES = (("ql:parameterValue 28 ;", "ql:parameterValue 10 ;"),  # the screening window
           ("ql:parameterValue 140 ;", "ql:parameterValue 130 ;"),  # Cockcroft-Gault's 140
           ("ql:parameterValue 2 ;", "ql:parameterValue 3 ;"))  # RECIST's slice factor


@pytest.fixture(scope="module")
def amended(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("amended")
    _copy(folder, *CHANGES[0])
    path = folder / "ontology" / "ql1706kg.ttl"
    text = path.read_text(encoding="utf-8")
    for old, new in CHANGES[1:]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("days_old, outcome", [(9, "met"), (10, "met"), (11, "unknown")])
def test_the_window_is_the_ontology_s_and_the_option_overrides_it(days_old, outcome, amended):
    when = (AS_OF - timedelta(days=days_old)).isoformat()
    record = _base(observations=[{"test": "LVEF", "value": 60, "unit": "%", "date": when}])
    assert screen([record], as_of=AS_OF).patients[0].outcome("IC9.6-LVEF") == "met"  # 28 days
    with protocol(amended):
        result = screen([record], as_of=AS_OF)
        assert result.window_days == 10
        assert result.patients[0].outcome("IC9.6-LVEF") == outcome
        wide = screen([record], as_of=AS_OF, window_days=28)
        assert wide.patients[0].outcome("IC9.6-LVEF") == "met"


def _clearance_patient(creatinine_mg_dl: float) -> dict:
    # male, 58 on the assessment date, 72 kg: CrCl = (K - 58) x 72 / (72 x SCr) = (K - 58) / SCr;
    # the ULN of 0.9 mg/dL puts every creatinine used here above 1.5 x ULN (1.35), so the
    # clearance alone decides IC9.3
    return _base(observations=[
        {"test": "weight", "value": 72, "unit": "kg", "date": "2026-11-16"},
        {"test": "creatinine", "value": creatinine_mg_dl, "unit": "mg/dL", "uln": 0.9,
         "date": "2026-11-12"}])


def test_the_bundled_cockcroft_gault_constant_gives_exactly_the_limit():
    record = _clearance_patient(1.64)  # (140 - 58) / 1.64 = 50 mL/min: exactly at the limit
    assert screen([record], as_of=AS_OF).patients[0].outcome("IC9.3-CR") == "met"


@pytest.mark.parametrize("creatinine, outcome", [(1.43, "met"), (1.44, "met"),
                                                 (1.45, "not_met"), (1.64, "not_met")])
def test_a_cockcroft_gault_coefficient_is_data(creatinine, outcome, amended):
    # K = 130: (130 - 58) / 1.44 = 50 mL/min, exactly at the limit; 1.64 (met under K = 140)
    # gives 43.9
    with protocol(amended):
        result = screen([_clearance_patient(creatinine)], as_of=AS_OF)
        assert result.patients[0].outcome("IC9.3-CR") == outcome


def _lesion_patient(diameter_mm: int) -> dict:
    return _base(lesions=[{"kind": "non_nodal", "method": "CT", "site": "lung",
                           "longest_diameter_mm": diameter_mm, "slice_thickness_mm": 6,
                           "date": "2026-11-06"}])


def test_the_bundled_recist_factor_is_two():
    assert screen([_lesion_patient(12)], as_of=AS_OF).patients[0].outcome("IC6") == "met"


@pytest.mark.parametrize("diameter, outcome", [(17, "not_met"), (18, "met"), (19, "met"),
                                               (12, "not_met")])
def test_the_recist_slice_factor_is_data(diameter, outcome, amended):
    # factor 3 with 6 mm slices: measurable from 18 mm (12 mm, met under factor 2, is not)
    with protocol(amended):
        assert screen([_lesion_patient(diameter)], as_of=AS_OF).patients[0].outcome(
            "IC6") == outcome


def test_an_unknown_policy_is_refused_with_its_name(tmp_path):
    folder = _copy(tmp_path, "ql:policy ql:MostRecentInWindow ;",
                   "ql:policy ql:OldestInWindow ;")
    with protocol(folder):
        with pytest.raises(ShapesError, match=re.escape("ql:OldestInWindow")):
            terminology().policy("ScreeningResultSelection", ("MostRecentInWindow",))
        result = screen([_base()], as_of=AS_OF)
    assert not result.patients
    assert "ql:OldestInWindow" in result.errors[0].message
