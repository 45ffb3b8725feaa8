"""Every file a command writes goes through :class:`OutputFile` (one file) or
:class:`~ql1706kg.outputs.folder.OutputFolder` (the HTML report, the docs), by these rules:

* a target that exists and is a symbolic link, or not a regular file (a folder, a device, a
  pipe), is refused: it is never replaced, followed or written through;
* an exclusive lock is held on the target from the start of the run to its end: a lock file
  beside it, ``.NAME.lock``, locked with ``flock`` (and holding the owner's process id), so a
  second run on the same target stops at once and names the lock instead of interleaving;
* data goes to a temporary file in the target's own folder
  (``.NAME.ql1706kg-PID-START-XXXXXXXX.tmp``, marked with its owner: :mod:`ql1706kg.leftovers`),
  renamed over the target only when complete; on a failure or an interruption the temporary
  file is removed and the old target is left as it was; after a run killed outright
  (SIGKILL), the next run on the same target removes the file that run left (its owner gone),
  and never a file it did not make;
* a *checkpoint* output (``--format ndjson``, whose whole lines are results in their own
  right) instead keeps, on a failure or an interruption, the whole lines written so far in
  the target (never a line cut short), which ``--resume`` continues; after SIGKILL the next
  run on the target puts the killed run's file in place the same way first; appending
  (``--resume``) writes to the target itself and cuts it back to its last whole line;
* every operating-system error (disk full, read-only, permission) becomes one
  :class:`~ql1706kg.errors.EnvironmentFailure` naming the target (exit code 3 in the CLI).

:class:`~ql1706kg.outputs.folder.OutputFolder` applies the same rules to a folder of files.

The moment of renaming (and of cleaning up) runs with SIGINT, SIGTERM and SIGHUP held back, so
an interruption cannot leave a half-done rename; it is handled right after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import EnvironmentFailure
from ..leftovers import stale_temps, temp_name

try:
    import fcntl
except ImportError:  # Windows: an exclusive create stands in for flock
    fcntl = None

BUFFER_BYTES = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def failure(target: Path, exc: OSError) -> EnvironmentFailure:
    return EnvironmentFailure(f"cannot write {target}: {exc.strerror or exc}")


def check_target(target: Path) -> os.stat_result | None:
    """The target's status if it exists (a regular file); refuse a link or a non-file."""
    try:
        status = os.lstat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise failure(target, exc) from None
    if stat.S_ISLNK(status.st_mode):
        raise EnvironmentFailure(f"refusing to write {target}: it is a symbolic link (name the "
                                 "file it points to, or remove the link)")
    if not stat.S_ISREG(status.st_mode):
        kind = "a folder" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        raise EnvironmentFailure(f"refusing to write {target}: it is {kind}")
    return status


def lock_path(target: Path) -> Path:
    """The lock file of a target: ``.NAME.lock`` beside it, in its folder's real path (so
    two spellings of one target, through a linked folder too, share one lock)."""
    absolute = Path(os.path.abspath(target))
    return Path(os.path.realpath(absolute.parent)) / f".{absolute.name or 'output'}.lock"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (main thread, POSIX); delivered on leaving."""
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Lock:
    """An exclusive lock on a target for one run (see the module's rules)."""

    def __init__(self, target: Path) -> None:
        self.target, self.path, self.fd = target, lock_path(target), None

    def acquire(self) -> Lock:
        flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | (0 if fcntl else os.O_EXCL)
        for _ in range(20):
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileExistsError:  # no flock: the file itself is the lock
                self._busy(None)
            except OSError as exc:
                raise failure(self.target, exc) from None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self._busy(fd)
                except OSError as exc:
                    os.close(fd)
                    raise failure(self.target, exc) from None
            if self._still_there(fd):
                with contextlib.suppress(OSError):  # the owner's pid only informs (disk full)
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)  # the run before ours removed it as we opened it: open again
        raise EnvironmentFailure(f"cannot lock {self.target} ({self.path})")

    def _still_there(self, fd: int) -> bool:
        try:
            return os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _busy(self, fd: int | None) -> None:
        owner = ""
        with contextlib.suppress(OSError):
            text = (os.pread(fd, 32, 0) if fd is not None else self.path.read_bytes()[:32])
            if text.strip().isdigit():
                owner = f", pid {int(text)}"
        if fd is not None:
            os.close(fd)
        raise EnvironmentFailure(f"{self.target} is being written by another run (lock "
                                 f"{self.path}{owner}); wait for it, or choose another output")

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            if self._still_there(self.fd):
                os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


class OutputFile:
    """One output file (see the module's rules): ``with OutputFile(path) as out: out.write(b)``.

    ``checkpoint``: on a failure or an interruption keep the whole lines written (NDJSON).
    ``append``: write at the end of the existing target (``--resume``); implies checkpoint.
    ``durable``: fsync the file and its folder before the rename. ``lock``: take the lock
    (an :class:`OutputFolder` holds one lock for all its files).
    """

    def __init__(self, target: Path, *, checkpoint: bool = False, append: bool = False,
                 durable: bool = True, lock: bool = True) -> None:
        self.target = Path(target)
        self.checkpoint, self.append, self.durable = checkpoint or append, append, durable
        self._lock = Lock(self.target) if lock else None
        self.temp: Path | None = None
        self.fd: int | None = None
        self.length = 0  # bytes in the file that end a whole write (a line for NDJSON)
        self.written = 0  # bytes this run wrote
        self.kept = False  # a checkpoint kept after a failure or an interruption
        self._buffer = bytearray()

    def __enter__(self) -> OutputFile:
        return self.open()

    def __exit__(self, kind, _exc, _tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()

    def open(self) -> OutputFile:
        old = check_target(self.target)
        if self._lock is not None:
            self._lock.acquire()
            try:
                if self._take_leftovers():
                    old = check_target(self.target)
            except BaseException:
                self._lock.release()
                raise
        try:
            if self.append and old is not None:
                self.fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | _NOFOLLOW | _CLOEXEC)
                self.length = os.fstat(self.fd).st_size
            else:
                self.append = False
                self.temp = self.target.parent / temp_name(self.target.name)
                self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                                  | _CLOEXEC, 0o666)
                if old is not None and hasattr(os, "fchmod"):
                    os.fchmod(self.fd, stat.S_IMODE(old.st_mode))
        except OSError as exc:
            self._cleanup(keep=False)
            raise failure(self.target, exc) from None
        except BaseException:
            self._cleanup(keep=False)
            raise
        return self

    def _take_leftovers(self) -> bool:
        """What a run killed outright (SIGKILL) left for this target, now that the lock is
        ours: its temporary files (marked, their owner gone; :mod:`ql1706kg.leftovers`) are
        removed, but for a checkpoint, whose newest leftover holds the whole lines that run
        wrote: it is put in place as an interruption would have (cut to its last whole line),
        so that ``--resume`` continues it. Return whether the target changed."""
        found = stale_temps(self.target.parent, self.target.name)
        taken = False
        if found and self.checkpoint:
            newest, found = found[0], found[1:]
            with contextlib.suppress(OSError, EnvironmentFailure):
                with open(newest, "r+b") as handle:
                    handle.truncate(_whole_lines(handle))
                    size = handle.seek(0, os.SEEK_END)
                if size:
                    check_target(self.target)
                    os.replace(newest, self.target)
                    taken = True
            found.append(newest)
        for path in found:
            with contextlib.suppress(OSError):
                path.unlink()
        return taken

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= BUFFER_BYTES:
            self.flush()

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8", "backslashreplace"))  # a lone surrogate: an escape

    def flush(self) -> None:
        """Hand what is buffered to the operating system (whole writes only; on a failure
        what was buffered is dropped, and ``length`` still ends the last whole write)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        done = 0
        try:
            with memoryview(data) as view:
                while done < len(data):
                    done += os.write(self.fd, view[done:])
        except OSError as exc:
            raise failure(self.target, exc) from None
        self.length += len(data)
        self.written += len(data)

    def truncate(self, length: int) -> None:
        """Cut the file to ``length`` bytes (``--resume``: a last line cut short)."""
        try:
            os.ftruncate(self.fd, length)
        except OSError as exc:
            raise failure(self.target, exc) from None
        self.length = length

    def commit(self) -> None:
        """Complete the file and put it in place; on any error nothing of it is left."""
        with signals_deferred():
            try:
                self.finish()
                self.publish()
            except BaseException:
                self.abort()
                raise

    def finish(self) -> None:
        """Write out and close, without putting the file in place yet."""
        self.flush()
        try:
            if self.durable:
                os.fsync(self.fd)
            os.close(self.fd)
        except OSError as exc:
            raise failure(self.target, exc) from None
        finally:
            self.fd = None

    def publish(self) -> None:
        """Rename the finished temporary file over the target."""
        try:
            if self.temp is not None:
                check_target(self.target)
                os.replace(self.temp, self.target)
                self.temp = None
                if self.durable:
                    sync_folder(self.target.parent)
        except OSError as exc:
            raise failure(self.target, exc) from None
        finally:
            self._cleanup(keep=False)

    def abort(self) -> None:
        """After a failure or an interruption: remove the temporary file and leave the old
        target as it was, or, for a checkpoint, keep the whole lines written."""
        with signals_deferred():
            keep = False
            if self.checkpoint and self.fd is not None:
                with contextlib.suppress(EnvironmentFailure):
                    self.flush()
                self._buffer.clear()
                try:
                    os.ftruncate(self.fd, self.length)
                    keep = self.append or self.written > 0
                except OSError:
                    keep = False
            self._cleanup(keep)

    def _cleanup(self, keep: bool) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.temp is not None:
            try:
                if keep:
                    check_target(self.target)
                    os.replace(self.temp, self.target)
                    self.kept = self.written > 0
            except (OSError, EnvironmentFailure):
                pass
            with contextlib.suppress(OSError):
                self.temp.unlink()
            self.temp = None
        elif keep:
            self.kept = self.written > 0
        if self._lock is not None:
            self._lock.release()


def _whole_lines(handle) -> int:
    """The length of a file cut after its last line break (0 if it has none)."""
    end = handle.seek(0, os.SEEK_END)
    position = end
    while position > 0:
        step = min(1 << 16, position)
        handle.seek(position - step)
        block = handle.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return position - step + cut + 1
        position -= step
    return 0


def sync_folder(folder: Path) -> None:
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is atomic
    finally:
        os.close(fd)


class StandardOutput:
    """Standard output with the interface of :class:`OutputFile` (no lock, no rename)."""

    kept = False

    def __enter__(self) -> StandardOutput:
        sys.stdout.flush()  # the text layer first, so nothing is reordered
        self.handle = sys.stdout.buffer
        return self

    def __exit__(self, kind, _exc, _tb) -> None:
        if kind is None:
            self.handle.flush()
        else:
            with contextlib.suppress(OSError, ValueError):
                self.handle.flush()

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def write_text(self, text: str) -> None:
        sys.stdout.flush()  # the terminal's encoding, as click.echo would
        self.write(text.encode(sys.stdout.encoding or "utf-8", "backslashreplace"))

    def flush(self) -> None:
        self.handle.flush()


def open_output(target: Path | None, **options) -> OutputFile | StandardOutput:
    """The output of a command: a file by the rules above, or standard output."""
    return StandardOutput() if target is None else OutputFile(target, **options)
