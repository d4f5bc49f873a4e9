"""``league eval --exploitability``: exact exploitability of an exported agent or of a run's league.

Two sources, told apart by what the folder holds:

* an export folder (``opponent.json``, from ``league export``): the agent is
  loaded with :func:`agents.load_opponent`, checksums verified, and plays both
  seats with its action probabilities on the game's information-state vectors;
* a run folder (``run.json``): every trainable player with the weights of the
  run's last completed iteration, and the Nash mixture of the run's frozen
  snapshots (see :mod:`league.exploitability`).

Only OpenSpiel games (``openspiel:<game>``) have an exact exploitability.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from league.errors import SnapshotCorrupt, SnapshotNotFound, UsageError
from league.exploitability import (
    InformationStates,
    LeagueExploitability,
    LeagueMeasure,
    ProbsFn,
    exploitability,
    openspiel_game,
)
from league.snapshots import Snapshot, SnapshotStore
from league.types import PlayerId, Role

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExploitabilityReport:
    """What ``league eval --exploitability`` prints.

    Attributes:
        game: League game name.
        source: ``export`` or ``run``.
        values: Exploitability by player id (and ``mixture`` for a run's snapshots).
        mixture_weights: Nash weight of each frozen snapshot (runs only).
    """

    game: str
    source: str
    values: dict[str, float]
    mixture_weights: dict[str, float]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"game": self.game, "source": self.source, "exploitability": self.values,
                "mixture_weights": self.mixture_weights}


def measure_path(path: str | Path) -> ExploitabilityReport:
    """Exploitability of the export folder or run folder at ``path``.

    Raises:
        UsageError: ``path`` is neither, or its game is not an OpenSpiel game.
    """
    from agents.opponent import OPPONENT_FILE
    from league.run_dir import RUN_FILE

    path = Path(path)
    if (path / OPPONENT_FILE).is_file():
        return measure_export(path)
    if (path / RUN_FILE).is_file():
        return measure_run(path)
    raise UsageError(f"--exploitability: {str(path)!r} is neither an export folder ({OPPONENT_FILE}) "
                     f"nor a run folder ({RUN_FILE})")


def measure_export(path: Path) -> ExploitabilityReport:
    """Exploitability of the exported agent in ``path`` (verified before use)."""
    from agents.opponent import load_opponent

    opponent = load_opponent(path)
    game = openspiel_game(opponent.game)
    value = exploitability(game, InformationStates(game).policy(opponent.action_probs_batch))
    return ExploitabilityReport(opponent.game, "export", {opponent.player_id: value}, {})


def snapshot_probs(snapshot: Snapshot, game: str, env_config: dict, framework: str) -> ProbsFn:
    """The action-probability function of a snapshot's (or player's) verified weights.

    ``framework`` is the run's: weights are in one layout for both frameworks,
    so a snapshot frozen by a tf2 run plays in a torch run as it trains there.
    """
    import envs
    from league.rllib.actors import PolicyActor
    from league.rllib.export import build_policy

    env = envs.make(game, **env_config)
    policy = build_policy(env.observation_space, env.action_space, snapshot.manifest.model_config_,
                          snapshot.weights, framework=framework)
    return PolicyActor(policy, explore=True, rng=np.random.default_rng(0)).action_probs


def stored_probs(store: SnapshotStore, player: PlayerId, game: str, env_config: dict,
                 framework: str) -> ProbsFn | None:
    """:func:`snapshot_probs` of ``player``'s verified weights in ``store``; None if they are corrupt or gone.

    An unreachable store raises (:class:`~league.errors.SnapshotStoreUnavailable`):
    leaving its snapshots out would silently change the Nash mixture.
    """
    try:
        snapshot = store.load(player)
    except (SnapshotCorrupt, SnapshotNotFound) as e:
        _log.warning("exploitability: leaving out %s: %s", player, e)
        return None
    return snapshot_probs(snapshot, game, env_config, framework)


def measure_run(run_dir: Path) -> ExploitabilityReport:
    """Exploitability of a run's trainable players (latest weights) and of its snapshots' Nash mixture."""
    from league.export import players_store
    from league.offline import open_ledger, run_config, run_store

    with open_ledger(run_dir) as (info, ledger):
        roster = ledger.players()
        unusable = set(ledger.unusable())
    config = run_config(info)
    tracker = LeagueExploitability(info.game)
    trainable_store, snapshot_store = players_store(run_dir), run_store(info, run_dir)

    def loader(store: SnapshotStore, player: PlayerId) -> Callable[[], ProbsFn | None]:
        return functools.partial(stored_probs, store, player, info.game, config.env_config,
                                 config.training.framework)

    players = {}
    for record in roster:
        if record.trainable:
            probs = loader(trainable_store, record.player_id)()
            if probs is not None:
                players[str(record.player_id)] = probs
    snapshots = {str(r.player_id): loader(snapshot_store, r.player_id) for r in roster
                 if r.role is Role.SNAPSHOT and r.player_id not in unusable}
    measure: LeagueMeasure = tracker.measure(players, snapshots)
    weights = measure.mixture.weights if measure.mixture is not None else {}
    return ExploitabilityReport(info.game, "run", measure.values, weights)
