"""The behavioural check of compositions: a patient with no data at all, screened under a
folder, meets no inclusion criterion that goes through the three-valued logic
(:mod:`.compose`: ``ql:anyOf``, ``ql:allOf``, ``ql:noneOf``, ``ql:appliesWhen``) and is not
eligible. A ``ql:noneOf`` over a condition that a missing fact makes not_met, or an
``ql:anyOf`` with a member met on nothing, would make a patient eligible on missing data; the
static check cannot tell (it depends on what each shape does with nothing), so the folder's
own shapes decide, as for every patient."""

from __future__ import annotations

from pathlib import Path

from ..protocol.resources import protocol
from ..protocol.terminology import terminology
from .assessment import Assessment
from .judge import criterion_outcomes, verdict_of
from .protocol_probe import ProbeFailure, _record_graph, probe_records
from .validate import shapes, validate_graphs

NO_DATA = {"id": "no-data-probe"}


def no_data_probe(folder: Path) -> None:
    """Refuse (:class:`ProbeFailure`) a folder under which a patient with no data meets a
    composed inclusion criterion or is eligible."""
    as_of, _records = probe_records()
    with protocol(folder):
        term = terminology()
        composed = [cid for cid, crit in term.criteria.items()
                    if term.logic.composed(cid) and not crit["exclusion"]]
        if not composed:
            return
        made = _record_graph(NO_DATA, Assessment(as_of=as_of))
        if made is None:
            raise ProbeFailure("a patient with no data could not be read under this protocol")
        graph, patient = made
        outcomes = criterion_outcomes(patient, graph, validate_graphs([graph]), shapes(), term)
    met = [cid for cid in composed if outcomes.get(cid) == "met"]
    if met or verdict_of(list(outcomes.values())) == "eligible":
        raise ProbeFailure(
            f"a patient with no data at all meets {', '.join(met) or 'every criterion'} "
            "through its conditions (ql:anyOf/ql:allOf/ql:noneOf/ql:appliesWhen); a "
            "composition must leave a patient whose data is missing unknown or not_met")
