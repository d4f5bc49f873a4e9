"""The commit step: progress into the ledger, and the league checkpoint.

Progress (iteration, env steps, counters) is written to the ledger after every
iteration; every ``checkpoint_every`` iterations (and at the end) a checkpoint
commits the league: the trainable players' learner states and the league's
:class:`~league.standing.Standing`, atomically (:mod:`league.checkpoint`).
Only then do snapshots pruned since the previous checkpoint leave the store,
so the newest checkpoint's roster always stays loadable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from league.checkpoint import write_checkpoint
from league.errors import SnapshotStoreUnavailable
from league.ledger.base import Ledger
from league.ratings import Rating
from league.snapshots.base import SnapshotStore
from league.standing import Standing
from league.trainer import Trainer
from league.types import PlayerId

_log = logging.getLogger(__name__)


def write_progress(ledger: Ledger, standing: Standing, counters: Mapping[str, int]) -> None:
    """Record how far the run got (:data:`league.ledger.base.PROGRESS_FIELDS`)."""
    ledger.set_progress(iteration=standing.iteration, env_steps=standing.env_steps,
                        episodes=standing.total_episodes, anchor_matches=standing.anchor_matches, **counters)


def commit(run_dir: Path, standing: Standing, *, run_id: str, resident: Sequence[PlayerId],
           ratings: Mapping[PlayerId, Rating], counters: Mapping[str, int], trainer: Trainer,
           initial_states: Mapping[PlayerId, Mapping[str, Any]], keep: int, ledger: Ledger,
           store: SnapshotStore) -> Path:
    """Write a checkpoint of the league now and delete the snapshots pruned before it; returns its folder."""
    state = standing.to_state(run_id, resident=list(resident), ratings=ratings, counters=counters)
    players = {str(pid): trainer.learner_state(pid) for pid in standing.trainable}
    path = write_checkpoint(run_dir, state, players, {str(k): v for k, v in initial_states.items()}, keep=keep)
    # Once it is on disk: a later resume from anything older would roll committed work back (league.resume).
    ledger.set_progress(checkpoint=standing.iteration)
    standing.last_checkpoint = standing.iteration
    for snapshot in list(standing.pending_deletes):
        try:
            store.delete(snapshot)
        except SnapshotStoreUnavailable as e:  # the checkpoint stands; try again after the next one
            _log.warning("could not delete pruned snapshot %s yet: %s", snapshot, e)
            continue
        standing.pending_deletes.remove(snapshot)
    return path
