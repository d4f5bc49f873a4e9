"""The resident pool: which frozen players live in the Algorithm this iteration (pure, no I/O).

A league may hold thousands of frozen players, but only ``capacity`` of them
(``snapshots.max_resident_opponents``) are RLlib policies at any time; the
rest wait in the snapshot store. Before an iteration is sampled:

1. :func:`choose_residents` picks at most ``capacity`` frozen players for the
   iteration from the matchmaker's plan. Every learner first gets one line-up
   drawn from its own distribution (so no learner is left without opponents);
   the remaining places are drawn without replacement in proportion to each
   player's probability of appearing in a match. A player's chance of being
   resident thus grows with how much matchmaking wants it.
2. :func:`restrict_plan` keeps only the line-ups whose frozen players are
   resident and renormalizes, so the policy mapping never names a policy that
   is not loaded and sampling never waits on storage.
3. :class:`ResidentPool` says which residents to drop (least recently used
   first) and which players to restore.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from league.matchmaking import LearnerPlan, MatchPlan
from league.types import PlayerId


def appearance_mass(plan: MatchPlan, frozen: Collection[PlayerId]) -> dict[PlayerId, float]:
    """Probability that a match of this iteration includes each frozen player (over all learners)."""
    mass: dict[PlayerId, float] = {}
    for share, learner in zip(plan.shares, plan.learners, strict=True):
        for player, p in learner.opponents.items():
            if player in frozen:
                mass[player] = mass.get(player, 0.0) + share * p
    return mass


def choose_residents(plan: MatchPlan, frozen: Collection[PlayerId], capacity: int,
                     rng: np.random.Generator) -> tuple[PlayerId, ...]:
    """At most ``capacity`` frozen players to hold resident while ``plan`` is sampled.

    Args:
        plan: The iteration's unrestricted plan.
        frozen: Ids of frozen players (snapshots and scripted players).
        capacity: ``max_resident_opponents``.
        rng: Seeded generator (the choice is reproducible from the run seed).

    Raises:
        ValueError: if one line-up alone needs more than ``capacity`` frozen players.

    Example:
        >>> plan = MatchPlan((LearnerPlan(PlayerId("main"), (("a",), ("b",)), (0.5, 0.5)),), (1.0,), 0, 1)
        >>> len(choose_residents(plan, {"a", "b"}, 1, np.random.default_rng(0)))
        1
    """
    frozen = set(frozen)
    chosen: dict[PlayerId, None] = {}
    for learner in plan.learners:
        if _playable(learner, frozen, chosen):
            continue
        lineup = learner.lineups[int(rng.choice(len(learner.lineups), p=learner.probabilities))]
        needed = [p for p in dict.fromkeys(lineup) if p in frozen and p not in chosen]
        if len(needed) > capacity:
            raise ValueError(f"a line-up of {learner.learner!r} needs {len(needed)} frozen players, "
                             f"more than max_resident_opponents={capacity}")
        if len(chosen) + len(needed) > capacity:
            continue  # the pool is full; this learner keeps only line-ups of trainable players
        chosen.update(dict.fromkeys(needed))
    mass = {p: m for p, m in appearance_mass(plan, frozen).items() if p not in chosen and m > 0}
    places = min(capacity - len(chosen), len(mass))
    if places > 0:
        candidates = sorted(mass)
        weights = np.array([mass[p] for p in candidates])
        picks = rng.choice(len(candidates), size=places, replace=False, p=weights / weights.sum())
        chosen.update(dict.fromkeys(candidates[int(i)] for i in picks))
    return tuple(chosen)


def _loaded(lineup: Sequence[PlayerId], frozen: Collection[PlayerId], resident: Collection[PlayerId]) -> bool:
    """Whether every frozen player of ``lineup`` is resident (trainable players always are)."""
    return all(p not in frozen or p in resident for p in lineup)


def _playable(learner: LearnerPlan, frozen: set[PlayerId], resident: Collection[PlayerId]) -> bool:
    return any(_loaded(lineup, frozen, resident) for lineup in learner.lineups)


def restrict_plan(plan: MatchPlan, frozen: Collection[PlayerId], resident: Collection[PlayerId]) -> MatchPlan:
    """``plan`` with only the line-ups whose frozen players are all ``resident``, renormalized.

    A learner left with no line-up at all (possible only when the pool is
    smaller than the learners' needs) drops out of this iteration's shares.

    Raises:
        ValueError: if no learner has a playable line-up.
    """
    frozen, resident = set(frozen), set(resident)
    learners, shares = [], []
    for share, learner in zip(plan.shares, plan.learners, strict=True):
        kept = [(lineup, p) for lineup, p in zip(learner.lineups, learner.probabilities, strict=True)
                if _loaded(lineup, frozen, resident)]
        total = sum(p for _, p in kept)
        if not kept or total <= 0:
            continue
        learners.append(LearnerPlan(learner.learner, tuple(lineup for lineup, _ in kept),
                                    tuple(p / total for _, p in kept)))
        shares.append(share)
    if not learners or sum(shares) <= 0:
        raise ValueError("no learner has a line-up whose frozen players are resident")
    return MatchPlan(tuple(learners), tuple(s / sum(shares) for s in shares), plan.seed, plan.iteration)


@dataclass(frozen=True)
class PoolChange:
    """What to do to the Algorithm so that exactly the wanted players are resident.

    Attributes:
        evict: Residents to remove, least recently used first.
        restore: Players to load (from the store, or a scripted class).
    """

    evict: tuple[PlayerId, ...]
    restore: tuple[PlayerId, ...]


class ResidentPool:
    """Least-recently-used bookkeeping of the frozen players resident in the Algorithm.

    Args:
        capacity: Most frozen players resident at once (``max_resident_opponents``).

    Example:
        >>> pool = ResidentPool(2)
        >>> pool.change(["a", "b"])
        PoolChange(evict=(), restore=('a', 'b'))
        >>> pool.apply(pool.change(["a", "b"])); pool.use(["a", "b"])
        >>> pool.change(["c"])
        PoolChange(evict=('a',), restore=('c',))
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._lru: OrderedDict[PlayerId, None] = OrderedDict()

    @property
    def resident(self) -> list[PlayerId]:
        """Resident frozen players, least recently used first."""
        return list(self._lru)

    def __contains__(self, player: object) -> bool:
        return player in self._lru

    def __len__(self) -> int:
        return len(self._lru)

    def change(self, wanted: Sequence[PlayerId]) -> PoolChange:
        """Evictions and restores that make every ``wanted`` player resident within capacity.

        Residents that are not wanted stay (cheap to keep, maybe wanted soon)
        until room is needed; then the least recently used go first.

        Raises:
            ValueError: if more players are wanted than fit.
        """
        wanted = list(dict.fromkeys(wanted))
        if len(wanted) > self.capacity:
            raise ValueError(f"{len(wanted)} players wanted resident, capacity is {self.capacity}")
        restore = tuple(p for p in wanted if p not in self._lru)
        overflow = len(self._lru) + len(restore) - self.capacity
        evict = tuple([p for p in self._lru if p not in wanted][:max(0, overflow)])
        return PoolChange(evict, restore)

    def apply(self, change: PoolChange) -> None:
        """Record that ``change`` was carried out."""
        for player in change.evict:
            self._lru.pop(player, None)
        for player in change.restore:
            self._lru[player] = None

    def add(self, player: PlayerId) -> None:
        """Record that ``player`` was restored (it becomes the most recently used)."""
        self._lru[player] = None

    def use(self, players: Iterable[PlayerId]) -> None:
        """Mark ``players`` most recently used (they are in this iteration's plan)."""
        for player in players:
            if player in self._lru:
                self._lru.move_to_end(player)

    def discard(self, player: PlayerId) -> None:
        """Forget ``player`` (it was removed from the Algorithm for another reason, e.g. pruned)."""
        self._lru.pop(player, None)
