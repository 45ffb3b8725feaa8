"""Shared fixtures: a complete eligible record, and a way to screen a changed copy of it.

Boundary tables change one element of ``BASE`` and check one criterion's outcome, so each
case reads as a line of the protocol ("AST exactly 2.5 × ULN -> met").
"""

from __future__ import annotations

import copy
import gc
import json
import signal
from pathlib import Path

import pytest
from hypothesis import settings

from ql1706kg import screen

# Property tests are deterministic (the same examples every run, on every machine) and write no
# example database into the working tree; a new seed is a deliberate change, not a CI lottery.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")

AS_OF = "2026-11-20"
DATA_DIR = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"

BASE: dict = json.loads((DATA_DIR / "base-eligible.json").read_text())


def record(**changes) -> dict:
    """Return a copy of the eligible base record with top-level fields replaced."""
    rec = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


def with_observation(rec: dict, test: str, value, unit=None, uln=None, date="2026-11-12",
                     replace: bool = True) -> dict:
    """Return ``rec`` with its observation of ``test`` replaced (or removed when value is None)."""
    rec = copy.deepcopy(rec)
    if replace:
        rec["observations"] = [o for o in rec["observations"] if o["test"] != test]
    if value is not None:
        obs = {"test": test, "value": value, "date": date}
        if unit is not None:
            obs["unit"] = unit
        if uln is not None:
            obs["uln"] = uln
        rec["observations"].append(obs)
    return rec


def outcomes(rec: dict, as_of: str = AS_OF, window_days: int = 28) -> dict[str, str]:
    """Screen one record and return {criterion id: outcome}."""
    result = screen([rec], as_of=as_of, window_days=window_days)
    assert not result.errors, result.errors
    (patient,) = result.patients
    return {c.id: c.outcome for c in patient.criteria}


def explain(rec: dict, criterion: str, as_of: str = AS_OF) -> str:
    """Screen one record and return one criterion's explanation."""
    (patient,) = screen([rec], as_of=as_of).patients
    return next(c.explanation for c in patient.criteria if c.id == criterion)


@pytest.fixture
def base() -> dict:
    """A fresh copy of the eligible base record."""
    return copy.deepcopy(BASE)


def terminal_signals() -> None:
    """``preexec_fn`` of a program a test interrupts: SIGINT handled as at a terminal. A test
    run started in the background (``cmd &``, as a CI script may be) inherits SIGINT ignored,
    and an ignored signal stays ignored across exec: the program would never see the Ctrl-C
    the test sends, and run to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_configure(config) -> None:
    """The controller names the folder the session's PostgreSQL cluster will live in (the
    xdist workers inherit it, so they share one cluster: tests/omop_support.py)."""
    if not hasattr(config, "workerinput"):
        import os
        import tempfile

        from .omop_support import STATE_VARIABLE, sweep_stale_clusters

        folder = tempfile.mkdtemp(prefix="qlpg-", dir="/tmp")
        (Path(folder) / "owner").write_text(str(os.getpid()))
        os.environ[STATE_VARIABLE] = folder
        sweep_stale_clusters(Path(folder))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    """The controller stops and removes the session's PostgreSQL cluster, if one started.
    Then collect the garbage, after the fixtures' teardown, and freeze what is left. Why:
    once a pytest-xdist worker reports that it has finished, execnet gives it 5 seconds to
    end and then sends it SIGINT; pytest's own collections at unconfigure walked every cached
    object of the run and, on a loaded machine, took longer, so a KeyboardInterrupt traceback
    ("Exception ignored in gc_callback") ended an otherwise passing run."""
    if not hasattr(session.config, "workerinput"):
        from .omop_support import stop_cluster

        stop_cluster()
    gc.collect()
    gc.freeze()


def protocol_criteria_rows() -> int:
    """How many rows the ``protocol-criteria`` query gives: one per criterion and limit shape,
    counted with rdflib over the published ontology and shapes (not a number that goes stale
    when the protocol gains a limit)."""
    from rdflib import Dataset, URIRef

    from ql1706kg.semweb.publish.export import publication_graph
    from ql1706kg.semweb.query import named_queries

    dataset = Dataset()
    for what, name in (("ontology", "https://w3id.org/ql1706kg"),
                       ("shapes", "https://w3id.org/ql1706kg/shapes")):
        dataset.graph(URIRef(name)).__iadd__(publication_graph(what))
    return len(list(dataset.query(named_queries()["protocol-criteria"].text)))


# The deep tier: checks against external reasoners, engines and validators, whole-protocol
# behavioural properties, cold caches, killed processes and large generated cohorts. They are
# marked ``slow`` here, in one place, so that the README's test command (``pytest``, which
# deselects them through addopts) stays within its 3 minutes on 2 cores; CI runs them as a
# second tier (``pytest -m slow``, see .ci/run). Entries are node-id prefixes.
DEEP_TIER = (
    "tests/test_owl_profile.py",  # the OWL API (Java) over every document
    "tests/test_registry_records.py::test_another_trials_record_passes",  # DCAT-AP, SARC028
    "tests/test_owl_dl.py",  # HermiT and Pellet over the ontology and the patients
    "tests/test_query_engines.py",  # Jena ARQ and Oxigraph against rdflib
    "tests/test_plain_store.py",  # a real Oxigraph server, push and pseudonyms
    "tests/test_protocol_probe.py",  # hostile protocol folders probed behaviourally
    "tests/test_protocol_safety.py",  # generated folders never admit missing data
    "tests/test_issue20_engines.py",  # pySHACL and the compiled evaluator on every fixture
    "tests/test_distributed.py",  # a Dask cluster
    "tests/test_cold_start.py",  # fresh processes over a cold cache (each a rebuild)
    "tests/test_terminology.py::test_every_code_in_the_ontology_is_in_the_shared_reference",
    "tests/test_shapes_and_ontology.py::test_every_ql_term_used_by_the_code_is_declared",
    "tests/test_shacl_compiled.py::test_engines_agree_on_500_generated_patients",
    "tests/test_shacl_compiled.py::test_generated_patients_exercise_every_outcome",
    "tests/test_publish.py::test_export_round_trips_to_an_isomorphic_graph",
    "tests/test_shapes_and_ontology.py::test_shapes_pass_shacl_shacl",
    "tests/test_reference_reading.py::test_fhir_twins_agree_with_the_reading",
    "tests/test_leftovers.py::test_sigkill_then_resume",
    "tests/test_fhir_bulk.py::test_ctrl_c_removes_the_index_folder",
    "tests/test_sparql_text.py::test_the_check_is_safe_from_many_threads",
    "tests/test_rdf_stream.py::test_cli_streams_from_worker_processes_in_input_order[nquads]",
    "tests/test_rdf_stream.py::test_cli_streams_from_worker_processes_in_input_order[jsonld]",
    # the wheel installed with pip and run as a fresh process; the report in headless Chromium
    "tests/test_packaging.py::test_the_installed_wheel_screens_away_from_the_source_tree",
    "tests/test_report.py::test_renders_in_headless_chromium",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the deep tier (before ``-m`` deselects by marks)."""
    for item in items:
        if item.nodeid.startswith(DEEP_TIER):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def bundled_protocol_after_each_test():
    """A command run in-process with ``--protocol DIR`` leaves DIR the process's current
    protocol (as a real run would until it exits); the next test starts from the bundled one."""
    yield
    from ql1706kg.protocol.resources import use_protocol

    use_protocol(None)


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> Path:
    """The bundled protocol as ``protocol export`` writes it, once a session: tests copy it
    before editing (it is never changed in place)."""
    from click.testing import CliRunner

    from ql1706kg.cli import main
    from ql1706kg.protocol.resources import use_protocol

    folder = tmp_path_factory.mktemp("protocol") / "exported"
    result = CliRunner().invoke(main, ["protocol", "export", str(folder)])
    assert result.exit_code == 0, result.output
    use_protocol(None)
    return folder
