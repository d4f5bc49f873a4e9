"""The resident pool step: which frozen players are loaded for an iteration, and loading them.

At most ``snapshots.max_resident_opponents`` frozen players are resident (RLlib
policies) at once. Before each iteration :meth:`Residents.prepare` takes in
players added from outside (``league add-opponent``), asks the matchmaker for
a plan, chooses the residents it needs (:func:`league.pool.choose_residents`),
drops the least recently used and restores missing snapshots from the store
(checked against the game's spaces). A snapshot that fails is marked
unusable, in the store and the ledger, and the plan is made again without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from league.errors import SnapshotCorrupt, SnapshotNotFound
from league.ledger.base import Ledger
from league.matchmaking import MatchPlan
from league.pool import ResidentPool, choose_residents, restrict_plan
from league.snapshots.base import SnapshotStore
from league.snapshots.manifest import describe_space
from league.standing import Standing
from league.streams import Purpose, stream
from league.trainer import Trainer
from league.types import PlayerId, PlayerRecord, Role

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """An iteration's plan over resident players, and what preparing it did.

    Attributes:
        plan: The matchmaker's plan restricted to resident players.
        restored: Players made resident for it.
        unusable: Snapshots found unusable on the way (left out of the plan).
        abandoned: Episodes in flight abandoned by the evictions.
    """

    plan: MatchPlan
    restored: tuple[PlayerId, ...]
    unusable: tuple[PlayerId, ...]
    abandoned: int


class Residents:
    """Keeps the trainer's frozen players to what each iteration's plan needs.

    Args:
        capacity: ``snapshots.max_resident_opponents``.
        trainer: Where frozen players are added and removed.
        store: The snapshot store they are restored from.
        ledger: Where the resident set and unusable players are recorded.
        observation_space: The game's per-agent observation space (a snapshot must match it).
        action_space: The game's per-agent action space.
        game: The game's name, for messages.
    """

    def __init__(self, capacity: int, trainer: Trainer, store: SnapshotStore, ledger: Ledger, *,
                 observation_space: gym.Space, action_space: gym.Space, game: str) -> None:
        self.pool = ResidentPool(capacity)
        self._trainer = trainer
        self._store = store
        self._ledger = ledger
        self._spaces = (describe_space(observation_space), describe_space(action_space))
        self._game = game

    def restore(self, record: PlayerRecord) -> None:
        """Make frozen ``record`` a policy of the trainer (a snapshot is loaded and verified first).

        Raises:
            SnapshotCorrupt: if it fails verification or was frozen for other spaces (then it is marked
                unusable in the store).
            SnapshotNotFound: if its files are gone.
        """
        player = record.player_id
        weights, model_config = None, None
        if record.role is Role.SNAPSHOT:
            snapshot = self._store.load(player)
            model_config = snapshot.manifest.model_config_
            if (snapshot.manifest.observation_space, snapshot.manifest.action_space) != self._spaces:
                reason = f"snapshot {player!r} was frozen for other observation/action spaces than {self._game!r} has"
                self._store.mark_unusable(player, reason)
                raise SnapshotCorrupt(reason)
            weights = snapshot.weights
        self._trainer.add_frozen(player, weights=weights, model_config=model_config,
                                 scripted=player if record.role is Role.SCRIPTED else None)

    def _mark_unusable(self, standing: Standing, player: PlayerId, error: Exception) -> None:
        _log.warning("leaving out unusable snapshot %s: %s", player, error)
        standing.unusable[player] = str(error)
        self._ledger.mark_unusable(player, str(error))

    def restore_pool(self, resident: list[str], standing: Standing) -> None:
        """Make a checkpoint's resident frozen players resident again, in their LRU order."""
        frozen = set(standing.frozen)
        for player in (PlayerId(p) for p in resident):
            if player not in frozen:
                continue
            try:
                self.restore(standing.record(player))
            except (SnapshotCorrupt, SnapshotNotFound) as e:  # failed verification, or its files were deleted
                self._mark_unusable(standing, player, e)
                continue
            self.pool.add(player)

    def evict(self, players: list[PlayerId]) -> int:
        """Drop ``players`` from the trainer if resident; returns the episodes abandoned."""
        resident = [p for p in players if p in self.pool]
        abandoned = self._trainer.remove_frozen(resident)
        for player in players:
            self.pool.discard(player)
        return abandoned

    def prepare(self, iteration: int, standing: Standing, plan: Callable[[], MatchPlan], seed: int) -> Prepared:
        """The iteration's plan over resident players, after making its frozen players resident.

        Args:
            iteration: The iteration about to be played.
            standing: The league's state (its roster takes in outside players; unusable ones are added).
            plan: Makes the matchmaker's plan from the current standing.
            seed: The run's seed (the :attr:`~league.streams.Purpose.RESIDENTS` stream).
        """
        restored: list[PlayerId] = []
        unusable: list[PlayerId] = []
        abandoned = 0
        rng = stream(seed, Purpose.RESIDENTS, iteration)
        adopt_outside_players(standing, self._ledger)
        while True:
            candidate = plan()
            frozen = standing.frozen
            wanted = choose_residents(candidate, frozen, self.pool.capacity, rng)
            change = self.pool.change(wanted)
            abandoned += self.evict(list(change.evict))
            try:
                for player in change.restore:
                    self.restore(standing.record(player))
                    self.pool.add(player)
                    restored.append(player)
            except (SnapshotCorrupt, SnapshotNotFound) as e:  # failed verification, or its files were deleted
                self._mark_unusable(standing, player, e)
                unusable.append(player)
                continue  # plan again without it
            self.pool.use(wanted)
            self._ledger.set_resident(standing.trainable + self.pool.resident)
            return Prepared(restrict_plan(candidate, frozen, self.pool.resident), tuple(restored),
                            tuple(unusable), abandoned)


def adopt_outside_players(standing: Standing, ledger: Ledger) -> None:
    """Take onto the roster the frozen players added to the ledger from outside (``league add-opponent``)."""
    known = {p.player_id for p in standing.roster}
    for record in ledger.players():
        if record.player_id not in known and record.role is Role.SNAPSHOT:
            standing.roster.append(record)
