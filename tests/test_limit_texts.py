"""One number, one place (issue 14): every numeric limit of the 28 criteria is one literal in the
shapes; each text that states it is rendered from it. For each limit, enumerated from the shapes
graph, a copy of the protocol with that literal moved by one unit moves the outcome of a patient
built at the old limit, and no output (JSON, text, verdict RDF, HTML page, ``criteria``,
published records) still states the old number as that criterion's limit."""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef

from ql1706kg import screen
from ql1706kg.outputs import report_html
from ql1706kg.outputs.render import render_text, verdict_graph
from ql1706kg.pipeline.derive import add_months
from ql1706kg.pipeline.validate import shapes
from ql1706kg.protocol.namespaces import QL, SH
from ql1706kg.protocol.resources import bundled_data_dir, protocol, query_dir
from ql1706kg.protocol.terminology import terminology
from ql1706kg.protocol.texts import PLACEHOLDER, format_decimal, used_shapes
from ql1706kg.semweb.publish import records

AS_OF = date(2026, 11, 20)
LAB_DAY = "2026-11-12"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples/patients/eligible-leiomyosarcoma.json"
NUMERIC = (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive)


def _raw_shapes() -> Graph:
    graph = Graph()
    for path in sorted(bundled_data_dir("shapes").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def _local(node) -> str:
    return str(node).rsplit("#", 1)[-1]


def _child(graph: Graph, parent, child) -> bool:
    """Whether ``child`` is used by ``parent`` directly (not through another shape)."""
    return child in used_shapes(graph, parent) and not any(
        child in used_shapes(graph, other) for other in used_shapes(graph, parent)[1:]
        if other != child and isinstance(other, URIRef))


def _limits() -> list[tuple[str, str, str, URIRef, Decimal]]:
    """(criterion, owning named shape, constrained path, predicate, value) of every numeric
    limit literal, each once, attributed through the shapes a criterion shape uses."""
    graph = _raw_shapes()
    owner: dict = {}
    for named in {s for s in graph.subjects() if isinstance(s, URIRef)}:
        stack = [named]
        while stack:  # its own blank nodes, not those of the named shapes it uses
            node = stack.pop()
            for child in used_shapes(graph, node)[1:]:
                if isinstance(child, BNode) and child not in owner and _child(graph, node,
                                                                               child):
                    owner[child] = named
                    stack.append(child)
    criteria: dict = {}
    for top in graph.subjects(QL.criterion, None):
        for node in used_shapes(graph, top):
            criteria.setdefault(node, set()).add(_local(graph.value(top, QL.criterion)))
    found = {}
    for predicate in NUMERIC:
        for node, value in graph.subject_objects(predicate):
            path = graph.value(node, SH.path)
            if path is not None and not isinstance(path, URIRef):
                path = graph.value(path, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"))
                path = graph.value(path, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#first"))
            named = node if isinstance(node, URIRef) else owner[node]
            (crit,) = criteria[node]
            found[(crit, _local(named), _local(path), predicate)] = Decimal(str(value))
    return sorted((c, n, p, pred, v) for (c, n, p, pred), v in found.items())


LIMITS = _limits()


def test_every_limit_is_enumerated_once():
    assert 25 <= len(LIMITS) <= 35
    assert {c for c, *_ in LIMITS} >= {"IC2", "IC6", "IC9.1-ANC", "IC9.3-CR", "IC9.5-UPRO"}


def _record(**changes) -> dict:
    record = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    record.update(changes)
    return record


def _with_test(record: dict, test: str, value, unit=None, uln=None) -> dict:
    record["observations"] = [o for o in record["observations"] if o["test"] != test]
    obs = {"test": test, "value": value, "date": LAB_DAY}
    obs.update({k: v for k, v in (("unit", unit), ("uln", uln)) if v is not None})
    record["observations"].append(obs)
    return record


def _angiosarcoma(sums: list[tuple[str, float]]) -> dict:
    record = _record(prior_therapies=[{"name": "paclitaxel", "drugs": ["paclitaxel"],
                                       "start": "2025-03-10", "end": "2025-08-04",
                                       "intolerance": False}],
                     tumour_measurements=[{"date": d, "sum_of_diameters_mm": s} for d, s in sums])
    record["diagnosis"] = dict(record["diagnosis"], histology="angiosarcoma")
    return record


def _grade(rank: Decimal) -> str:
    term = terminology()
    (grade,) = [g for g, r in term.ranks.items() if r == rank and term.is_a(g, QL.DipstickGrade)]
    return term.label(grade).rsplit(" ", 1)[-1]


def _lesion(kind: str, method: str, size: float) -> dict:
    lesion = {"kind": kind, "method": method, "site": "lung", "date": "2026-11-06"}
    lesion["short_axis_mm" if kind == "lymph_node" else "longest_diameter_mm"] = size
    if method == "CT":
        lesion["slice_thickness_mm"] = 1
    return _record(lesions=[lesion])


def patient_at(named: str, path: str, value: Decimal) -> dict:
    """A record whose measured value is exactly ``value`` for the limit of shape ``named``."""
    v = float(value)
    builders = {
        ("IC1-ConsentSigned", "daysBeforeAssessment"): lambda: _record(consent={
            "icf_signed": (AS_OF - timedelta(days=int(value))).isoformat(),
            "able_to_comply": True}),
        ("IC2-AgeRange", "normalisedValue"): lambda: _record(
            birth_date=date(2026 - int(value), 11, 10).isoformat()),
        ("QualifyingProgression", "sumRatio"): lambda: _angiosarcoma(
            [("2026-05-01", 100), ("2026-06-01", 100 * v)]),
        ("QualifyingProgression", "calendarMonthsApart"): lambda: _angiosarcoma(
            [("2026-05-01", 100), (add_months(date(2026, 5, 1), int(value)).isoformat(), 150)]),
        ("MeasurableNonNodalByCTOrMRI", "longestDiameterMm"): lambda: _lesion(
            "non_nodal", "CT", v),
        ("MeasurableNonNodalByCaliper", "longestDiameterMm"): lambda: _lesion(
            "non_nodal", "caliper", v),
        ("MeasurableNonNodalByChestXRay", "longestDiameterMm"): lambda: _lesion(
            "non_nodal", "chest_x_ray", v),
        ("MeasurableLymphNode", "shortAxisMm"): lambda: _lesion("lymph_node", "CT", v),
        ("IC8.1-Limit", "ordinalRank"): lambda: _with_test(_record(), "ECOG", v),
        ("IC8.2-Limit", "normalisedValue"): lambda: _record(
            expected_survival={"value": v, "unit": "days", "date": "2026-11-16"}),
        ("GivenWithinSupportiveCareLookback", "daysBeforeScreeningLab"): lambda: _record(
            supportive_care=[{"product": "filgrastim", "date": (
                date.fromisoformat(LAB_DAY) - timedelta(days=int(value))).isoformat()}]),
        ("IC9.1-ANC-Limit", "normalisedValue"): lambda: _with_test(_record(), "ANC", v, "10*9/L"),
        ("IC9.1-PLT-Limit", "normalisedValue"): lambda: _with_test(
            _record(), "platelets", v, "10*9/L"),
        ("IC9.1-HB-Limit", "normalisedValue"): lambda: _with_test(
            _record(), "haemoglobin", v, "g/L"),
        ("IC9.2-ALB-Limit", "normalisedValue"): lambda: _with_test(_record(), "albumin", v, "g/L"),
        ("IC9.2-AST-Limit", "ratioToULN"): lambda: _with_test(_record(), "AST", 40 * v, "U/L", 40),
        ("IC9.2-AST-LimitWithLiverMetastasis", "ratioToULN"): lambda: _with_test(_record(
            metastases=[{"site": "liver", "date": "2025-02-20"}]), "AST", 40 * v, "U/L", 40),
        ("IC9.2-ALT-Limit", "ratioToULN"): lambda: _with_test(_record(), "ALT", 40 * v, "U/L", 40),
        ("IC9.2-ALT-LimitWithLiverMetastasis", "ratioToULN"): lambda: _with_test(_record(
            metastases=[{"site": "liver", "date": "2025-02-20"}]), "ALT", 40 * v, "U/L", 40),
        ("IC9.2-TBIL-Limit", "ratioToULN"): lambda: _with_test(
            _record(), "total bilirubin", 20 * v, "umol/L", 20),
        ("IC9.2-TBIL-LimitWithGilbertSyndrome", "ratioToULN"): lambda: _with_test(
            _record(conditions=["Gilbert syndrome"]), "total bilirubin", 20 * v, "umol/L", 20),
        ("IC9.3-CR-CreatinineWithinLimit", "ratioToULN"): lambda: _with_test(_with_test(
            _record(), "creatinine", 100 * v, "umol/L", 100), "creatinine clearance", 20,
            "mL/min"),
        ("IC9.3-CR-ClearanceWithinLimit", "normalisedValue"): lambda: _with_test(_with_test(
            _record(), "creatinine", 300, "umol/L", 100), "creatinine clearance", v, "mL/min"),
        ("IC9.4-APTT-Limit", "ratioToULN"): lambda: _with_test(_record(), "APTT", 30 * v, "s", 30),
        ("IC9.4-INR-Limit", "normalisedValue"): lambda: _with_test(_record(), "INR", v, "{INR}"),
        ("IC9.4-PT-Limit", "ratioToULN"): lambda: _with_test(_record(), "PT", 12 * v, "s", 12),
        ("IC9.5-UPRO-DipstickWithinLimit", "ordinalRank"): lambda: _with_test(
            _record(), "urine protein dipstick", _grade(value)),
        ("IC9.5-UPRO-Urine24hWithinLimit", "normalisedValue"): lambda: _with_test(_with_test(
            _record(), "urine protein dipstick", "2+"), "24-hour urine protein", 1000 * v,
            "mg/(24.h)"),
        ("IC9.6-LVEF-Limit", "normalisedValue"): lambda: _with_test(_record(), "LVEF", v, "%"),
    }
    record = copy.deepcopy(builders[(named, path)]())
    record["id"] = f"AT-{named}-{path}"
    return record


def _moved(predicate: URIRef, value: Decimal) -> Decimal:
    """A value one unit away that puts a patient at ``value`` on the other side."""
    return value + 1 if predicate in (SH.minInclusive, SH.maxExclusive) else value - 1


def _protocol_copy(tmp: Path, named: str, predicate: URIRef, old: Decimal,
                   new: Decimal) -> Path:
    """The bundled protocol in ``tmp``, the one literal changed in its shapes file."""
    for part in ("ontology", "shapes"):
        shutil.copytree(bundled_data_dir(part), tmp / part)
    shutil.copytree(query_dir(), tmp / "queries")
    changed = 0
    for path in sorted((tmp / "shapes").glob("*.ttl")):
        graph = Graph().parse(path, format="turtle")
        subject = URIRef(str(QL).replace("#", "/shapes#") + named)
        nodes = [n for n in used_shapes(graph, subject)] if (subject, None, None) in graph else []
        for node in nodes:
            for value in list(graph.objects(node, predicate)):
                if Decimal(str(value)) == old:
                    graph.remove((node, predicate, value))
                    graph.add((node, predicate, Literal(new)))
                    changed += 1
                    graph.serialize(path, format="turtle")
    assert changed == 1, (named, predicate, changed)
    return tmp


def _number_stated(text: str, number: Decimal) -> bool:
    written = re.escape(format_decimal(number))
    return re.search(rf"(?<![\w.\-]){written}(?![\w\-+]|\.\d)", text) is not None


def _criterion_texts(cid: str) -> set[str]:
    """The texts of a criterion that the current protocol renders: shape names, messages,
    the criterion's rule and collect hint."""
    crit = terminology().criteria[cid]
    out = {crit["rule"], crit["collect"]}
    for info in shapes().by_criterion(cid):
        out |= {info.name, info.message}
    return {t for t in out if t}


def _outputs(screening, patient) -> dict[str, str]:
    literals = " ".join(str(o) for o in verdict_graph(screening).objects() if isinstance(o,
                                                                                       Literal))
    return {
        "json": json.dumps(screening.as_dict(), ensure_ascii=False),
        "text": render_text(screening),
        "rdf": literals,
        "html": html.unescape(report_html.patient_page(patient, screening)),
        "criteria": json.dumps(list(terminology().criteria.values()), default=str,
                               ensure_ascii=False),
        "publish": json.dumps([records.research_study_fhir(), records.medical_trial_jsonld()],
                              ensure_ascii=False),
    }


@pytest.mark.parametrize("limit", LIMITS, ids=lambda lim: f"{lim[0]}-{lim[1]}-{lim[2]}")
def test_changing_a_limit_moves_the_outcome_and_every_text(limit, tmp_path):
    cid, named, path, predicate, old = limit
    new = _moved(predicate, old)
    record = patient_at(named, path, old)
    before = screen([record], as_of=AS_OF).patients[0].outcome(cid)
    old_texts = _criterion_texts(cid)
    with protocol(_protocol_copy(tmp_path, named, predicate, old, new)):
        screening = screen([record], as_of=AS_OF)
        patient = screening.patients[0]
        assert patient.outcome(cid) != before, (cid, before)
        stale = old_texts - _criterion_texts(cid)
        assert stale, "no text states the limit"
        outputs = _outputs(screening, patient)
        result = next(c for c in patient.criteria if c.id == cid)
    for name, text in outputs.items():
        for old_text in stale:
            assert old_text not in text, (name, old_text)
    said = result.explanation.replace(f'"{result.text}"', "")
    for fact in result.evidence:
        said = said.replace(fact, "")
    twins = [v for c, n, _p, _q, v in LIMITS if c == cid and n != named and v == old]
    assert twins or not _number_stated(said, old), said  # an equal limit may say its own
    shown_in = ("json", "rdf", "html") + (("text",) if result.outcome in ("met", "not_met") else ())
    for name in shown_in:
        flat = " ".join(outputs[name].replace("\\n", " ").split())
        assert all(" ".join(t.split()) in flat for t in result.limits), name


def test_no_text_restates_a_limit_of_its_criterion():
    """The guard: outside the protocol's quotations, no shape or criterion text holds a bare
    number equal to one of its criterion's limit literals (each is a placeholder)."""
    graph = _raw_shapes()
    ontology = Graph()
    for path in sorted(bundled_data_dir("ontology").glob("*.ttl")):
        ontology.parse(path, format="turtle")
    by_criterion: dict[str, set[Decimal]] = {}
    for cid, _named, _path, _pred, value in LIMITS:
        by_criterion.setdefault(cid, set()).add(value)
    texts = (SH.name, SH.message, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"),
             QL.collectHint, QL.ruleAsRead, QL.dataNeeded)
    checked = 0
    for top in graph.subjects(QL.criterion, None):
        cid = _local(graph.value(top, QL.criterion))
        crit = next(ontology.subjects(QL.criterionId, Literal(cid)))
        for node in used_shapes(graph, top):
            for prop in texts:
                for text in [*graph.objects(node, prop), *ontology.objects(crit, prop)]:
                    bare = PLACEHOLDER.sub("", str(text))
                    for number in by_criterion.get(cid, ()):
                        assert not _number_stated(bare, number), (cid, str(text))
                    checked += 1
    assert checked > 100
