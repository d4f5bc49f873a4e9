"""Matchmaking: who plays whom, decided once per match, reproducible from the run seed.

Pure logic: no Ray, Redis or torch. A :class:`MatchPlan` is made by the driver
before an iteration's sampling starts and shipped (pickled, as plain data) to
every env runner, whose policy mapping function only reads the decision the
plan makes for each new episode.

Seat rule: the learner's seat cycles through the seats with the episode
counter, so it moves first and second equally often.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from league.types import PlayerId


@dataclass(frozen=True)
class MatchPlan:
    """The opponent distribution of one learner for one iteration.

    Attributes:
        learner: The player whose experience trains in these matches.
        opponents: Candidate opponents (may include the learner itself: self-play).
        probabilities: Probability of each opponent; sums to 1.
        seed: The run seed.
        iteration: The league iteration the plan is for.
    """

    learner: PlayerId
    opponents: tuple[PlayerId, ...]
    probabilities: tuple[float, ...]
    seed: int
    iteration: int

    def __post_init__(self) -> None:
        if not self.opponents or len(self.opponents) != len(self.probabilities):
            raise ValueError(f"{self.opponents=} and {self.probabilities=} must be non-empty and aligned")
        if abs(sum(self.probabilities) - 1.0) > 1e-6 or min(self.probabilities) < 0:
            raise ValueError(f"probabilities must be >= 0 and sum to 1, got {self.probabilities}")

    def decide(self, worker_index: int, episode_number: int, num_seats: int) -> tuple[PlayerId, ...]:
        """The player in each seat of one match.

        The draw depends only on (seed, iteration, worker_index, episode_number),
        so a rerun with the same seed makes the same decisions.

        Example:
            >>> plan = MatchPlan(PlayerId("main"), (PlayerId("main_v1"),), (1.0,), 0, 1)
            >>> plan.decide(1, 0, 2), plan.decide(1, 1, 2)
            (('main', 'main_v1'), ('main_v1', 'main'))
        """
        rng = np.random.default_rng([self.seed, self.iteration, worker_index, episode_number])
        opponent = self.opponents[int(rng.choice(len(self.opponents), p=self.probabilities))]
        seats = [opponent] * num_seats
        seats[episode_number % num_seats] = self.learner
        return tuple(seats)


def self_play_plan(
    learner: PlayerId,
    snapshots: Sequence[PlayerId],
    *,
    self_play_fraction: float,
    seed: int,
    iteration: int,
) -> MatchPlan:
    """Self-play against the current learner and, uniformly, its frozen snapshots.

    With no snapshots yet, every match is self-play.

    Example:
        >>> plan = self_play_plan(PlayerId("main"), [PlayerId("main_v1")],
        ...                       self_play_fraction=0.5, seed=0, iteration=3)
        >>> plan.opponents, plan.probabilities
        (('main', 'main_v1'), (0.5, 0.5))
    """
    if not snapshots or self_play_fraction >= 1.0:
        return MatchPlan(learner, (learner,), (1.0,), seed, iteration)
    share = (1.0 - self_play_fraction) / len(snapshots)
    candidates = [(learner, self_play_fraction)] + [(s, share) for s in snapshots]
    kept = [(player, p) for player, p in candidates if p > 0.0]
    return MatchPlan(learner, tuple(p for p, _ in kept), tuple(q for _, q in kept), seed, iteration)
