"""Whether a run's writer is alive: it holds an exclusive flock on ``runs/<run_id>.lock``.

A pid says nothing once the writer died: containers reuse pids at once, and the pid may even be
the checking process's own. A lock cannot outlive its holder: the kernel releases it when the
last descriptor of its open file description is closed, so also at kill -9. flock is per open
file description, so a second :class:`~labsyn.store.Store` in the writer's own process opens
the lock file anew and finds it held, exactly as another process would.

Only runs written on this host are judged. flock over network file systems (NFS, SMB) is
emulated or local to one client, so a lock taken on another host proves nothing here: such runs
keep their status until a process on their host opens the store.

The descriptor is not inherited across exec; a child made by a bare ``fork()`` shares it, so
the run counts as alive until both have closed it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from pathlib import Path

from labsyn.errors import ConfigError

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


def lock_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / f"{run_id}{LOCK_SUFFIX}"


class RunLock:
    """The writer's exclusive lock on its run, held from creation until released."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._guard = threading.Lock()
        # A file object, not a bare fd: if the writer is dropped unclosed, the lock goes too.
        self._file = open(self.path, "ab")  # held for the run's life
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._file.close()
            raise ConfigError(f"run lock {self.path} is held by another writer; "
                              "pick a new run id") from error
        except BaseException:
            self._file.close()
            raise

    @property
    def held(self) -> bool:
        return not self._file.closed

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order: a process that opened the
        file before the removal gets the lock only after the run's end was recorded)."""
        with self._guard:
            if self._file.closed:
                return
            try:
                self.path.unlink(missing_ok=True)
            except OSError as error:
                log.warning("could not remove run lock %s: %s", self.path, error)
            finally:
                self._file.close()


def writer_dead(path: str | Path, host: str | None) -> bool:
    """Whether the writer of a run on `host` whose lock file is `path` is certainly gone.

    True when the run was written on this host and its lock file is missing or free; a free
    lock file is removed. False for another host, an unknown host, or a lock that is held or
    cannot be checked (nothing is claimed then).
    """
    if not host or host != socket.gethostname():
        return False
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError as error:
        log.warning("cannot check run lock %s: %s", path, error)
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:
            log.warning("cannot check run lock %s: %s", path, error)
            return False
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            log.warning("could not remove stale run lock %s: %s", path, error)
        return True
    finally:
        os.close(fd)
