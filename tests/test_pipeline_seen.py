"""The run's used patient ids (pipeline/seen.py): kept on disk, given back as put."""

from __future__ import annotations

from ql1706kg.pipeline.seen import SeenIds


def test_ids_sources_and_fingerprints_come_back_as_put_whatever_their_text():
    seen: SeenIds[object] = SeenIds()
    assert seen.get("p1") is None  # nothing opened yet
    seen.put("p1", "cohort.ndjson:1", b"\x01" * 16)
    seen.put("p\udcff", "caf\udce9.json[0]", None)  # a file name that is not UTF-8
    assert seen.get("p1") == ("cohort.ndjson:1", b"\x01" * 16)
    assert seen.get("p\udcff") == ("caf\udce9.json[0]", None)
    assert seen.get("p2") is None
    seen.close()


def test_a_kept_handle_is_replaced_by_its_fingerprint():
    seen: SeenIds[object] = SeenIds()
    handle = object()
    seen.keep("p1", "bundle.json#Patient/p1", handle)
    assert seen.get("p1") == ("bundle.json#Patient/p1", handle)
    seen.put("p1", "bundle.json#Patient/p1", b"\x02" * 16)
    assert seen.get("p1") == ("bundle.json#Patient/p1", b"\x02" * 16)
    seen.close()
