"""The embedded PostgreSQL server: a real PostgreSQL bundled as the `pgserver` wheel.

pgserver keeps a list of the processes using a data directory and stops the server when the
last one lets go. A process that crashed never takes itself off that list, which would leave
the next clean exit believing someone else still needs the server, so dead entries are dropped
before every start. Running as root, pgserver starts postgres as an OS user `pgserver` and makes
every parent directory of the data directory traversable by others; Slipway says so in its log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import warnings
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_HANDLES_FILE = ".handle_pids.json"


class EmbeddedPostgres:
    """A pgserver instance in `pgdata`, started on creation and stopped by `stop()`."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset; pgserver copes without it.
            warnings.simplefilter("ignore")
            import pgserver  # Imported lazily: it is only needed without DATABASE_URL.

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        pgdata = pgdata.absolute()
        pgdata.mkdir(parents=True, exist_ok=True)
        _warn_about_root_permissions(pgdata)
        forget_dead_handles(pgdata)
        self.pgdata = pgdata
        self._server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self.uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL running in %s", pgdata)

    @property
    def pid(self) -> int | None:
        return self._server.get_pid()

    def is_running(self) -> bool:
        """Whether the postmaster named in the data directory's pid file is alive (a killed
        one can linger as a zombie where nothing reaps orphans: that is not alive)."""
        pid = postmaster_pid(self.pgdata)
        if pid is None:
            return False
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def restart(self) -> None:
        """Start the server again after it died (killed, out of memory): PostgreSQL recovers
        from its write-ahead log, and the socket stays where it was, so the URI holds."""
        with self._server._lock:  # pgserver's own lock on the data directory
            if not self.is_running():
                # PostgreSQL refuses to start while the pid file names a process that still
                # exists, which a zombie does; the server it names is dead.
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            self._server.ensure_postgres_running()
        self.uri = self._server.get_uri()
        log.warning("embedded PostgreSQL restarted in %s", self.pgdata)

    def stop(self) -> None:
        """Stop the server unless another live process still uses this data directory."""
        with contextlib.suppress(psutil.NoSuchProcess):  # it died already: nothing to stop
            self._server.cleanup()
        if self.is_running():  # `login-link` beside a running server: it is the server's
            log.debug("embedded PostgreSQL left running for the other process using %s",
                      self.pgdata)
        else:
            log.info("embedded PostgreSQL stopped")


def postmaster_pid(pgdata: Path) -> int | None:
    """The postmaster's pid, from the data directory's pid file (None without one)."""
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that no longer exist from pgserver's list of users of `pgdata`."""
    pids = _recorded_users(pgdata)
    if pids is None:
        return
    alive = living_users(pgdata)
    if alive != pids:
        (pgdata / _HANDLES_FILE).write_text(json.dumps(alive))


def living_users(pgdata: Path) -> list[int]:
    """The processes pgserver recorded as users of `pgdata` that are still there."""
    return [pid for pid in _recorded_users(pgdata) or [] if isinstance(pid, int)
            and process_exists(pid)]


def _recorded_users(pgdata: Path) -> list | None:
    try:
        pids = json.loads((pgdata / _HANDLES_FILE).read_text())
    except (OSError, ValueError):
        return None
    return pids if isinstance(pids, list) else None


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie does; another user's does too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _warn_about_root_permissions(pgdata: Path) -> None:
    if os.geteuid() != 0:
        return
    closed = [
        str(parent)
        for parent in pgdata.parents
        if parent.exists() and (parent.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH))
        != (stat.S_IROTH | stat.S_IXOTH)
    ]
    if closed:
        log.warning(
            "running as root: the embedded PostgreSQL runs as OS user 'pgserver', so these "
            "directories are made readable and traversable by other users (o+rx): %s. "
            "Set SLIPWAY_DATA_DIR outside them (for example /var/lib/slipway) to avoid this.",
            ", ".join(closed),
        )
