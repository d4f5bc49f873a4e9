"""The run folder: ``run.json`` (identity and config) plus the run's files.

Layout::

    <run-dir>/run.json          run id, game, ledger URL (None: embedded), config
    <run-dir>/ledger/           the embedded Redis data (when no --redis-url)
    <run-dir>/checkpoints/      league checkpoints (see :mod:`league.checkpoint`)
    <run-dir>/players/          trainable players' latest weights (for ``league export``)
    <run-dir>/.lock             held (``flock``) by the process that runs or prunes the run
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from league.errors import RunDirError
from league.redact import redact_url
from league.types import RunId

RUN_FILE = "run.json"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about a run.

    Attributes:
        run_id: Namespace of the run's ledger keys.
        game: The registered game name.
        redis_url: External Redis URL, or None for the embedded server (read back: with its password
            redacted, see :mod:`league.redact`).
        created: Unix time the run started.
        config: The full configuration, as JSON-compatible data.
    """

    run_id: RunId
    game: str
    redis_url: str | None
    created: float
    config: dict

    def write(self, run_dir: Path) -> None:
        """Write ``run.json`` atomically (a temp file made with mode 0600, then renamed), passwords redacted.

        The Redis URL's password is never written: both ``redis_url`` and
        ``config.redis_url`` hold :func:`~league.redact.redact_url`'s form.
        """
        data = dict(self.__dict__, redis_url=redact_url(self.redis_url))
        if self.config.get("redis_url") is not None:
            data["config"] = dict(self.config, redis_url=redact_url(self.config["redis_url"]))
        path = Path(run_dir) / RUN_FILE
        fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=f".{RUN_FILE}.", suffix=".tmp")  # mode 0600 from the start
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(data, indent=2, default=str))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def new_run_id() -> RunId:
    """A fresh, key-safe run id."""
    return RunId(f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")


class RunLock:
    """An exclusive lock on a run folder, held while a process runs or prunes the run.

    The lock is an ``flock`` on ``<run-dir>/.lock``: the kernel releases it when
    the holder exits, however it dies, so a killed run never leaves a stale lock.

    Raises:
        RunDirError: if another process holds the lock.
    """

    def __init__(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        self.path = run_dir / LOCK_FILE
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RunDirError(run_folder_error(run_dir, e)) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            self._fd = None
            raise RunDirError(
                f"run folder {str(run_dir)!r} is in use by another League process (pid {holder}); "
                "wait for it to finish or stop it first") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def run_folder_error(run_dir: Path, error: OSError) -> str:
    """The one-line message for a run folder that cannot be made or written (``error`` says why)."""
    where = str(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        return f"run folder {where!r} is a file, not a folder; choose another --run-dir"
    if isinstance(error, PermissionError):
        return (f"run folder {where!r} is not writable ({error.strerror}: {error.filename}); "
                "choose another --run-dir or fix its permissions")
    return (f"run folder {where!r} cannot be made or written ({error.strerror}: {error.filename}); "
            "choose another --run-dir")


def prepare_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Make ``run_dir`` ready for a new run (the caller holds its :class:`RunLock`).

    Raises:
        RunDirError: if it already holds a run and ``overwrite`` is False.
    """
    run_dir = Path(run_dir)
    if (run_dir / RUN_FILE).exists():
        if not overwrite:
            raise RunDirError(
                f"run folder {str(run_dir)!r} already holds a run; pass --resume to continue it, "
                "--overwrite to replace it, or choose another --run-dir"
            )
        for child in run_dir.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def read_run_info(run_dir: Path) -> RunInfo:
    """Read ``run.json`` of an existing run.

    Raises:
        RunDirError: if the folder holds no League run.
    """
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{str(run_dir)!r} is a file, not a run folder; pass the folder a run was started in")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"no League run in {str(run_dir)!r}: {RUN_FILE} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{str(path)!r} is not valid JSON: {e}") from e
    except OSError as e:
        raise RunDirError(f"cannot read {str(path)!r} ({e.strerror})") from None
    expected = {"run_id": (str,), "game": (str,), "created": (int, float), "redis_url": (str, type(None)),
                "config": (dict,)}
    optional: dict[str, Any] = {"redis_url": None, "config": {}}
    if not isinstance(data, dict):
        problems = ["not a JSON object"]
    else:
        problems = [f"{key} {'missing' if key not in data else f'is {data[key]!r}'}"
                    for key, kinds in expected.items() if not isinstance(data.get(key, optional.get(key)), kinds)]
    if problems:
        raise RunDirError(f"{str(path)!r} is not a League run file ({'; '.join(problems)}): expected run_id, "
                          "game and created as `league run` writes them")
    return RunInfo(RunId(data["run_id"]), data["game"], data.get("redis_url"),
                   float(data["created"]), data.get("config", {}))
