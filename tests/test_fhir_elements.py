"""The FHIR element table (ql1706kg/inputs/fhir/elements.json) against the R4 specification:
it names every isModifier element of the types read, gives every code of their status value sets
a meaning, and docs/fhir.md shows it as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ql1706kg.inputs.fhir.elements import CATEGORY_ORDER, element_table, markdown

ROOT = Path(__file__).resolve().parents[1]
SPEC = json.loads((Path(__file__).parent / "data" / "fhir-r4-modifiers" / "modifiers.json")
                  .read_text(encoding="utf-8"))
SPEC_MODIFIERS = sorted({m["path"] for t in SPEC["types"].values() for m in t["modifiers"]})
START, END = "<!-- element-table:start -->", "<!-- element-table:end -->"


def test_the_extract_is_of_r4():
    assert {t["fhirVersion"] for t in SPEC["types"].values()} == {"4.0.1"}
    assert len(SPEC_MODIFIERS) > 70


@pytest.mark.parametrize("path", SPEC_MODIFIERS)
def test_every_r4_modifier_element_is_in_the_table(path):
    row = element_table().row(path)
    assert row is not None, f"{path} is isModifier in R4 and the table does not say what to do"
    assert row.modifier


def test_the_table_calls_nothing_a_modifier_that_r4_does_not():
    invented = [row.path for row in element_table().rows
                if row.modifier and row.owner in SPEC["types"] and row.path not in SPEC_MODIFIERS]
    assert invented == []


@pytest.mark.parametrize("path", sorted(SPEC["codes"]))
def test_every_code_of_a_status_value_set_has_a_meaning(path):
    values = element_table().values(path)
    missing = [code for code in SPEC["codes"][path] if code not in values]
    assert missing == []
    assert set(values.values()) <= set(CATEGORY_ORDER) | {"none", "unknown"}


def test_every_resource_type_read_has_its_status_and_time_elements():
    table = element_table()
    for kind in table.resource_types:
        if kind in ("Bundle", "Medication", "Patient"):
            continue
        assert table.status_rows(kind), kind
        assert table.times(kind), kind


def test_docs_show_the_table_as_it_is():
    text = (ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")
    assert START in text and END in text, "docs/fhir.md lost its element-table markers"
    shown = text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == markdown(), ("docs/fhir.md is not current: run python "
                                 "tools/fhir_elements_doc.py")
