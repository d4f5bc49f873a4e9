"""Working on a stopped run from its folder: its ledger and its snapshot store.

``league status`` and ``league prune`` read a run without starting Ray or an
Algorithm: the run folder's ``run.json`` names the ledger (embedded Redis in
the folder, or a Redis URL) and the configuration names the snapshot store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from league.config import STORED_RUN, LeagueConfig
from league.errors import RunDirError
from league.ledger import Ledger
from league.ledger import open_ledger as open_ledger_at
from league.ledger.embedded import EmbeddedRedis
from league.redact import resolve_redis_url
from league.retention import prunable
from league.run_dir import RunInfo, RunLock, read_run_info
from league.snapshots import SnapshotStore, open_store
from league.types import PlayerId


@contextlib.contextmanager
def open_ledger(run_dir: Path, *, redis_url: str | None = None) -> Iterator[tuple[RunInfo, Ledger]]:
    """The run's info and its ledger (starting the embedded Redis if the run used one).

    Args:
        run_dir: The run's folder.
        redis_url: The run's Redis URL with its password (``run.json`` keeps it redacted); else
            ``LEAGUE_REDIS_URL`` or ``REDIS_PASSWORD`` from the environment
            (:func:`~league.redact.resolve_redis_url`).
    """
    info = read_run_info(run_dir)
    url = resolve_redis_url(info.redis_url, redis_url)
    embedded = EmbeddedRedis(run_dir) if url is None else None
    try:
        ledger = open_ledger_at(url or embedded.url, info.run_id)  # type: ignore[union-attr]
        try:
            yield info, ledger
        finally:
            ledger.close()
    finally:
        if embedded is not None:
            embedded.stop()


def run_config(info: RunInfo) -> LeagueConfig:
    """The configuration a run was started with (from ``run.json``)."""
    try:
        return LeagueConfig.model_validate(info.config, context={STORED_RUN: True})
    except ValueError as e:
        raise RunDirError(f"run {info.run_id!r}: run.json holds a configuration this League cannot read: {e}") from e


def snapshot_uri(info: RunInfo, run_dir: Path) -> str:
    """Where the run keeps its snapshots: ``snapshots.uri``, or the ``snapshots`` folder of ``run_dir``
    (the folder as given now, so a run folder can be moved or read from another directory)."""
    return run_config(info).snapshots.uri or str(Path(run_dir) / "snapshots")


def run_store(info: RunInfo, run_dir: Path) -> SnapshotStore:
    """The run's snapshot store."""
    return open_store(snapshot_uri(info, run_dir), endpoint_url=run_config(info).snapshots.endpoint_url)


def prune_run(run_dir: Path, *, keep_last: int | None, keep_top: int | None,
              dry_run: bool = False) -> list[PlayerId]:
    """Remove the snapshots of a stopped run that ``keep_last`` / ``keep_top`` do not keep.

    Each is deleted from the snapshot store and taken off the ledger's roster;
    trainable and scripted players are never touched, and past matches stay in
    the ledger. Returns the pruned ids (with ``dry_run``: the ids that would be pruned).
    A resumed run leaves them out too (its checkpoint's roster loses snapshots
    the store no longer has).

    Raises:
        RunDirError: if the run is live (another process holds its lock); a live
            run prunes itself with ``snapshots.keep_last`` / ``keep_top``.
    """
    read_run_info(run_dir)  # a clear error before a lock file is made in a folder holding no run
    lock = RunLock(run_dir)
    try:
        return _prune(run_dir, keep_last=keep_last, keep_top=keep_top, dry_run=dry_run)
    finally:
        lock.release()


def _prune(run_dir: Path, *, keep_last: int | None, keep_top: int | None, dry_run: bool) -> list[PlayerId]:
    with open_ledger(run_dir) as (info, ledger):
        ratings, _ = ledger.ratings()
        pruned = prunable(ledger.players(), ratings, keep_last=keep_last, keep_top=keep_top)
        if dry_run or not pruned:
            return pruned
        store = run_store(info, run_dir)
        for player in pruned:
            store.delete(player)
            ledger.remove_player(player)
        resident = [p for p in ledger.resident() if p not in set(pruned)]
        ledger.set_resident(resident)
    return pruned
