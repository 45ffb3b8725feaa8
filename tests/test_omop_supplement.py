"""The site supplement of an OMOP run, indexed in a thread while the database is set up
(ql1706kg/inputs/omop/supplement.py Indexing, read.read_omop): its error still comes first and
the CDM is still read; an unreachable database is still reported after it; a run stopped early
(an error, Ctrl-C, a consumer that stops) leaves no thread and no index file behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ql1706kg.errors import EnvironmentFailure, InputError
from ql1706kg.inputs.omop import OmopInput
from ql1706kg.inputs.omop.read import read_omop
from ql1706kg.inputs.omop.supplement import Indexing, Stopped, SupplementIndex

from .conftest import BASE
from .omop_support import duckdb_cdm, read_cdm


@pytest.fixture(scope="module")
def cdm(tmp_path_factory):
    return duckdb_cdm([BASE], tmp_path_factory.mktemp("supplement"))


@pytest.fixture(autouse=True)
def own_temp(tmp_path, monkeypatch) -> Path:
    """Index files are made here, so that a test sees any left behind."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def left_behind(folder: Path) -> list:
    threads = [t.name for t in threading.enumerate() if t.name.startswith("omop-supplement")]
    return [*threads, *(p.name for p in folder.iterdir())]


def supplement(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "supplement.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


BAD = {"not UTF-8": b"patient,element,value\n1,icf_signed,\xff\xfe\n",
       "no patient column": "person,element,value\n1,icf_signed,2026-11-10\n"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_an_unreadable_supplement_is_the_first_error_and_the_cdm_is_still_read(
        cdm, tmp_path, own_temp, kind):
    url, _ = cdm
    items = read_cdm(OmopInput(url, supplement=supplement(tmp_path, BAD[kind])))
    assert isinstance(items[0], InputError) and "supplement.csv" in items[0].source
    assert [i.raw["id"] for i in items[1:]] == ["1"]
    assert left_behind(own_temp) == []


def test_an_unreachable_database_comes_after_the_supplements_error(tmp_path, own_temp):
    spec = OmopInput(f"duckdb://{tmp_path}/absent.duckdb",
                     supplement=supplement(tmp_path, BAD["not UTF-8"]))
    items = read_omop(spec, validate=False)
    assert isinstance(next(items), InputError)
    with pytest.raises(EnvironmentFailure, match=r"absent\.duckdb"):
        next(items)
    assert left_behind(own_temp) == []


def test_a_run_stopped_after_its_first_person_leaves_nothing_behind(cdm, own_temp):
    url, written = cdm
    items = read_omop(OmopInput(url, supplement=written.files["supplement"]), validate=False)
    assert next(items).id == "1"
    assert len(list(own_temp.iterdir())) == 1  # the index, while the run lasts
    items.close()
    assert left_behind(own_temp) == []


def test_indexing_stopped_midway_leaves_nothing_behind(tmp_path, own_temp):
    rows = "".join(f"{p},icf_signed,2026-11-10\n{p},able_to_comply,yes\n"
                   for p in range(20_000))
    path = supplement(tmp_path, "patient,element,value\n" + rows)
    indexing = Indexing(path)
    indexing.close()  # at once: stopped at its next person, or closed if it was done
    assert left_behind(own_temp) == []
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        SupplementIndex(path, stop)
    assert left_behind(own_temp) == []
    indexing = Indexing(path)
    index = indexing.result()
    assert [name for name in left_behind(own_temp) if name.startswith("omop-")] == []
    assert len(list(own_temp.iterdir())) == 1  # the index, until the run ends
    assert isinstance(index, SupplementIndex) and len(list(index.persons())) == 20_000
    indexing.close()
    assert left_behind(own_temp) == []


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_ctrl_c_or_a_failure_while_the_run_is_set_up_leaves_nothing_behind(
        cdm, own_temp, monkeypatch, failure):
    """Ctrl-C stops the indexing; any other failure is raised after the supplement's error,
    as when the supplement was read before the database was opened."""
    url, written = cdm

    def fails(*args):
        raise failure("while set up")

    monkeypatch.setattr("ql1706kg.inputs.omop.read.compute", fails)
    with pytest.raises(failure, match="while set up"):
        list(read_omop(OmopInput(url, supplement=written.files["supplement"]), False))
    assert left_behind(own_temp) == []
