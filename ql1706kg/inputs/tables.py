"""Read bulk tables (``.csv``, ``.xlsx``) in long format: one row per fact.

Research offices keep spreadsheets, not JSON. Each row states one fact of one patient; the
rows of a patient (contiguous or not) are assembled into the project's JSON record and
validated like a hand-written one, so a table and a record give the same outcomes.

Columns (header row, any order, case-insensitive): ``patient``, ``element``, ``value``
(required) and ``unit``, ``uln``, ``lln``, ``date``, ``code``, ``system``, ``group``, ``site``,
``slice_thickness``, ``status``, ``end``.

=========================  ======================================================================
element                    value (other columns)
=========================  ======================================================================
sex                        female / male / other / unknown
birth_date                 a date (value or date column)
icf_signed                 the ICF signature date (value or date column)
able_to_comply             yes / no
histology                  a name, or code + system (e.g. ICD-O-3 8890/3); date = diagnosis date
confirmed_at_this_institution, resectable   yes / no
extent                     metastatic / locally_advanced / localised
metastasis                 the site; date = when found
no_metastases              (no value needed) metastases recorded: none
condition                  a name, or code + system (e.g. Gilbert syndrome)
therapy                    a drug name, or code + system; group = the regimen's name (rows of one
                           group are one regimen); date = start
therapy_end                the regimen's end date; group = the regimen
intolerance                yes / no; group = the regimen stopped for intolerance
no_prior_therapy           (no value needed) prior systemic therapy recorded: none
tumour_measurement         sum of longest diameters in mm; date
lesion                     longest diameter (non-nodal) or short axis (lymph node) in mm;
                           code = non_nodal or lymph_node; system = method (CT, MRI, ...);
                           site; slice_thickness (mm); date
recist_measurable          yes / no (the investigator's RECIST 1.1 assessment); date
tumour_tissue, blood_sample   yes / no
expected_survival          a number; unit = days / weeks / months; date
supportive_care            a product name, or code + system; date
no_supportive_care         (no value needed) none given
lactating, childbearing_potential, contraception_agreed   yes / no
observation                a result; the test in code (name or LOINC code; system defaults to
                           LOINC when code is a code); unit, uln, lln, date
facts_complete             a fact kind's record key: recorded complete (no fact of it means none)
<a declared kind's key>    a fact of a kind the protocol declares (ql:FactKind, its record key as
                           in the JSON record's facts): value by the kind's type (yes / no, a
                           number with unit, a date, a word of its values; empty for a kind that
                           is the record itself); code (+ system), date, end, status, and one
                           column per attribute the kind declares (its ql:attributeKey, e.g.
                           field-extent: wide / limited)
<any test name>            a result of that test (e.g. AST, haemoglobin, ECOG): unit, uln, lln,
                           date
=========================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, overload

from ..errors import InputError
from ..protocol.fact_kinds import FactKind
from ..protocol.resources import protocol_cache
from .records import RawRecord, SourcedRecord, parse_record
from .table_files import Rows, UnsavedFormula, table_body, text_only
from .table_files import cell as _cell
from .table_values import (
    TRUE,
    RowError,
    coded,
    date,
    dated,
    number_or_word,
    numeric,
    optional_date,
    text,
    yes_no,
)

_SECTION = {"able_to_comply": "consent", "confirmed_at_this_institution": "diagnosis",
            "resectable": "diagnosis", "extent": "diagnosis", "tumour_tissue": "samples",
            "blood_sample": "samples", "lactating": "reproductive",
            "childbearing_potential": "reproductive", "contraception_agreed": "reproductive"}
_FIELD = {"blood_sample": "blood"}
_BOOLEAN = {"able_to_comply", "confirmed_at_this_institution", "resectable", "tumour_tissue",
            "blood_sample", "lactating", "childbearing_potential", "contraception_agreed",
            "recist_measurable", "intolerance"}
_EMPTY = {"no_metastases": "metastases", "no_prior_therapy": "prior_therapies",
          "no_supportive_care": "supportive_care"}
ELEMENTS = sorted({"sex", "birth_date", "icf_signed", "histology", "metastasis", "condition",
                   "therapy", "therapy_end", "tumour_measurement", "lesion", "expected_survival",
                   "supportive_care", "observation", *_BOOLEAN, *_EMPTY, "extent"})


def read_table(path: Path) -> Iterator[SourcedRecord | InputError]:
    """Yield one record per patient of a long-format table, or an error naming row and column."""
    try:
        header, patients = table_rows(path)
    except InputError as exc:
        yield exc
        return
    for patient, patient_rows in patients.items():
        yield patient_record(path, patient, patient_rows, header)


def table_rows(path: Path) -> tuple[dict[str, int], dict[str, Rows]]:
    """The header (column -> index) and the rows of a long-format table by patient; an
    unreadable file or header raises :class:`InputError`. Cheap: each patient's record is
    assembled from its rows (:func:`patient_record`) where it is needed."""
    header, body = table_body(path)
    patients: dict[str, Rows] = {}
    for patient, number, raw in body:
        patients.setdefault(patient, []).append((number, raw))
    return header, patients


RowsOf = Iterable[tuple[int, list[Any]]]  # (row number, cells): a list or as they come


@overload
def patient_record(path: Path, patient: str, raw_rows: RowsOf, header: dict[str, int],
                   validate: Literal[True] = ...) -> SourcedRecord | InputError: ...
@overload
def patient_record(path: Path, patient: str, raw_rows: RowsOf, header: dict[str, int],
                   validate: bool) -> SourcedRecord | RawRecord | InputError: ...
def patient_record(path: Path, patient: str, raw_rows: RowsOf, header: dict[str, int],
                   validate: bool = True) -> SourcedRecord | RawRecord | InputError:
    """One patient's record from its rows (of :func:`table_rows`), validated (else a
    :class:`RawRecord`, for a caller that validates what it makes of it); or the error naming
    the row and column."""
    columns, plain = tuple(header.items()), text_only(path)
    record: dict[str, Any] = {"id": patient, "observations": []}
    regimens: dict[str, dict[str, Any]] = {}
    first_rows: dict[str, tuple[int, Any]] = {}  # a fact a patient has once: its first row
    seen: dict[str, int] = {}  # an element that sets such facts: its first row
    for number, raw in raw_rows:
        if plain:  # a CSV file's cells are all text: stripped without a step per cell
            row = {}  # (a loop here, not a comprehension: no call a row)
            try:
                for column, index in columns:
                    row[column] = raw[index].strip()
            except IndexError:  # a row shorter than the header: its missing cells are None
                row = _cells(raw, columns)
        else:
            row = _cells(raw, columns)
        try:
            if not plain:
                _refuse_unsaved_formulas(row)
            element = row["element"]  # a required column
            element = element if type(element) is str else str(element or "").strip()
            name = element.casefold()
            paths = _SINGLE_ELEMENTS.get(name)  # None: the row adds to a list
            if paths is None or name not in seen:  # a list's row, or its element's first
                _apply(record, regimens, row, element, name)
                if paths is not None:
                    seen[name] = number
            else:  # a fact a patient has once, again: it must say what the record holds
                before = _held(record, paths)
                _apply(record, regimens, row, element, name)
                _check_single_values(record, paths, before, first_rows, seen[name], number)
        except RowError as exc:
            return InputError(f"{path}:{number}", str(exc), record=patient or None,
                              field=f"row {number}: {exc.column}")
    if regimens:
        record.setdefault("prior_therapies", []).extend(regimens.values())
    if not validate:
        return RawRecord(f"{path}#{patient}", record)
    result = parse_record(record, f"{path}")
    if isinstance(result, InputError):
        return result
    return SourcedRecord(f"{path}#{patient}", result.record, result.raw)


# Facts a patient has once: a second row that says otherwise is a contradiction to resolve at
# the source, never a last-one-wins (two sexes, two birth dates, two histologies).
_SINGLE = ("sex", "birth_date", "consent.icf_signed", "consent.able_to_comply",
           "diagnosis.histology", "diagnosis.confirmed_at_this_institution",
           "diagnosis.extent", "diagnosis.resectable", "diagnosis.date", "recist",
           "samples.tumour_tissue", "samples.blood", "expected_survival",
           "reproductive.lactating", "reproductive.childbearing_potential",
           "reproductive.contraception_agreed")


# The elements whose row may set one of them, and which (a row of any other adds to a list).
_SINGLE_ELEMENTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    element: tuple((path, *path.rpartition(".")[::2]) for path in paths)
    for element, paths in {
        "sex": ("sex",), "birth_date": ("birth_date",), "icf_signed": ("consent.icf_signed",),
        "histology": ("diagnosis.histology", "diagnosis.date"), "recist_measurable": ("recist",),
        "expected_survival": ("expected_survival",),
        **{name: (f"{section}.{_FIELD.get(name, name)}",) for name, section in _SECTION.items()},
    }.items()}
assert {p for parts in _SINGLE_ELEMENTS.values() for p, *_ in parts} == set(_SINGLE)


def _held(record: dict, paths: tuple[tuple[str, str, str], ...]) -> list[Any]:
    """What the record holds at each of ``paths`` (:data:`_ABSENT`: nothing)."""
    out = []
    for _path, section, name in paths:
        holder = record.get(section) if section else record
        out.append(holder[name] if isinstance(holder, dict) and name in holder else _ABSENT)
    return out


_ABSENT = object()


def _check_single_values(record: dict, paths: tuple[tuple[str, str, str], ...],
                         before: list[Any], first_rows: dict[str, tuple[int, Any]],
                         first_row: int, number: int) -> None:
    """After a repeated row of an element that sets facts a patient has once (``paths``;
    ``before``: what the record held at each before the row): each of them the record now
    holds is the one its first row gave. Only such rows set them, and any other value is
    refused here, so the value before this row is the first row's: the element's first row
    (``first_row``) when it held one then, else the row recorded when one was first set (a
    first row needs no check: nothing was there before it)."""
    for (path, section, name), known in zip(paths, before, strict=True):
        holder = record.get(section) if section else record
        if not isinstance(holder, dict) or name not in holder:
            continue
        value, first = holder[name], first_rows.get(path)
        if first is None:
            if known is _ABSENT:  # first set by this row
                first_rows[path] = (number, value)
                continue
            first = first_rows[path] = (first_row, known)
        if first[1] != value:
            raise RowError(name, f"row {number} gives {path} as {_shown(value)}, but row "
                                 f"{first[0]} gave {_shown(first[1])}; a patient has one, so "
                                 "resolve it at the source")


def _shown(value: Any) -> str:
    return f"'{value}'" if not isinstance(value, dict) else "'" + ", ".join(
        f"{v}" for v in value.values()) + "'"


def _cells(raw: list[Any], columns: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    """A row's cells by column name, as :func:`.table_files.cell` reads each (a text cell
    stripped here rather than by a call: a site supplement is some 14 rows of 10 columns a
    person)."""
    width, row = len(raw), {}
    for name, index in columns:
        value = raw[index] if index < width else None
        row[name] = value.strip() if type(value) is str else _cell(raw, index)
    return row


def _refuse_unsaved_formulas(row: dict[str, Any]) -> None:
    for column, value in row.items():
        if isinstance(value, UnsavedFormula):
            raise RowError(column, f"the cell is {value}: open and save the workbook in a "
                                   "spreadsheet program, or paste values")


def _apply(record: dict, regimens: dict, row: dict[str, Any], element: str, name: str) -> None:
    patient = row.get("patient")
    if not (patient if type(patient) is str else patient_id_ok(row)):  # a text cell: stripped
        raise RowError("patient", "the patient column is empty")
    section = _SECTION.get(name)  # (first: the answers a site supplement is mostly made of)
    if section is not None:
        value = yes_no(row) if name in _BOOLEAN else text(row, "value").casefold()
        record.setdefault(section, {})[_FIELD.get(name, name)] = value
    elif name in _EMPTY:
        record.setdefault(_EMPTY[name], [])
    elif name == "sex":
        record["sex"] = text(row, "value").casefold()
    elif name in ("birth_date", "icf_signed"):
        when = date(row, "value") if row.get("value") not in (None, "") else date(row, "date")
        if name == "birth_date":
            record["birth_date"] = when
        else:
            record.setdefault("consent", {})["icf_signed"] = when
    elif name == "recist_measurable":
        record["recist"] = {"measurable_disease": yes_no(row), **dated(row)}
    elif name == "histology":
        record.setdefault("diagnosis", {})["histology"] = coded(row)
        record["diagnosis"].update(dated(row))
    elif name == "metastasis":
        record.setdefault("metastases", []).append({"site": text(row, "value"), **dated(row)})
    elif name == "condition":
        record.setdefault("conditions", []).append(coded(row))
    elif name in ("therapy", "therapy_end", "intolerance"):
        _therapy(regimens, name, row)
    elif name == "tumour_measurement":
        record.setdefault("tumour_measurements", []).append(
            {"date": date(row, "date"), "sum_of_diameters_mm": numeric(row, "value")})
    elif name == "lesion":
        record.setdefault("lesions", []).append(_lesion(row))
    elif name == "expected_survival":
        record["expected_survival"] = {"value": numeric(row, "value"),
                                       "unit": text(row, "unit") or "weeks", **dated(row)}
    elif name == "supportive_care":
        record.setdefault("supportive_care", []).append({"product": coded(row), **dated(row)})
    elif name == "observation":
        record["observations"].append(_observation(row, _test_of(row)))
    elif name == "facts_complete":
        _complete(record, row, _declared_kinds())
    elif name in _declared_kinds():
        record.setdefault("facts", []).append(_fact(row, _declared_kinds()[name]))
    elif _is_test(element):
        record["observations"].append(_observation(row, element))
    else:
        kinds = sorted(k.key for k in _declared_kinds().values())
        raise RowError("element", f"unknown element '{element}' (accepted: "
                                  f"{', '.join(ELEMENTS)}, facts_complete, "
                                  + (f"a fact kind the protocol declares ({', '.join(kinds)}), "
                                     if kinds else "")
                                  + "or a test name such as AST)")


def patient_id_ok(row: dict[str, Any]) -> bool:
    return bool(str(row.get("patient") or "").strip())


@protocol_cache
def _declared_kinds() -> dict[str, FactKind]:
    """The protocol's declared fact kinds a table row may name, by record key ignoring case
    (a built-in kind is read by its own element above); once per protocol, not per row."""
    from ..protocol.terminology import terminology

    return {key.casefold(): kind for key, kind in terminology().fact_kinds.items()
            if kind.built_in is None}


def _fact(row: dict[str, Any], kind: FactKind) -> dict[str, Any]:
    """A row of a declared kind as the JSON record's ``facts`` item: the value read by the
    kind's type (a value that type cannot hold is an error naming the column, never a fact
    that could count), the code, unit, date, end and status from their columns."""
    fact: dict[str, Any] = {"kind": kind.key}
    if row.get("value") not in (None, ""):
        fact["value"] = _fact_value(row, kind)
    elif kind.value_type != "presence":
        raise RowError("value", f"a {kind.label} row needs its value ({_WANTED[kind.value_type]})")
    code, system = text(row, "code"), text(row, "system")
    if code:
        fact["code"] = {"system": system, "code": code} if system else code
    for column in ("unit", "status"):
        if text(row, column):
            fact[column] = text(row, column)
    for column in ("date", "end"):
        if row.get(column) not in (None, ""):
            fact[column] = date(row, column)
    attributes = _attributes(row, kind)
    if attributes:
        fact["attributes"] = attributes
    return fact


def _attributes(row: dict[str, Any], kind: FactKind) -> dict[str, str]:
    """The kind's attributes, a column each; a value it does not declare is an error."""
    out = {}
    for attribute in kind.attributes:
        said = text(row, attribute.key.casefold())
        if not said:
            continue
        if said.casefold() not in attribute.labels:
            raise RowError(attribute.key, f"'{said}' is not a {attribute.label} (accepted: "
                                          f"{', '.join(sorted(attribute.labels))})")
        out[attribute.key] = said.casefold()
    return out


_WANTED = {"boolean": "yes or no", "quantity": "a number", "date": "a date (YYYY-MM-DD)",
           "coded": "a word of its values", "presence": "none: the row is the record itself"}


def _fact_value(row: dict[str, Any], kind: FactKind) -> Any:
    if kind.value_type == "boolean":
        return yes_no(row)
    if kind.value_type == "quantity":
        return numeric(row, "value")
    if kind.value_type == "date":
        return date(row, "value")
    if kind.value_type == "coded":
        return text(row, "value")
    # a record that is the fact itself: "yes" says it again; anything else ("no") would
    # read as the fact being there, so it is refused (none is said with facts_complete)
    if text(row, "value").casefold() in TRUE:
        return True
    raise RowError("value", f"a {kind.label} row records one (leave the value empty); to say "
                            f"there is none, write a facts_complete row with value {kind.key}")


def _complete(record: dict, row: dict[str, Any], kinds: dict[str, FactKind]) -> None:
    """A ``facts_complete`` row: the kind named in the value is recorded complete (no fact of
    it means none), as the JSON record's ``facts_complete``."""
    kind = kinds.get(text(row, "value").casefold())
    if kind is None:
        raise RowError("value", f"'{text(row, 'value')}' is not a fact kind the protocol "
                                f"declares ({', '.join(sorted(k.key for k in kinds.values()))})")
    complete = record.setdefault("facts_complete", [])
    if kind.key not in complete:
        complete.append(kind.key)


def _is_test(name: str) -> bool:
    from ..protocol.terminology import terminology

    return bool(name) and terminology().test_for(name) is not None


def _therapy(regimens: dict, name: str, row: dict[str, Any]) -> None:
    group = str(row.get("group") or "").strip()
    if name != "therapy" and not group:
        raise RowError("group", f"'{name}' needs the group (regimen) it belongs to")
    key = group or f"#{len(regimens) + 1}"
    regimen = regimens.setdefault(key, {"drugs": [], **({"name": group} if group else {})})
    if name == "therapy":
        regimen["drugs"].append(coded(row))
        start = optional_date(row)
        if start and (not regimen.get("start") or start < regimen["start"]):
            regimen["start"] = start
    elif name == "therapy_end":
        regimen["end"] = date(row, "value") if row.get("value") not in (None, "") else \
            date(row, "date")
    else:
        regimen["intolerance"] = yes_no(row)


def _lesion(row: dict[str, Any]) -> dict[str, Any]:
    kind = text(row, "code") or "non_nodal"
    if kind not in ("non_nodal", "lymph_node"):
        raise RowError("code", f"a lesion's code is non_nodal or lymph_node, not '{kind}'")
    size = "short_axis_mm" if kind == "lymph_node" else "longest_diameter_mm"
    lesion: dict[str, Any] = {"kind": kind, "method": text(row, "system") or "other",
                              size: numeric(row, "value"), **dated(row)}
    if text(row, "site"):
        lesion["site"] = text(row, "site")
    if row.get("slice_thickness") not in (None, ""):
        lesion["slice_thickness_mm"] = numeric(row, "slice_thickness")
    return lesion


def _test_of(row: dict[str, Any]) -> str | dict:
    code = text(row, "code")
    if not code:
        raise RowError("code", "an observation row names its test in the code column")
    system = text(row, "system")
    looks_like_loinc = "-" in code and code.replace("-", "").isdigit()
    if system or looks_like_loinc:
        return {"system": system or "LOINC", "code": code}
    return code


def _observation(row: dict[str, Any], test: str | dict) -> dict[str, Any]:
    value = row.get("value")
    if value in (None, ""):
        raise RowError("value", "a result needs a value")
    item: dict[str, Any] = {"test": test, "value": number_or_word(value),
                            "date": date(row, "date")}
    for column in ("unit",):
        if row.get(column) not in (None, ""):
            item[column] = str(row[column])
    for column in ("uln", "lln"):
        if row.get(column) not in (None, ""):
            item[column] = numeric(row, column)
    return item
