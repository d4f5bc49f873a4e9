"""The snapshot step: freezing learners, their anchor games, resets, retention, and saving players.

After each iteration :meth:`Freezer.freeze_and_reset` applies every learner's
snapshot trigger (:func:`league.roles.snapshot_due`): the learner's weights go
to the snapshot store as a new frozen player, which plays its anchor games
against the scripted players (:mod:`league.anchors`); an exploiter may then be
reset to its initial weights. :meth:`Freezer.prune` applies the retention
policy; the pruned snapshots' files leave the store only after the next
checkpoint (:mod:`league.committing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from league.anchors import play_anchor_games
from league.config import LeagueConfig
from league.errors import SnapshotExists
from league.faults import kill_point
from league.ledger.base import Ledger
from league.matchmaking import LeagueView, MatchPlan
from league.player_ids import allocate_snapshot_id
from league.ratings import Rating
from league.residents import Residents
from league.retention import prunable
from league.roles import resets_after_snapshot, snapshot_due
from league.snapshots.base import SnapshotInfo, SnapshotStore
from league.snapshots.manifest import RatingAtFreeze, describe_space
from league.standing import Standing
from league.streams import Purpose, stream
from league.trainer import Trainer
from league.types import PlayerId, PlayerRecord, Role


class Freezer:
    """Freezes, resets, prunes and saves a run's players.

    Args:
        config: The run's configuration.
        run_id: The run's id (it goes into every manifest).
        trainer: Where the players' current weights are.
        store: The snapshot store.
        players_store: ``<run_dir>/players``, the trainable players' latest weights (``league export``).
        ledger: The run's ledger.
        residents: The resident pool (a pruned snapshot leaves it).
        observation_space: The game's per-agent observation space (for manifests).
        action_space: The game's per-agent action space.
        ratings: The current ratings (a manifest records its player's at freeze time).
        num_seats: Seats of a match.
    """

    def __init__(self, config: LeagueConfig, run_id: str, *, trainer: Trainer, store: SnapshotStore,
                 players_store: SnapshotStore, ledger: Ledger, residents: Residents,
                 observation_space: gym.Space, action_space: gym.Space,
                 ratings: Callable[[], Mapping[PlayerId, Rating]], num_seats: int) -> None:
        self._config = config
        self._run_id = run_id
        self._trainer = trainer
        self._store = store
        self._players_store = players_store
        self._ledger = ledger
        self._residents = residents
        self._spaces = (describe_space(observation_space), describe_space(action_space))
        self._ratings = ratings
        self._num_seats = num_seats
        self.initial_states: dict[PlayerId, dict[str, Any]] = {}

    def info(self, standing: Standing, player_id: PlayerId, role: Role, parent: PlayerId | None) -> SnapshotInfo:
        """The manifest fields of ``player_id`` frozen now (its source's rating, the model, the spaces)."""
        rating = self._ratings().get(parent or player_id)
        config = self._config
        return SnapshotInfo(
            player_id=player_id, role=role.value, parent=parent, iteration=standing.iteration,
            env_steps=standing.env_steps,
            ratings=RatingAtFreeze(elo=rating.elo, mu=rating.mu, sigma=rating.sigma, games=rating.games)
            if rating is not None else None,
            game=config.game, run_id=self._run_id, framework=config.training.framework,
            model_config=config.training.model_spec(),
            observation_space=self._spaces[0], action_space=self._spaces[1],
        )

    def snapshot(self, standing: Standing, player: PlayerId) -> PlayerRecord:
        """Freeze ``player``'s current weights as a new snapshot player, written to the snapshot store.

        Versions only grow (a pruned snapshot's id is never given to a new one), and an id already
        in use (an outside player's, one written by a racing writer) is skipped: the store refuses
        to overwrite it. The snapshot is not resident until matchmaking picks it.
        """
        taken = ({p.player_id for p in standing.roster} | {p.player_id for p in self._ledger.players()}
                 | set(self._store.ids()))
        weights = self._trainer.weights(player)
        while True:
            new_id, version = allocate_snapshot_id(player, standing.snapshot_versions.get(player, 0),
                                                   lambda pid: pid in taken)
            try:
                self._store.put(self.info(standing, new_id, Role.SNAPSHOT, player), weights,
                                progress=lambda written, total: kill_point("snapshot_upload"))
            except SnapshotExists:
                taken.add(new_id)
                continue
            break
        standing.snapshot_versions[player] = version
        record = PlayerRecord(new_id, Role.SNAPSHOT, parent=player, created_iteration=standing.iteration)
        standing.roster.append(record)
        self._ledger.save_player(record)
        standing.generation_start[player] = standing.iteration
        return record

    def reset(self, standing: Standing, player: PlayerId) -> None:
        """Put a trainable player back to its initial weights and optimizer state."""
        self._trainer.reset(player, self.initial_states[player])
        standing.generation_start[player] = standing.iteration

    def anchor(self, standing: Standing, snapshot: PlayerRecord, source: PlayerId, iteration: int) -> int:
        """Rated games of a new snapshot (still ``source``'s weights) against every usable scripted player.

        Recorded as ledger matches with no learner; returns how many were new.
        """
        games = self._config.ratings.anchor_games
        scripted = [p.player_id for p in standing.roster
                    if p.role is Role.SCRIPTED and p.player_id not in standing.unusable]
        if not games or not scripted:
            return 0
        config = self._config
        records = play_anchor_games(
            snapshot.player_id, lambda rng: self._trainer.actor(source, explore=True, rng=rng), scripted=scripted,
            games=games, game=config.game, env_config=config.env_config, seed=config.seed, iteration=iteration,
            num_seats=self._num_seats)
        before = self._ledger.match_count()
        self._ledger.record(records)
        added = self._ledger.match_count() - before  # from the ledger: a retried write may report 0 new
        standing.anchor_matches += added
        return added

    def freeze_and_reset(self, standing: Standing, iteration: int, view: LeagueView,
                         plan: MatchPlan) -> tuple[list[PlayerId], list[PlayerId]]:
        """Apply the snapshot triggers and reset rules after ``iteration``; returns the frozen and the reset."""
        frozen, reset = [], []
        rules = self._config.matchmaking.role_rules
        for index, learner in enumerate(p for p in view.players if p.trainable):
            distribution = plan.for_learner(learner.player_id).opponents
            if not snapshot_due(learner, view, distribution, self._config.snapshots, iteration):
                continue
            record = self.snapshot(standing, learner.player_id)
            frozen.append(record.player_id)
            self.anchor(standing, record, learner.player_id, iteration)
            rng = stream(self._config.seed, Purpose.RESET, iteration, index)
            if resets_after_snapshot(rules(learner.role).reset_probability, rng):
                self.reset(standing, learner.player_id)
                reset.append(learner.player_id)
        return frozen, reset

    def save_players(self, standing: Standing) -> None:
        """Write every trainable player's current weights to ``<run_dir>/players`` (for ``league export``)."""
        for player in standing.roster:
            if player.trainable:
                self._players_store.put(self.info(standing, player.player_id, player.role, None),
                                        self._trainer.weights(player.player_id), replace=True)

    def prune(self, standing: Standing, keep_last: int | None, keep_top: int | None) -> list[PlayerId]:
        """Remove the snapshots ``keep_last`` / ``keep_top`` do not keep (see :mod:`league.retention`).

        Each leaves the trainer if resident and the ledger's roster; its past matches stay in the
        ledger. Its files leave the store after the next checkpoint (the last one still lists it).
        """
        pruned = prunable(standing.roster, self._ratings(), keep_last=keep_last, keep_top=keep_top)
        standing.abandoned_episodes += self._residents.evict(pruned)
        for player in pruned:
            standing.pending_deletes.append(player)
            self._ledger.remove_player(player)
        gone = set(pruned)
        standing.roster = [p for p in standing.roster if p.player_id not in gone]
        if pruned:
            self._ledger.set_resident(standing.trainable + self._residents.pool.resident)
        return pruned
