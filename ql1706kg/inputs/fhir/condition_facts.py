"""Conditions that are facts of their own, not the cancer under study: a metastasis (with its
site, when it was found and whether it is over), a pregnancy (a course: current, or over on a
date), and what makes a Condition one to set aside (not confirmed). Mixed into
:class:`~.conditions.ConditionReader`, whose state it uses: :meth:`resolved_on` reads the
Condition's clinical status and ``abatement[x]`` as the semantics layer gave them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .codes import _text
from .entries import Entry
from .semantics import Reading
from .timing import When, record_date


class ConditionFactsReader:
    """Metastases and pregnancies of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    rec: dict[str, Any]
    reading: Reading
    set_aside: Callable[..., tuple[bool, str]]

    def uncertain_here(self, entry: Entry) -> bool:
        """Whether the Condition being read is uncertain and must be set aside (not when it is
        being read only to tell what it would say)."""
        return self.reading.status.category == "uncertain" and not self.__dict__.get(
            "shadowing")

    def add_metastasis(self, entry: Entry, when: When | None, site: str | None = None
                       ) -> tuple[bool, str]:
        """A metastasis with its site and the date it was found; one that is over (resolved,
        inactive, in remission, or abated) says so (``resolved``: the date, or true), so it no
        longer changes a limit; one not confirmed is set aside."""
        if self.uncertain_here(entry):
            return self.set_aside(entry, "Condition.verificationStatus",
                                  f"{self.reading.status.said}: not a confirmed metastasis")
        data = entry.data
        sites = data.get("bodySite") or []
        site = site or (_text(sites[0]) if sites and isinstance(sites[0], dict) else None)
        item: dict[str, Any] = {"site": site or "unspecified site"}
        written = record_date(when)
        if written:
            item["date"] = written
        resolved = self.resolved_on()
        if resolved is not None:
            item["resolved"] = resolved
        self.rec.setdefault("metastases", []).append(item)
        over = " (over)" if "resolved" in item else ""
        return True, f"a metastasis{over}: {item['site']}"

    def resolved_on(self) -> str | bool | None:
        """When the Condition being read was over (its abatement's date), True when it is over
        on a date not given (a status resolved, inactive or in remission; an abatement as an
        age or a string), None when it is not over."""
        reading = self.reading
        if reading.status.category != "resolved" and not reading.abated:
            return None
        ended = reading.ended
        return record_date((ended.end or ended.start) if ended is not None else None) or True

    def add_pregnancy(self, entry: Entry, when: When | None) -> tuple[bool, str]:
        """A pregnancy recorded as a Condition (``reproductive.pregnancies``): current, it runs
        from its onset up to the assessment date (a pregnancy criterion cannot be met whatever
        a test says);
        over, it ran to its abatement (one over with no date of its end is no pregnancy now);
        not confirmed, it is set aside."""
        reading = self.reading
        if self.uncertain_here(entry):
            return self.set_aside(entry, "Condition.verificationStatus",
                                  f"{reading.status.said}: a pregnancy not confirmed")
        item: dict[str, Any] = {}
        if record_date(when):
            item["start"] = record_date(when)
        if reading.status.category == "resolved" or reading.abated:
            ended = reading.ended
            end = record_date((ended.end or ended.start) if ended is not None else None)
            if end is None:
                return False, (f"a pregnancy that is over ({reading.status.said or 'abated'}), "
                               "with no date of its end")
            item["end"] = end
        else:
            item["ongoing"] = True
        self.rec.setdefault("reproductive", {}).setdefault("pregnancies", []).append(item)
        return True, ("a pregnancy " + ("on record until " + item["end"] if "end" in item
                                        else "that has not ended"))

