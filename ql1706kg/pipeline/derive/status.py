"""What holds on the assessment date: metastases not resolved, conditions found and not
resolved, pregnancies that cover the date.

A metastasis resolved on or before the assessment date no longer raises the liver limits
(``ql:hasCurrentMetastasis`` leaves it out; it is still metastatic disease, before or after a
regimen). A condition record links the patient to its condition (``ql:hasCondition``) while it
holds. A pregnancy that covers the assessment date is a ``ql:currentPregnancy``. When
the dates cannot tell (a metastasis resolved in the month of the assessment, a pregnancy with
no end), the link is made but holds only possibly (``ql:onlyPossiblyVia``): the criterion is
then decided only when both readings agree.
"""

from __future__ import annotations

from datetime import date

from rdflib import URIRef
from rdflib.term import Node

from ...protocol.namespaces import QL
from ..uncertain import possibly
from .base import DeriveBase, span

_TRUE = "true"


class StatusDeriver(DeriveBase):
    """Metastases, conditions and pregnancies on the assessment date."""

    def resolved_by(self, node: Node) -> bool | None:
        """Whether a fact resolved on or before the assessment date: True, False, or None
        when its date of resolution cannot tell."""
        g, as_of = self.g, self.a.as_of
        if str(g.value(node, QL.resolved)) == _TRUE:
            return True
        when = span(g, node, QL.resolvedDate)
        if when is None or when.first > as_of:
            return False
        return True if when.last <= as_of else None

    def derive_current(self) -> None:
        g, p = self.g, self.p
        for met in list(g.objects(p, QL.hasMetastasis)):
            self.link_unless_resolved(met, met, QL.hasCurrentMetastasis, "metastasis")
        for record in list(g.objects(p, QL.hasConditionRecord)):
            condition = g.value(record, QL.condition)
            if condition is not None:
                self.link_unless_resolved(record, condition, QL.hasCondition, "condition")
        for pregnancy in list(g.objects(p, QL.hasPregnancy)):
            covers = self.covers_assessment(pregnancy)
            if covers is False:
                continue
            g.add((p, QL.currentPregnancy, pregnancy))
            if covers is None or g.value(pregnancy, QL.onlyPossiblyVia) is not None:
                possibly(g, pregnancy, QL.currentPregnancy, "the dates of this pregnancy cannot "
                         f"tell whether it covers the assessment date {self.a.as_of}")

    def link_unless_resolved(self, record: Node, target: Node, link: URIRef,
                             words: str) -> None:
        """Link ``target`` by ``link`` unless ``record`` resolved by the assessment date;
        only possibly when that, or the record itself, cannot be told."""
        g = self.g
        resolved = self.resolved_by(record)
        if resolved is True:
            return
        sure = resolved is False and g.value(record, QL.onlyPossiblyVia) is None
        if (self.p, link, target) in g:
            if sure:  # a certain record of the same condition: no doubt left
                g.remove((target, QL.onlyPossiblyVia, link))
            return
        g.add((self.p, link, target))
        if not sure:
            possibly(g, target, link, f"this {words} may have resolved (or begun) only "
                     f"around the assessment date {self.a.as_of}")

    def covers_assessment(self, pregnancy: Node) -> bool | None:
        """Whether a pregnancy covers the assessment date: True, False, or None (cannot
        tell)."""
        g, as_of = self.g, self.a.as_of
        seen, start, end = (span(g, pregnancy, prop) for prop in (
            QL.effectiveDate, QL.startDate, QL.endDate))
        ongoing = str(g.value(pregnancy, QL.ongoing)) == _TRUE
        # when it began: a start, or on or before a day it was seen (else: before as-of)
        began_latest = start.last if start else (seen.last if seen else date.min)
        began_earliest = start.first if start else date.min
        # when it ended: ongoing runs to as-of; an end; on or after a day it was seen
        if ongoing:
            ended_earliest, ended_latest = as_of, date.max
        elif end is not None:
            ended_earliest, ended_latest = end.first, end.last
        else:
            ended_earliest = seen.first if seen else began_earliest
            ended_latest = date.max
        if began_latest <= as_of <= ended_earliest:
            return True
        if began_earliest > as_of or ended_latest < as_of:
            return False
        return None
