"""Which resources a criterion can use: only those are checked against their FHIR models.

Checking a resource against its R4 model is most of the cost of reading FHIR, and most
resources of a real export are results of tests no criterion reads (tumour markers, genomic
variants, vital signs, smoking status) or procedures other than transfusions. Those are still
read and accounted for (``lift --report`` says why each is ignored), but not modelled: the
reader ignores them on their code alone, and a resource that trips the reader is checked after
all, so a malformed one is still reported as such. Every other resource of a type the protocol
uses is checked before it is read, as always.

The test here is the readers' own, made cautious: a resource is one a criterion can use when
any reader could take it by its code, profile or components; when in doubt (an element of an
unexpected shape), it is.
"""

from __future__ import annotations

import orjson

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import _project_code, lookup
from .disease_observations import (
    PROFILE_HISTOLOGY,
    PROFILE_HISTORY,
    PROFILE_M_CATEGORY,
    PROFILE_STAGE_GROUP,
    concept_term,
    metastasis_site,
)
from .elements import element_table
from .medications import _therapy_procedure
from .observations import _test_of
from .values import reading_rules

UNREAD = frozenset(kind for kind, item in element_table().unread.items() if item["carries"])
_PROFILES = (PROFILE_HISTOLOGY, PROFILE_HISTORY, PROFILE_M_CATEGORY, PROFILE_STAGE_GROUP)


def can_be_used(term: Terminology, kind: str, data: dict) -> bool:
    """Whether any criterion could use this resource (of a type the protocol uses)."""
    try:
        if kind == "Observation":
            key = _key(data)
            found = _SEEN.get(key) if key is not None else None
            if found is None:
                found = _observation(term, data)
                if key is not None:
                    if len(_SEEN) > 4_096:
                        _SEEN.clear()
                    _SEEN[key] = found
            return found
        if kind == "Procedure":
            return lookup(term, data.get("code") or {}, QL.HaematologicSupportProduct) is not None \
                or _therapy_procedure(data.get("code"))
        if kind in UNREAD:  # read only to be set aside: never as R4 facts
            return False
    except Exception:  # an element of an unexpected shape: check it against its model
        return True
    return True


def _key(data: dict) -> bytes | None:
    """What the answer for an Observation depends on (its code, profiles and components'
    codes), as a key: exports repeat the same tests over and over."""
    meta, components = data.get("meta"), data.get("component")
    try:
        return orjson.dumps([
            data.get("code"), meta.get("profile") if isinstance(meta, dict) else meta,
            [c.get("code") if isinstance(c, dict) else c for c in components]
            if isinstance(components, list) else components])
    except (TypeError, orjson.JSONEncodeError):
        return None


_SEEN: dict[bytes, bool] = {}


def _observation(term: Terminology, data: dict) -> bool:
    code = data.get("code")
    if _project_code(code):
        return True
    profiles = (data.get("meta") or {}).get("profile") or []
    if not isinstance(profiles, list):
        return True
    written = " ".join(p for p in profiles if isinstance(p, str)).casefold()
    if any(profile in written for profile in _PROFILES):
        return True
    if concept_term(term, code, QL.DiseaseObservationKind)[0] is not None:
        return True
    if metastasis_site(term, code, QL.MetastasisHistoryCode)[0]:
        return True
    rules = reading_rules()
    if rules.term_of(code, QL.PerformanceStatusScale) is not None \
            or rules.coded(code, QL.PregnancyStatus):
        return True
    components = data.get("component") or []
    if not isinstance(components, list):
        return True
    for part in [data, *components]:
        if not isinstance(part, dict):
            return True
        if _test_of(term, part.get("code"))[0] is not None \
                or lookup(term, part.get("code"), QL.Test) is not None:
            return True
    return False
