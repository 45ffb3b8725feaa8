"""What a run leaves on disk, marked as the project's, and swept by the next run when its owner
is gone.

A run that is killed outright (SIGKILL, a power cut) cannot clean up: its temporary files and
folders stay. So everything temporary this software makes carries a mark that says who made
it, and the next run that would make the same kind of thing removes what a dead run left, and
never anything else:

- a temporary file beside an output: ``.NAME.ql1706kg-PID-START-XXXXXXXX.tmp`` (the owner's
  process id, its start time in clock ticks since boot, so a process id used again by another
  process is told apart, and a random part);
- a temporary folder (the ``serve`` store, the FHIR bulk index, a ``query`` store):
  ``ql1706kg-KIND-XXXXXXXX`` in the system's temporary folder, holding ``.ql1706kg-owner``
  (the owner's process id and start time).

A leftover is removed only when all of these hold: its name has the mark, it belongs to this
user, it is a regular file (or a folder holding the owner file, not a link), and its owner is
gone (no process with that id, or one that started at another time). A folder of someone
else's, or of a run still going, is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

MARK = "ql1706kg"
OWNER_FILE = ".ql1706kg-owner"
_TEMP = re.compile(rf"^\.(?P<name>.+)\.{MARK}-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-f]{{8}}\.tmp$")


@cache
def _start_of(pid: int) -> int:
    return start_time(pid) or 0


def start_time(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (Linux ``/proc``); None if there is
    no such process (or no ``/proc``: then 0 stands for "unknown")."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    try:
        return int(text.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return 0


def me() -> tuple[int, int]:
    """This process's id and start time (the owner mark of what it makes)."""
    pid = os.getpid()
    return pid, _start_of(pid)


def owner_gone(pid: int, start: int) -> bool:
    """Whether the process that made a leftover has ended (a process with that id that started
    at another time is another process)."""
    if pid == os.getpid() and start == _start_of(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    except OSError:
        return False
    now = start_time(pid)
    return now is None or (start != 0 and now != 0 and now != start)


def temp_name(name: str) -> str:
    """The name of a temporary file standing for ``name`` in the same folder, marked."""
    pid, start = me()
    return f".{name}.{MARK}-{pid}-{start}-{secrets.token_hex(4)}.tmp"


def stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """This user's marked temporary files in ``folder`` (for ``name`` only, if given) whose
    owner is gone, newest first."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (stat.S_ISREG(status.st_mode) and status.st_uid == os.getuid()
                and owner_gone(int(match["pid"]), int(match["start"]))):
            found.append((status.st_mtime_ns, Path(entry.path)))
    return [path for _mtime, path in sorted(found, reverse=True)]


def remove_stale_temps(folder: Path, name: str | None = None) -> int:
    """Remove what :func:`stale_temps` finds; return how many."""
    removed = 0
    for path in stale_temps(folder, name):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def make_owned_folder(kind: str) -> Path:
    """A new private temporary folder ``ql1706kg-KIND-…`` holding its owner file, after the
    folders of that kind that dead runs left are removed."""
    sweep_folders(kind)
    folder = Path(tempfile.mkdtemp(prefix=f"{MARK}-{kind}-"))
    pid, start = me()
    (folder / OWNER_FILE).write_text(json.dumps({"pid": pid, "start": start, "kind": kind}),
                                     encoding="utf-8")
    return folder


@contextlib.contextmanager
def owned_folder(kind: str) -> Iterator[Path]:
    """:func:`make_owned_folder`, removed when the block ends (by the process that made it)."""
    folder = make_owned_folder(kind)
    owner = os.getpid()
    try:
        yield folder
    finally:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)


def sweep_folders(kind: str, where: Path | None = None) -> int:
    """Remove the ``ql1706kg-KIND-…`` folders of this user that dead runs left in the
    temporary folder (``where``); return how many."""
    base = where or Path(tempfile.gettempdir())
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(f"{MARK}-{kind}-"):
            continue
        if _stale_folder(Path(entry.path)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _stale_folder(folder: Path) -> bool:
    try:
        status = os.lstat(folder)
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
            return False
        owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
        pid, start = int(owner["pid"]), int(owner["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no owner file: not one of ours, or being made right now
    return owner_gone(pid, start)
