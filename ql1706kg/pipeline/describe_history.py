"""Facts of the history in words: regimens, metastases, supportive care, pregnancies, a
screening result the data could not choose, and facts set aside as untrusted.

Mixed into :class:`~.describe.FactDescriber`, which supplies the graph, the terminology, the
label lookup and the observation's description.
"""

from __future__ import annotations

from rdflib import Literal

from ..protocol.namespaces import QL, RDF, RDFS
from .wording import fmt_number

_TRUE = Literal(True)  # made once: rdflib's Literal constructor is ~8 µs


class HistoryDescriber:
    """Describers of the history's facts (``self.g``, ``self.label_of`` and
    ``self.describe_observation`` come from :class:`~.describe.FactDescriber`)."""

    def describe_choice(self, node) -> str:
        """A screening result the data could not choose: its candidates."""
        candidates = sorted(self.describe_observation(c)
                            for c in self.g.objects(node, QL.candidateResult))
        return (f"{self.label_of(self.g.value(node, QL.test))}: the screening result is one "
                f"of {'; '.join(candidates)}" if len(candidates) > 1 else
                f"{candidates[0] if candidates else 'no result'} (may lie outside the "
                f"screening window)")

    def describe_pregnancy(self, node) -> str:
        g = self.g
        parts = []
        for prop, words in ((QL.effectiveDate, "recorded on"), (QL.startDate, "from"),
                            (QL.endDate, "to")):
            value = g.value(node, prop)
            if value is not None:
                parts.append(f"{words} {value}")
        if g.value(node, QL.ongoing) == _TRUE:
            parts.append("ongoing")
        return "pregnancy" + (f" ({', '.join(parts)})" if parts else "")

    def describe_untrusted(self, node) -> str:
        """A fact set aside as untrusted: where, which field, and why."""
        g = self.g
        where = " ".join(str(v) for v in (g.value(node, QL.sourceRef),
                                          g.value(node, QL.sourceField)) if v is not None)
        what = str(g.value(node, QL.recordSection) or "a fact")
        test = g.value(node, QL.test)
        if test is not None:
            what += f" ({self.label_of(test)})"
        elif g.value(node, RDFS.label) is not None:
            what += f" ({g.value(node, RDFS.label)})"
        return (f"{what} set aside" + (f" from {where}" if where else "")
                + f": {g.value(node, QL.setAsideReason) or 'not trusted'}")

    def describe_therapy(self, therapy) -> str:
        g = self.g
        drugs = []
        for drug in sorted(g.objects(therapy, QL.includesDrug), key=str):
            name = self.label_of(drug)
            if (drug, RDF.type, QL.UnrecognisedDrug) in g:
                name += " (not in the terminology: class unknown)"
            drugs.append(name)
        name = g.value(therapy, RDFS.label)
        text = (f"{name}: " if name is not None else "regimen: ") + " + ".join(drugs)
        start, end = g.value(therapy, QL.startDate), g.value(therapy, QL.endDate)
        if start is not None:
            text += f" from {start}" + (f" to {end}" if end is not None else "")
        if g.value(therapy, QL.ongoing) == _TRUE:
            text += " (ongoing)"
        if g.value(therapy, QL.stoppedForIntolerance) == _TRUE:
            text += ", stopped for intolerance"
        if g.value(therapy, QL.metastasisAfterStart) == _TRUE:
            text += ", metastasis found after it started"
        return text

    def describe_metastasis(self, met) -> str:
        g = self.g
        when = g.value(met, QL.effectiveDate)
        text = f"metastasis: {self.label_of(g.value(met, QL.site))}" + (
            f" (found {when})" if when is not None else "")
        resolved = g.value(met, QL.resolvedDate)
        if resolved is not None:
            text += f", resolved {resolved}"
        elif g.value(met, QL.resolved) == _TRUE:
            text += ", resolved"
        return text

    def describe_supportive_care(self, event) -> str:
        g = self.g
        product = g.value(event, QL.product)
        text = self.label_of(product)
        if (product, RDF.type, QL.UnrecognisedDrug) in g:
            text += " (not in the terminology)"
        when = g.value(event, QL.effectiveDate)
        start, end = g.value(event, QL.startDate), g.value(event, QL.endDate)
        ongoing = g.value(event, QL.ongoing) == _TRUE
        if when is not None:
            text += f" on {when}"
        elif start is not None or end is not None or ongoing:
            text += " (a course" + (f" from {start}" if start is not None else "") + (
                f" to {end}" if end is not None else "") + (", ongoing" if ongoing else "") + ")"
        else:
            text += " (undated)"
        days, lab = g.value(event, QL.daysBeforeScreeningLab), g.value(event,
                                                                       QL.relatedScreeningLab)
        if days is not None and lab is not None:
            text += (f", {fmt_number(days)} days before the "
                     f"{self.label_of(g.value(lab, QL.test))} of "
                     f"{g.value(lab, QL.effectiveDate)}")
        return text
