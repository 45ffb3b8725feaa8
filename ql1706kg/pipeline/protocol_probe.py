"""The behavioural protocol check: a folder is screened, not read, before it is used.

Whatever a folder's text says (``sh:minCount 0``, ``sh:deactivated``, a target that matches
nobody, a severity or an outcome the judge ignores, ``sh:or``/``sh:not``/``sh:xone`` tricks,
a renamed IRI, a moved ``sh:path``, an extension of one engine…), the property that matters
is tested directly: synthetic patients whose facts for a criterion are missing, unreadable,
or just outside a limit are screened under the folder, and the folder is refused unless each
of them is ``unknown`` or ``not_met`` on that criterion, and never eligible.

The patients start from the package's probe patients (``protocol/data/probe-patients.json``,
each eligible under the bundled protocol). For every criterion, by its id, the bundled shapes
(in the package, not in the folder) say which values the criterion reads (the full paths from
the patient, :mod:`ql1706kg.protocol.shape_walk`) and where its limits lie; from them:

- *missing*: the patient's links to all of the criterion's facts removed;
- *unreadable*: the facts present, their values removed, or replaced by text that is not a
  value (an observation without a usable number);
- *just outside a limit*, on both sides of it: a value a step beyond each limit (the
  folder's own limit, matched to the bundled one of the same criterion, path and kind), and
  values beyond the range the package allows for that limit (:mod:`ql1706kg.protocol.meta`)
  and at every number the criterion's shapes in the folder state;
- *dropped*: each element of each probe record (a result, a regimen, a field) removed, and
  each result's unit made unreadable, read and derived again under the folder's terminology
  and rule parameters.

The bundled protocol is the oracle of which side of a limit fails for a patient (a criterion
met by another route, such as an investigator's RECIST record, stays met): a perturbation
that leaves the criterion met under the bundled protocol is not a test. Every one that makes
it fail there must make it fail under the folder. The bundled side is cached on disk, so a
check costs the folder's side (about a thousand patients with the compiled evaluator).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
from rdflib import Graph, URIRef

from ..errors import InputError
from ..inputs.records import SourcedRecord, parse_record
from ..protocol.meta import limit_range
from ..protocol.namespaces import QL
from ..protocol.resources import cache_dir, protocol, protocol_hash, read_cache, write_cache
from ..protocol.shape_walk import Bound, bounds, criterion_ids, fact_paths, literals_of
from ..protocol.terminology import terminology
from .assessment import Assessment
from .batch import patient_graph
from .graph import PatientGraph
from .judge import criterion_outcomes, verdict_of
from .lift import patient_iri
from .probe_changes import JUNK, leaves, value_at, without_links
from .shacl_compiled import CompiledShapes
from .validate import Violation, engine, shapes, validate_graph, validate_graphs

PROBES_FILE = Path(__file__).resolve().parents[1] / "protocol" / "data" / "probe-patients.json"
FAILS = ("unknown", "not_met")
UNREADABLE_UNIT = "no-such-unit"
_STEP = Decimal("0.001")  # a step beyond a limit: 0.1 % of it (at least 0.001)


class ProbeFailure(Exception):
    """A synthetic patient the folder lets through; the message says who and how."""


@dataclass(frozen=True)
class Probe:
    """One synthetic patient: which probe patient, what was changed, the criteria it tests
    (None: all), and the change made under the bundled protocol and under the folder."""

    key: tuple
    base: int
    criteria: tuple[str, ...] | None
    what: str
    bundled: Callable[[PatientGraph, URIRef], PatientGraph | None] | dict
    folder: Callable[[PatientGraph, URIRef], PatientGraph | None] | dict


def probe_records() -> tuple[date, list[dict]]:
    document = orjson.loads(PROBES_FILE.read_bytes())
    return date.fromisoformat(document["as_of"]), document["patients"]


# -- the probes -------------------------------------------------------------------------------

def _step(value: Decimal) -> Decimal:
    return max(abs(value), Decimal(1)) * _STEP


def _shown(path: tuple) -> str:
    return " / ".join("ql:" + str(p).rsplit("#", 1)[-1] for p in path)


def _fact_probes(base: int, facts: dict[str, set[tuple]]) -> Iterator[Probe]:
    for cid, paths in sorted(facts.items()):
        listed = ", ".join(sorted(_shown(p) for p in paths))
        changes = (("missing", f"its facts missing ({listed})", without_links(paths)),
                   ("no value", f"its facts recorded without a value ({listed})",
                    leaves(paths, None)),
                   ("unreadable", f"its facts recorded with unreadable values ({listed})",
                    leaves(paths, JUNK)))
        for kind, what, change in changes:
            yield Probe((kind, base, cid), base, (cid,), what, change, change)


def _far(low: Decimal, high: Decimal, sign: int) -> set[Decimal]:
    """Values beyond the range the package allows a limit, on one side."""
    if sign < 0:
        return {low - _step(low), low / 2 if low > 0 else low - 1, Decimal(0), Decimal(-1)}
    return {high + _step(high), high * 2 if high > 0 else high + 1, high * 10 + 1}


def _limit_probes(base: int, bundled: list[Bound], folder: list[Bound],
                  literals: dict[str, set[Decimal]]) -> Iterator[Probe]:
    """Both sides of every limit. The bundled protocol, a step beyond its own limit on one
    side, says whether that side fails; if it does, the folder must fail a step beyond its
    matching limit on that side, beyond the package's allowed range on that side, and at each
    number its shapes state on that side (a trick that singles out a value by number)."""
    keys = sorted({(b.criterion, b.path, b.minimum) for b in bundled if b.path},
                  key=lambda k: (k[0], _shown(k[1]), k[2]))
    for cid, path, minimum in keys:
        kind = "minimum" if minimum else "maximum"
        mine = sorted({b.value for b in bundled if (b.criterion, b.path, b.minimum)
                       == (cid, path, minimum)})
        theirs = sorted({b.value for b in folder if (b.criterion, b.path, b.minimum)
                         == (cid, path, minimum)})
        rule = limit_range(cid, path, minimum)
        low, high = (rule.low, rule.high) if rule else (mine[0], mine[-1])
        for sign in (-1, 1):
            side = "below" if sign < 0 else "above"
            for rank, (ours, its) in enumerate(zip(mine, theirs, strict=False)):
                at, there = ours + sign * _step(ours), its + sign * _step(its)
                yield Probe(("near", base, cid, path, minimum, rank, sign, at, there), base,
                            (cid,), f"{_shown(path)} = {there}, a step {side} its {kind} "
                                    f"{its}", value_at(path, at), value_at(path, there))
            ours = mine[-1] if sign > 0 else mine[0]
            its = (theirs[-1] if sign > 0 else theirs[0]) if theirs else ours
            oracle = ours + sign * _step(ours)
            points = _far(low, high, sign)
            for number in literals.get(cid, set()):
                points.update(number + d for d in (-_step(number), Decimal(0), _step(number)))
            for point in sorted(p for p in points if (p - its) * sign > 0):
                yield Probe(("far", base, cid, path, minimum, sign, oracle, point), base,
                            (cid,), f"{_shown(path)} = {point}, {side} its {kind} {its} "
                                    f"(the package allows it from {low} to {high})",
                            value_at(path, oracle), value_at(path, point))


def _record_probes(base: int, record: dict) -> Iterator[Probe]:
    """Each element of a probe record dropped, and each result's unit made unreadable."""
    def changed(edit: Callable[[dict], None]) -> dict:
        copy = orjson.loads(orjson.dumps(record))
        edit(copy)
        return copy

    for key, value in record.items():
        if key == "id":
            continue
        yield Probe(("drop", base, key), base, None, f"its record without '{key}'",
                    changed(lambda r, k=key: r.pop(k)), changed(lambda r, k=key: r.pop(k)))
        if isinstance(value, dict):
            for inner in value:
                def edit(r, k=key, i=inner):
                    r[k].pop(i)
                yield Probe(("drop", base, key, inner), base, None,
                            f"its record without '{key}.{inner}'", changed(edit), changed(edit))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                def edit(r, k=key, i=index):
                    r[k].pop(i)
                named = item.get("test", index) if isinstance(item, dict) else index
                yield Probe(("drop", base, key, index), base, None,
                            f"its record without {key}[{index}] ({named})",
                            changed(edit), changed(edit))
                if isinstance(item, dict) and "unit" in item:
                    def garble(r, k=key, i=index):
                        r[k][i]["unit"] = UNREADABLE_UNIT
                    yield Probe(("unit", base, key, index), base, None,
                                f"its {named} result in a unit nobody can read",
                                changed(garble), changed(garble))


def build_probes(records: list[dict], bundled_facts: dict[str, set[tuple]],
                 bundled_bounds: list[Bound], folder_bounds: list[Bound],
                 literals: dict[str, set[Decimal]]) -> list[Probe]:
    """Every probe, in a stable order (the same for the bundled side and the folder's)."""
    out: list[Probe] = []
    seen: set[bytes] = set()  # an element several probe records share is dropped once
    for base, record in enumerate(records):
        out += _fact_probes(base, bundled_facts)
        out += _limit_probes(base, bundled_bounds, folder_bounds, literals)
        for probe_ in _record_probes(base, record):
            element = orjson.dumps(_element(record, probe_.key))
            if element not in seen:
                seen.add(element)
                out.append(probe_)
    return out


def _element(record: dict, key: tuple) -> list:
    """What a record probe changes, by content (a list item by its value, not its index)."""
    kind, _base, name, *inner = key
    value = record[name]
    if not inner:
        return [kind, name, value]
    if isinstance(value, list):
        return [kind, name, value[inner[0]]]
    return [kind, name, inner[0], value[inner[0]]]


# -- screening the probes ---------------------------------------------------------------------

@dataclass(frozen=True)
class Screened:
    outcomes: dict[str, str]
    verdict: str


def _screen(graphs: list[tuple[PatientGraph, URIRef]],
            onlys: list[tuple[str, ...] | None]) -> list[Screened]:
    """The outcomes of each graph's patient. With the compiled evaluator, a probe of some
    criteria (``onlys``) validates their shapes alone (the others cost nothing); with
    pySHACL, graphs are validated fifty at a time, each patient renamed apart."""
    index, term = shapes(), terminology()
    fast = index.fast if engine() == "compiled" else None
    if fast is None:
        return _screen_merged(graphs, onlys)
    out = []
    for (graph, patient), only in zip(graphs, onlys, strict=True):
        if only is None:
            outcomes = criterion_outcomes(patient, graph, validate_graphs([graph]), index,
                                          term)
            out.append(Screened(outcomes, verdict_of(list(outcomes.values()))))
            continue
        mine = {s.iri for cid in only for s in index.by_criterion(cid)}
        view = CompiledShapes({s: t for s, t in fast.targets.items() if s in mine},
                              fast.checks)
        violations = [Violation(focus, shape) for focus, shape in view.violations(graph)
                      if shape in index.info]
        outcomes = {cid: outcome for cid, outcome in criterion_outcomes(
            patient, graph, violations, index, term).items() if cid in only}
        out.append(Screened(outcomes, "incomplete" if any(o in FAILS for o in
                                                          outcomes.values()) else ""))
    return out


def _screen_merged(graphs: list[tuple[PatientGraph, URIRef]],
                   onlys: list[tuple[str, ...] | None]) -> list[Screened]:
    """pySHACL: the probes of one set of criteria validated together against those
    criteria's shapes alone, fifty at a time, each patient renamed apart."""
    index, term = shapes(), terminology()
    out: list[Screened | None] = [None] * len(graphs)
    groups: dict[tuple[str, ...] | None, list[int]] = {}
    for number, only in enumerate(onlys):
        groups.setdefault(only, []).append(number)
    for only, numbers in groups.items():
        tops = None if only is None else frozenset(
            s.iri for cid in only for s in index.by_criterion(cid))
        for start in range(0, len(numbers), 50):
            chunk = {n: _renamed(*graphs[n], f"-probe-{n}") for n in numbers[start:start + 50]}
            data = Graph()
            for graph, _patient in chunk.values():
                data += graph
            found = validate_graph(data, tops)
            for n, (graph, patient) in chunk.items():
                outcomes = criterion_outcomes(patient, graph, found, index, term)
                if only is not None:
                    outcomes = {c: o for c, o in outcomes.items() if c in only}
                out[n] = Screened(outcomes, verdict_of(list(outcomes.values())) if only is None
                                  else "")
    return [screened for screened in out if screened is not None]


def _renamed(graph: PatientGraph, patient: URIRef, suffix: str
             ) -> tuple[PatientGraph, URIRef]:
    """The graph with the patient's IRI (and those made from it) renamed, so that several
    probes of one patient can share a data graph."""
    old, inside = str(patient), str(patient) + "/"
    new = URIRef(old + suffix)

    def rename(term):
        if type(term) is URIRef and (term == patient or str(term).startswith(inside)):
            return URIRef(str(new) + str(term)[len(old):])
        return term
    return PatientGraph((rename(s), p, rename(o)) for s, p, o in graph), new


def _record_graph(record: dict, assessment: Assessment) -> tuple[PatientGraph, URIRef] | None:
    parsed = parse_record(record, "probe")
    if not isinstance(parsed, SourcedRecord):
        return None
    return patient_graph(parsed.record, assessment, "probe"), patient_iri(parsed.record.id)


def _run(probes: list[Probe], side: str, records: list[dict], as_of: date,
         only: list[tuple[str, ...] | None] | None = None
         ) -> tuple[list[Screened | None], list[Screened | None]]:
    """Screen the probe patients and every probe under the current protocol (each probe on
    the criteria it tests, or those of ``only``)."""
    assessment = Assessment(as_of=as_of)
    bases = [_record_graph(record, assessment) for record in records]
    made_bases = [b for b in bases if b is not None]
    screened_bases = iter(_screen(made_bases, [None] * len(made_bases)))
    base_results = [next(screened_bases) if b is not None else None for b in bases]
    made: list[tuple[int, tuple[PatientGraph, URIRef]]] = []
    for number, probe_ in enumerate(probes):
        change = getattr(probe_, side)
        if isinstance(change, dict):
            try:
                graph = _record_graph(change, assessment)
            except InputError:
                graph = None
        elif bases[probe_.base] is None:
            graph = None
        else:
            base, patient = bases[probe_.base]
            changed = change(base, patient)
            graph = (changed, patient) if changed is not None else None
        if graph is not None:
            made.append((number, graph))
    onlys = [only[n] if only is not None else probes[n].criteria for n, _g in made]
    results: list[Screened | None] = [None] * len(probes)
    for (number, _graph), screened in zip(made, _screen([g for _n, g in made], onlys),
                                          strict=True):
        results[number] = screened
    return base_results, results


def _bundled_side(probes: list[Probe], records: list[dict], as_of: date
                  ) -> tuple[list, list]:
    """The bundled protocol's outcomes of the probes, cached on disk by the bundled
    protocol's content, this code and the SHACL engine."""
    code = hashlib.sha256(Path(__file__).read_bytes() + PROBES_FILE.read_bytes())
    with protocol(None):
        code.update(f"{protocol_hash()} {engine()}".encode())
        path = cache_dir() / f"protocol-probe-{code.hexdigest()[:16]}.pickle"
        cached = read_cache(path, lambda value: isinstance(value, dict))
        known = cached or {}
        missing = [p for p in probes if p.key not in known]
        if "bases" not in known or missing:
            bases, found = _run(missing, "bundled", records, as_of)
            known = {**known, "bases": bases, **{p.key: r for p, r in zip(missing, found,
                                                                            strict=True)}}
            write_cache(path, pickle.dumps(known))
    return known["bases"], [known[p.key] for p in probes]


def bundled_protocol_graphs() -> tuple[Graph, dict[URIRef, str]]:
    """The bundled shapes graph and criteria ids (the package's own, never a folder's)."""
    with protocol(None):
        term = terminology()
        return shapes().graph, {crit["iri"]: cid for cid, crit in term.criteria.items()}


def probe(folder: Path, folder_shapes: Graph, folder_ontology: Graph) -> int:
    """Screen the probes under ``folder`` (:class:`ProbeFailure` on the first patient the
    folder lets through); return how many synthetic patients were screened under it (those
    that make a criterion fail under the bundled protocol: the others test nothing)."""
    as_of, records = probe_records()
    bundled_graph, bundled_ids = bundled_protocol_graphs()
    folder_ids = criterion_ids(folder_ontology)
    probes = build_probes(records, fact_paths(bundled_graph, bundled_ids),
                          bounds(bundled_graph, bundled_ids), bounds(folder_shapes, folder_ids),
                          literals_of(folder_shapes, folder_ids))
    bundled_bases, bundled = _bundled_side(probes, records, as_of)
    tests: list[tuple[Probe, tuple[str, ...]]] = []
    for probe_, before in zip(probes, bundled, strict=True):
        base = bundled_bases[probe_.base]
        if before is not None and base is not None:
            tested = tuple(cid for cid in (probe_.criteria or before.outcomes)
                           if base.outcomes.get(cid) == "met" and before.outcomes.get(cid)
                           in FAILS)
            if tested:
                tests.append((probe_, tested))
    with protocol(folder):
        kept = set(terminology().criteria)
        tests = [(p, tuple(c for c in tested if c in kept)) for p, tested in tests]
        tests = [(p, tested) for p, tested in tests if tested]
        if engine() != "compiled" or shapes().fast is None:
            tests = _sampled(tests)  # pySHACL costs ~20 ms a probe: two of each family
        _bases, found = _run([p for p, _ in tests], "folder", records, as_of,
                             [tested for _, tested in tests])
    for (probe_, tested), after in zip(tests, found, strict=True):
        if after is None:
            continue  # the folder's probe could not be made (no such value under it)
        for cid in tested:
            if after.outcomes.get(cid) not in FAILS or after.verdict == "eligible":
                raise ProbeFailure(_message(cid, probe_, after, records, folder_shapes,
                                            folder_ids))
    return len(tests)


def _sampled(tests: list[tuple[Probe, tuple[str, ...]]], per_family: int = 3
             ) -> list[tuple[Probe, tuple[str, ...]]]:
    """At most ``per_family`` probes of each family (the same change to the same criteria,
    on the same path and side of a limit), spread over it: the nearest to the limit, the
    farthest, and one between (each at another value)."""
    families: dict[tuple, list[tuple[Probe, tuple[str, ...]]]] = {}
    for probe_, tested in tests:
        key = probe_.key
        if key[0] in ("near", "far"):
            name = (key[0], tested, key[3], key[4], key[5 if key[0] == "far" else 6])
        else:
            name = (key[0], tested, key[2:] if key[0] in ("drop", "unit") else ())
        families.setdefault(name, []).append((probe_, tested))
    out = []
    for members in families.values():
        if members[0][0].key[0] != "far":
            out += members[:per_family]
            continue
        by_point: dict = {}
        for member in members:  # one probe per value (the first probe patient that has it)
            key = member[0].key
            by_point.setdefault(key[-1], (abs(key[-1] - key[-2]), member))
        ranked = [member for _distance, member in sorted(by_point.values(),
                                                         key=lambda item: item[0])]
        picks = {0, len(ranked) - 1, len(ranked) // 2}
        out += [ranked[i] for i in sorted(picks)][:per_family]
    return out


def _message(cid: str, probe_: Probe, after: Screened, records: list[dict], shapes_graph: Graph,
             ids: dict[URIRef, str]) -> str:
    outcome = after.outcomes.get(cid, "not judged")
    tops = sorted({s.n3(shapes_graph.namespace_manager) for s, c in
                   shapes_graph.subject_objects(QL.criterion) if ids.get(c) == cid})
    record_id = records[probe_.base].get("id")
    verdict = f" (verdict {after.verdict})" if after.verdict else ""
    return (f"criterion {cid} (shapes {', '.join(tops) or 'none'}): a synthetic patient "
            f"({record_id}) with {probe_.what} is {outcome} under this protocol{verdict}; a "
            "patient whose data is missing, unreadable or outside a limit must be unknown or "
            "not_met, never eligible")


__all__ = ["FAILS", "Probe", "ProbeFailure", "build_probes", "probe", "probe_records"]
