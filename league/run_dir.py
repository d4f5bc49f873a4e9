"""The run folder: ``run.json`` (identity and config) plus the run's files.

Layout::

    <run-dir>/run.json          run id, game, ledger URL (None: embedded), config
    <run-dir>/ledger/           the embedded Redis data (when no --redis-url)
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from league.errors import RunDirError
from league.types import RunId

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about a run.

    Attributes:
        run_id: Namespace of the run's ledger keys.
        game: The registered game name.
        redis_url: External Redis URL, or None for the embedded server.
        created: Unix time the run started.
        config: The full configuration, as JSON-compatible data.
    """

    run_id: RunId
    game: str
    redis_url: str | None
    created: float
    config: dict

    def write(self, run_dir: Path) -> None:
        """Write ``run.json`` atomically (temp file, then rename)."""
        path = Path(run_dir) / RUN_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2, default=str))
        os.replace(tmp, path)


def new_run_id() -> RunId:
    """A fresh, key-safe run id."""
    return RunId(f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")


def prepare_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Make ``run_dir`` ready for a new run.

    Raises:
        RunDirError: if it already holds a run and ``overwrite`` is False.
    """
    run_dir = Path(run_dir)
    if (run_dir / RUN_FILE).exists():
        if not overwrite:
            raise RunDirError(
                f"run folder {str(run_dir)!r} already holds a run; pass --overwrite to replace it "
                "or choose another --run-dir"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def read_run_info(run_dir: Path) -> RunInfo:
    """Read ``run.json`` of an existing run.

    Raises:
        RunDirError: if the folder holds no League run.
    """
    path = Path(run_dir) / RUN_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"no League run in {str(run_dir)!r}: {RUN_FILE} not found") from None
    except json.JSONDecodeError as e:
        raise RunDirError(f"{str(path)!r} is not valid JSON: {e}") from e
    return RunInfo(RunId(data["run_id"]), data["game"], data.get("redis_url"),
                   float(data["created"]), data.get("config", {}))
