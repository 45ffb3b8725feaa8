"""OMOP test databases: CDMs written from records (DuckDB files, PostgreSQL schemas), the
vendored Synthea27Nj CDM, and one throwaway PostgreSQL cluster for the whole test session.

The cluster is started on first use (``initdb`` + ``pg_ctl`` into a temporary folder, Unix
socket only, no TCP; as root, as the ``postgres`` user), shared by the xdist workers through a
lock file in a folder the controller names, and stopped and removed when the session ends
(:func:`stop_cluster`, called from conftest's ``pytest_sessionfinish``). Where no PostgreSQL
binaries exist, the PostgreSQL tests are skipped saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import gzip
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "patients"
SYNTHEA = Path(__file__).parent / "data" / "omop" / "synthea27nj"
STATE_VARIABLE = "QL1706KG_TEST_POSTGRES"


def read_cdm(spec) -> list:
    """What reading a CDM gives a screening: each person assembled as a worker assembles it
    (an unvalidated record, or the error that stands for the person), and the errors."""
    from ql1706kg.inputs.omop.read import read_omop

    return [item.assemble()[0] if hasattr(item, "assemble") else item
            for item in read_omop(spec, False)]


def example_records() -> list[dict]:
    """The bundled example patients, in file order."""
    out: list[dict] = []
    for path in sorted(EXAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out += data if isinstance(data, list) else [data]
    return out


def duckdb_cdm(records: list[dict], folder: Path, **options):
    """A DuckDB CDM of the records: (url, what was written)."""
    from ql1706kg.inputs.omop.etl import write_cdm
    from ql1706kg.inputs.omop.write import load_duckdb

    version = options.get("version", "5.4")
    written = write_cdm(records, folder / "csv", **options)
    path = load_duckdb(written.files, folder / "cdm.duckdb", version=version)
    return f"duckdb://{path}", written


def synthea_duckdb(path: Path) -> str:
    """The vendored Synthea27Nj CDM as a DuckDB file (OHDSI's v5.4 DDL)."""
    import duckdb

    from ql1706kg.inputs.omop.write import ddl

    connection = duckdb.connect(str(path))
    connection.execute(ddl("duckdb", "5.4", "main"))
    for file in sorted(SYNTHEA.glob("*.csv.gz")):
        table = file.name.split(".")[0]
        connection.execute(f"COPY {table} FROM '{file}' (HEADER)")
    connection.close()
    return f"duckdb://{path}"


def synthea_postgres(connection, schema: str) -> None:
    """The vendored Synthea27Nj CDM in a PostgreSQL schema."""
    from ql1706kg.inputs.omop.write import ddl

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(ddl("postgresql", "5.4", schema))
        for file in sorted(SYNTHEA.glob("*.csv.gz")):
            table = file.name.split(".")[0]
            with cursor.copy(f"COPY {schema}.{table} FROM STDIN WITH (FORMAT csv, HEADER "
                             "true)") as copy, gzip.open(file, "rb") as data:
                copy.write(data.read())
    connection.commit()


# -- the throwaway PostgreSQL cluster ------------------------------------------------------------

def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl (Debian's versioned folders first, then PATH)."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").is_file() and Path(folder, "pg_ctl").is_file():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def state_folder() -> Path:
    """The folder the session's processes share (named by the controller, else made here)."""
    named = os.environ.get(STATE_VARIABLE)
    if not named:
        named = tempfile.mkdtemp(prefix="qlpg-", dir="/tmp")  # a short path: socket names
        os.environ[STATE_VARIABLE] = named
    return Path(named)


def cluster() -> Path:
    """The socket folder of the session's cluster, started on first use (skips the test,
    with the reason, where no PostgreSQL binaries or no unprivileged user exist)."""
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    folder = state_folder()
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        failed = folder / "failed"
        if failed.exists():
            pytest.skip(f"the test PostgreSQL cluster did not start: {failed.read_text()}")
        if not (folder / "started").exists():
            try:
                _start(binaries, folder, owner if os.geteuid() == 0 else None)
            except (OSError, subprocess.CalledProcessError) as exc:
                reason = getattr(exc, "stderr", b"") or str(exc)
                failed.write_text(str(reason)[-500:])
                pytest.skip(f"the test PostgreSQL cluster did not start: {reason!s:.300}")
            (folder / "started").write_text(str(binaries))
    return folder / "run"


def _start(binaries: Path, folder: Path, owner) -> None:
    run = folder / "run"
    run.mkdir(exist_ok=True)
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chown(run, owner.pw_uid, owner.pw_gid)
    subprocess.run(_as_owner([str(binaries / "initdb"), "-D", str(run / "data"), "-A", "trust",
                              "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"]),
                   check=True, capture_output=True)
    options = (f"-c listen_addresses='' -c unix_socket_directories={run} -c fsync=off "
               "-c full_page_writes=off -c synchronous_commit=off")
    subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(run / "data"), "-l",
                              str(run / "log"), "-w", "-o", options, "start"]),
                   check=True, capture_output=True)


def stop_cluster() -> None:
    """Stop the session's cluster (if one was started) and remove its folder."""
    named = os.environ.get(STATE_VARIABLE)
    if not named or not Path(named).exists():
        return
    folder = Path(named)
    started = folder / "started"
    if started.exists():
        binaries = Path(started.read_text())
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D",
                                      str(folder / "run" / "data"), "-m", "immediate", "-w",
                                      "stop"]), capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def sweep_stale_clusters(here: Path) -> None:
    """Stop and remove the clusters of sessions that ended without stopping theirs (a run
    killed by a timeout or SIGKILL never reaches its sessionfinish): each session's folder
    names its controller's pid (``owner``, written by conftest), and a folder whose owner is
    gone is stale. A folder without an owner, or one of a session still running (CI beside
    a developer's run), is left alone."""
    for folder in Path("/tmp").glob("qlpg-*"):
        if folder == here:
            continue
        try:
            os.kill(int((folder / "owner").read_text()), 0)
            continue  # its session is running
        except ProcessLookupError:
            pass  # its session is gone: the folder is stale
        except (OSError, ValueError):
            continue  # no owner recorded, or not ours to signal
        os.environ[STATE_VARIABLE], saved = str(folder), os.environ.get(STATE_VARIABLE)
        try:
            stop_cluster()
        finally:
            os.environ[STATE_VARIABLE] = saved or ""


def new_database(name: str) -> str:
    """A new database in the session's cluster; its libpq URI (socket, user postgres)."""
    import psycopg

    socket = cluster()
    name = f"{name}_{os.getpid()}"
    with psycopg.connect(f"postgresql:///postgres?host={socket}&user=postgres",
                         autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql:///{name}?host={socket}&user=postgres"


def postgres_cdm(records: list[dict], folder: Path, name: str, **options):
    """A PostgreSQL CDM of the records in schema cdm of a new database: (url, written)."""
    import psycopg

    from ql1706kg.inputs.omop.etl import write_cdm
    from ql1706kg.inputs.omop.write import load_postgres

    uri = new_database(name)
    written = write_cdm(records, folder / "csv", **options)
    with psycopg.connect(uri) as connection:
        load_postgres(written.files, connection, version=options.get("version", "5.4"),
                      schema="cdm")
    return f"{uri}&schema=cdm", written
