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


@pytest.mark.parametrize("days_old, outcome", [(9, "met"), (10, "met"), (11, "unknown")])
def test_the_window_is_the_ontology_s_and_the_option_overrides_it(days_old, outcome, tmp_path):
    when = (AS_OF - timedelta(days=days_old)).isoformat()
    record = _base(observations=[{"test": "LVEF", "value": 60, "unit": "%", "date": when}])
    with protocol(_copy(tmp_path, "ql:parameterValue 28 ;", "ql:parameterValue 10 ;")):
        result = screen([record], as_of=AS_OF)
        assert result.window_days == 10
        assert result.patients[0].outcome("IC9.6-LVEF") == outcome
        wide = screen([record], as_of=AS_OF, window_days=28)
        assert wide.patients[0].outcome("IC9.6-LVEF") == "met"


def _clearance_patient(creatinine_mg_dl: float) -> dict:
    # male, 58 on the assessment date, 72 kg: CrCl = (140 - 58) x 72 / (72 x SCr) = 82 / SCr
    return _base(observations=[
        {"test": "weight", "value": 72, "unit": "kg", "date": "2026-11-16"},
        {"test": "creatinine", "value": creatinine_mg_dl, "unit": "mg/dL", "uln": 1.0,
         "date": "2026-11-12"}])


@pytest.mark.parametrize("constant, outcome", [("141", "met"), ("140", "met"),
                                               ("139", "not_met")])
def test_a_cockcroft_gault_coefficient_is_data(constant, outcome, tmp_path):
    record = _clearance_patient(1.64)  # 82 / 1.64 = 50 mL/min: exactly at the limit
    old = "ql:parameterValue 140 ;"
    with protocol(_copy(tmp_path, old, f"ql:parameterValue {constant} ;")):
        assert screen([record], as_of=AS_OF).patients[0].outcome("IC9.3-CR") == outcome


@pytest.mark.parametrize("factor, outcome", [("1", "met"), ("2", "met"), ("3", "not_met")])
def test_the_recist_slice_factor_is_data(factor, outcome, tmp_path):
    lesion = {"kind": "non_nodal", "method": "CT", "site": "lung", "longest_diameter_mm": 12,
              "slice_thickness_mm": 6, "date": "2026-11-06"}  # 12 mm = 2 x 6 mm
    record = _base(lesions=[lesion])
    with protocol(_copy(tmp_path, "ql:parameterValue 2 ;", f"ql:parameterValue {factor} ;")):
        assert screen([record], as_of=AS_OF).patients[0].outcome("IC6") == outcome


def test_an_unknown_policy_is_refused_with_its_name(tmp_path):
    folder = _copy(tmp_path, "ql:policy ql:MostRecentInWindow ;",
                   "ql:policy ql:OldestInWindow ;")
    with protocol(folder):
        with pytest.raises(ShapesError, match=re.escape("ql:OldestInWindow")):
            terminology().policy("ScreeningResultSelection", ("MostRecentInWindow",))
        result = screen([_base()], as_of=AS_OF)
    assert not result.patients
    assert "ql:OldestInWindow" in result.errors[0].message
