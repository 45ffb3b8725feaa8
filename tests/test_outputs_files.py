"""The one writer every file output goes through (ql1706kg/outputs/files.py, folder.py):
symbolic links and non-files refused, an exclusive lock per target, a temporary file renamed
into place, nothing left behind on a failure or an interruption, NDJSON kept line by line,
and every operating-system error one EnvironmentFailure.

Disk full and read-only are tested two ways: with the system call monkeypatched to fail
(always), and on a real tiny or read-only tmpfs (when this test runs as root and may mount;
chmod 0555 does not stop root, so a read-only mount is the real thing).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.errors import EnvironmentFailure
from ql1706kg.outputs import files
from ql1706kg.outputs.files import Lock, OutputFile, lock_path
from ql1706kg.outputs.folder import OutputFolder

from .conftest import DATA_DIR

BASE_FILE = str(DATA_DIR / "base-eligible.json")


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_written_to_a_temporary_file_then_renamed_keeping_the_old_mode(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    with OutputFile(target) as out:
        out.write(b"new")
        assert target.read_text() == "old"  # not in place before it is complete
        temp = [n for n in listing(tmp_path) if n.endswith(".tmp")]
        assert len(temp) == 1 and temp[0].startswith(".out.json.")
        assert lock_path(target).exists()
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    assert listing(tmp_path) == ["out.json"]  # no temporary file, no lock file


@pytest.mark.parametrize("stop", [RuntimeError("bug"), KeyboardInterrupt()])
def test_a_failure_or_an_interruption_leaves_the_old_target_and_nothing_else(tmp_path, stop):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(type(stop)), OutputFile(target) as out:
        out.write(b"x" * (files.BUFFER_BYTES + 10))  # some of it reached the disk
        raise stop
    assert target.read_text() == "old" and listing(tmp_path) == ["out.json"]


def test_a_symbolic_link_is_refused_and_neither_it_nor_its_file_changes(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere.json")
    for target in (link, dangling):
        with pytest.raises(EnvironmentFailure, match="symbolic link"):
            OutputFile(target).open()
    assert link.is_symlink() and real.read_text() == "keep"
    assert listing(tmp_path) == ["dangling.json", "link.json", "real.json"]


def test_what_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, Path("/dev/null")):
        with pytest.raises(EnvironmentFailure, match="not a regular file"):
            OutputFile(target).open()
    assert listing(tmp_path) == ["fifo"]


def test_a_second_writer_on_a_locked_target_stops_at_once_naming_the_lock(tmp_path):
    target = tmp_path / "out.ndjson"
    held = Lock(target).acquire()
    try:
        with pytest.raises(EnvironmentFailure) as caught:
            OutputFile(target).open()
        message = str(caught.value)
        assert str(lock_path(target)) in message and f"pid {os.getpid()}" in message
        assert "\n" not in message
    finally:
        held.release()
    with OutputFile(target) as out:  # free again once the other run ends
        out.write(b"ok\n")
    assert listing(tmp_path) == ["out.ndjson"]


def test_a_checkpoint_keeps_the_whole_lines_written_when_interrupted(tmp_path):
    target = tmp_path / "out.ndjson"
    with pytest.raises(KeyboardInterrupt), OutputFile(target, checkpoint=True) as out:
        out.write(b'{"a":1}\n')
        out.flush()
        out.write(b'{"b":2}\n')  # still buffered: written out before the rename
        raise KeyboardInterrupt
    assert target.read_bytes() == b'{"a":1}\n{"b":2}\n' and out.kept
    assert listing(tmp_path) == ["out.ndjson"]


def test_a_checkpoint_that_wrote_nothing_leaves_the_old_target(tmp_path):
    target = tmp_path / "out.ndjson"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), OutputFile(target, checkpoint=True):
        raise KeyboardInterrupt
    assert target.read_text() == "old\n" and listing(tmp_path) == ["out.ndjson"]


def failing_write(monkeypatch, code: int, after: int = 0):
    """os.write accepts ``after`` bytes, then fails with ``code`` (a disk that fills up)."""
    real, budget = os.write, [after]

    def write(fd, data):
        if budget[0] <= 0:
            raise OSError(code, os.strerror(code))
        n = real(fd, bytes(data[:budget[0]]))
        budget[0] -= n
        return n

    monkeypatch.setattr(files.os, "write", write)


def test_disk_full_is_one_environment_failure_and_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    failing_write(monkeypatch, errno.ENOSPC)
    with pytest.raises(EnvironmentFailure) as caught, OutputFile(target) as out:
        out.write(b"data")
    assert str(caught.value) == f"cannot write {target}: No space left on device"
    assert listing(tmp_path) == []


def test_disk_full_midway_keeps_only_whole_ndjson_lines(tmp_path, monkeypatch):
    target = tmp_path / "out.ndjson"
    with pytest.raises(EnvironmentFailure), OutputFile(target, checkpoint=True) as out:
        out.write(b'{"a":1}\n')
        out.flush()
        failing_write(monkeypatch, errno.ENOSPC, after=5)  # half a line, then full
        out.write(b'{"b":2}\n')
        out.flush()
    assert target.read_bytes() == b'{"a":1}\n' and listing(tmp_path) == ["out.ndjson"]


def test_appending_after_a_failure_cuts_back_to_the_last_whole_line(tmp_path, monkeypatch):
    target = tmp_path / "out.ndjson"
    target.write_bytes(b'{"a":1}\n')
    with pytest.raises(EnvironmentFailure), OutputFile(target, append=True) as out:
        failing_write(monkeypatch, errno.ENOSPC, after=3)
        out.write(b'{"b":2}\n')
        out.flush()
    assert target.read_bytes() == b'{"a":1}\n' and listing(tmp_path) == ["out.ndjson"]


def test_read_only_folder_is_one_environment_failure(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(files.os, "open", read_only)
    result = CliRunner().invoke(main, ["screen", BASE_FILE, "--as-of", "2026-11-20", "-o",
                                       str(tmp_path / "out.txt")])
    assert result.exit_code == 3
    assert result.stderr == f"Error: cannot write {tmp_path / 'out.txt'}: Read-only file system\n"


def test_a_report_folder_is_put_in_place_only_when_complete(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "index.html").write_text("old")
    with pytest.raises(KeyboardInterrupt), OutputFolder(folder) as out:
        out.write_text("patients/a.html", "a")
        raise KeyboardInterrupt
    assert listing(folder) == ["index.html"] and (folder / "index.html").read_text() == "old"
    with OutputFolder(folder) as out:
        out.write_text("patients/a.html", "a")
        out.write_text("index.html", "new")
    assert (folder / "index.html").read_text() == "new"
    assert listing(folder / "patients") == ["a.html"] and listing(tmp_path) == ["report"]


def test_a_report_folder_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(EnvironmentFailure, match="symbolic link"):
        OutputFolder(tmp_path / "link").open()


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A real tmpfs mounted on ``folder`` (skips where mounting is not allowed)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "text"])
def test_a_real_full_disk_is_one_line_and_exit_3(tmp_path, fmt):
    cohort = tmp_path / "cohort.json"
    cohort.write_text("[" + ",".join([(DATA_DIR / "base-eligible.json").read_text()] * 3)
                      .replace('"id": "', '"id": "X') + "]")
    with tmpfs(tmp_path / "full", "size=8k") as full:
        detailed = ["--details"] if fmt == "text" else []  # more than the 8 KB
        result = CliRunner().invoke(main, ["screen", str(cohort), "--as-of", "2026-11-20",
                                           "--format", fmt, "-o", str(full / "out"), *detailed])
        assert result.exit_code == 3, result.output
        assert result.stderr == f"Error: cannot write {full / 'out'}: No space left on device\n"
        assert listing(full) == []


def test_a_real_read_only_mount_is_one_line_and_exit_3(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        for args in (["screen", BASE_FILE, "-o", str(ro / "out.json")],
                     ["report", BASE_FILE, "-o", str(ro / "report")]):
            result = CliRunner().invoke(main, [*args, "--as-of", "2026-11-20"])
            assert result.exit_code == 3, result.output
            assert result.stderr.count("\n") == 1 and "Read-only file system" in result.stderr


def test_one_lock_however_the_target_is_spelled(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    held = Lock(Path("real/out.json")).acquire()
    try:
        for spelling in ("./real/out.json", "linked/out.json", str(tmp_path / "real/out.json")):
            with pytest.raises(EnvironmentFailure, match="being written by another run"):
                OutputFile(Path(spelling)).open()
    finally:
        held.release()
