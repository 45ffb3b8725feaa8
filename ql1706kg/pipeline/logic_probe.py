"""The behavioural check of compositions: a patient with no data at all, screened under a
folder, meets no inclusion criterion that goes through the three-valued logic
(:mod:`.compose`: ``ql:anyOf``, ``ql:allOf``, ``ql:noneOf``, ``ql:appliesWhen``) and is not
eligible. A ``ql:noneOf`` over a condition that a missing fact makes not_met, or an
``ql:anyOf`` with a member met on nothing, would make a patient eligible on missing data; the
static check cannot tell (it depends on what each shape does with nothing), so the folder's
own shapes decide, as for every patient. A composed inclusion criterion that is not
applicable to a patient with no data is refused too: its applicability was decided on
nothing (a condition with no unknown path), and not applicable passes the verdict."""

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
    composed inclusion criterion, or finds it not applicable (an applicability condition
    decided on nothing), or is eligible."""
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
    passed = [f"{cid} ({outcomes[cid]})" for cid in composed
              if outcomes.get(cid) in ("met", "not_applicable")]
    if passed or verdict_of(list(outcomes.values())) == "eligible":
        raise ProbeFailure(
            f"a patient with no data at all passes {', '.join(passed) or 'every criterion'} "
            "through its conditions (ql:anyOf/ql:allOf/ql:noneOf/ql:appliesWhen); a "
            "composition must leave a patient whose data is missing unknown or not_met")
