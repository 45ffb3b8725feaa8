"""The package as users get it (issue 23): a wheel with every data file, both licences, its
metadata (licence expression, classifiers, URLs, extras) and py.typed, that screens once
installed away from the source tree; the features beyond screening in extras, each naming its
extra when missing."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main

from .conftest import AS_OF, DATA_DIR, EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    (built,) = out.glob("ql1706kg-*.whl")
    return built


def test_the_wheel_holds_every_data_file_the_licences_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"ql1706kg/data/ontology/{p.name}" for p in (ROOT / "ontology").glob("*.ttl")}
    expected |= {f"ql1706kg/data/shapes/{p.name}" for p in (ROOT / "shapes").glob("*.ttl")}
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "ql1706kg").rglob("*")
                 if p.is_file() and p.suffix in (".rq", ".json", ".typed", ".py")
                 and "__pycache__" not in p.parts}
    assert len(expected) > 100 and expected <= names, sorted(expected - names)
    info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
    assert {f"{info}/licenses/LICENSE", f"{info}/licenses/LICENSE-DATA"} <= names


def test_the_wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(name))
    assert meta["License-Expression"] == "MIT AND CC-BY-4.0"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert any(c.startswith("Topic :: Scientific/Engineering :: Medical")
               for c in meta.get_all("Classifier"))
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage",
                                                                      "Documentation"}
    assert set(meta.get_all("Provides-Extra")) >= {"report", "dask", "docs", "all", "test"}
    plain = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in plain if r.startswith(("matplotlib", "distributed", "dask"))]
    assert any(r.startswith("matplotlib") and r.replace('"', "'").endswith("extra == 'report'")
               for r in meta.get_all("Requires-Dist"))


def test_the_installed_wheel_screens_away_from_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target), "QL1706KG_CACHE": str(tmp_path / "cache")}
    where = subprocess.run([sys.executable, "-c", "import ql1706kg; print(ql1706kg.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(target))
    done = subprocess.run([sys.executable, "-m", "ql1706kg", "screen",
                           str(EXAMPLES / "eligible-leiomyosarcoma.json"), "--as-of", AS_OF,
                           "--format", "json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["patients"][0]["verdict"] == "eligible"


def test_screening_needs_no_extra(monkeypatch):
    for module in ("matplotlib", "distributed", "dask", "pylode"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now fails
    result = CliRunner().invoke(main, ["screen", str(DATA_DIR / "base-eligible.json"),
                                       "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("module", "args", "extra"), [
    ("matplotlib", ["report", str(DATA_DIR / "base-eligible.json"), "-o", "{tmp}/r"],
     "report"),
    ("pylode", ["docs", "-o", "{tmp}/d"], "docs"),
])
def test_a_feature_without_its_extra_names_the_extra(monkeypatch, tmp_path, module, args,
                                                     extra):
    monkeypatch.setitem(sys.modules, module, None)
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 3, result.output
    assert result.stderr.endswith(f"extra: pip install 'ql1706kg[{extra}]'\n")
    assert result.stderr.count("\n") == 1 and not any(tmp_path.iterdir())


def test_the_cluster_without_its_extra_names_the_extra(monkeypatch):
    from ql1706kg.errors import EnvironmentFailure
    from ql1706kg.pipeline.parallel import on_cluster

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(EnvironmentFailure, match=r"pip install 'ql1706kg\[dask\]'"):
        next(on_cluster(len, iter([[1]]), "tcp://127.0.0.1:8786"))
