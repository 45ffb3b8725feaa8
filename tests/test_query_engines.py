"""Each named query gives the same JSON results, byte for byte, whichever SPARQL 1.1 engine runs
it on the same dataset (the examples' verdicts as ``export --what verdicts`` writes them, with
the ontology and shapes graphs): Oxigraph (the engine ``query`` and ``serve`` use) and rdflib,
and Apache Jena's ARQ where a working one is installed (``QL1706KG_JENA_CLASSPATH``; Debian's
libapache-jena-java 4.5.0 does not start on this machine kind: its relocated Xerces throws
"internal error" while ARQ initialises, and Maven Central is out of reach).

Every query orders its rows in full, and none concatenates values with ``GROUP_CONCAT``, whose
order SPARQL 1.1 leaves to the engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Dataset, Literal, URIRef
from rdflib.plugins.sparql.parser import parseQuery

from ql1706kg.cli import main
from ql1706kg.semweb.query import named_queries
from ql1706kg.semweb.results import QueryResult, format_result
from ql1706kg.semweb.store import Store, parse_results

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"
AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("engines") / "verdicts.nq"
    result = CliRunner().invoke(main, ["export", "--what", "verdicts", str(EXAMPLES),
                                       "--as-of", AS_OF, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def oxigraph(dataset_file, tmp_path_factory) -> Store:
    folder = tmp_path_factory.mktemp("oxigraph")
    store = Store(folder / "store", folder / "scratch")
    store.load_files([dataset_file], fmt="nq")
    return store


@pytest.fixture(scope="module")
def rdflib_dataset(dataset_file) -> Dataset:
    return Dataset().parse(dataset_file, format="nquads")


def in_rdflib(dataset: Dataset, text: str) -> QueryResult:
    answer = dataset.query(text)
    return QueryResult([str(v) for v in answer.vars],
                       [[row[v] for v in answer.vars] for row in answer])


def jena_classpath() -> str | None:
    return os.environ.get("QL1706KG_JENA_CLASSPATH") or None


def in_jena(dataset_file: Path, text: str, tmp_path: Path) -> QueryResult:
    java, classpath = shutil.which("java"), jena_classpath()
    if java is None or classpath is None:
        pytest.skip("no working Apache Jena: set QL1706KG_JENA_CLASSPATH to Jena ARQ's jars "
                    "(Debian's libapache-jena-java 4.5.0 fails to initialise its Xerces here, "
                    "and Maven Central cannot be reached)")
    query = tmp_path / "query.rq"
    query.write_text(text, encoding="utf-8")
    done = subprocess.run([java, "-cp", classpath, "arq.sparql", f"--data={dataset_file}",
                           f"--query={query}", "--results=json"], capture_output=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return parse_results(done.stdout)


def as_json(result: QueryResult) -> str:
    """The W3C JSON results as ``query --format json`` writes them; an xsd:string literal is a
    simple literal (RDF 1.1: the same term), whichever way an engine spells it."""
    rows = [[Literal(str(v)) if isinstance(v, Literal) and v.datatype == URIRef(
        "http://www.w3.org/2001/XMLSchema#string") else v for v in row] for row in result.rows]
    return format_result(QueryResult(result.variables, rows, result.boolean), "json")


NAMES = sorted(named_queries())


@pytest.mark.parametrize("name", NAMES)
def test_oxigraph_and_rdflib_give_byte_identical_results(name, oxigraph, rdflib_dataset):
    text = named_queries()[name].text
    from_oxigraph = as_json(oxigraph.query(text))
    assert json.loads(from_oxigraph)["results"]["bindings"], f"{name} answers nothing"
    assert as_json(in_rdflib(rdflib_dataset, text)) == from_oxigraph


@pytest.mark.parametrize("name", NAMES)
def test_jena_gives_byte_identical_results(name, oxigraph, dataset_file, tmp_path):
    text = named_queries()[name].text
    assert as_json(in_jena(dataset_file, text, tmp_path)) == as_json(oxigraph.query(text))


def _order_keys(tree) -> list[str]:
    """The variables of a parsed query's ORDER BY."""
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict) or hasattr(node, "items"):
            if getattr(node, "name", None) == "OrderCondition" or "orderby" in node:
                pass
            for key, value in node.items():
                if key == "orderby":
                    found.extend(str(c["expr"]) if hasattr(c, "get") and c.get("expr") is not None
                                 else str(c) for c in value["condition"])
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(tree)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_every_named_query_orders_by_every_projected_variable(name):
    """A total order: every selected variable is an ORDER BY key (rows that tie on the keys
    are then equal rows), and no GROUP_CONCAT, whose order is the engine's."""
    text = named_queries()[name].text
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "GROUP_CONCAT" not in code.upper()
    tree = parseQuery(text)
    select = tree[1]
    projected = [str(p["var"]) if "var" in p else str(p["evar"]) for p in select["projection"]]
    keys = _order_keys(tree[1])
    assert set(projected) <= set(keys), (projected, keys)
