"""A trainer (:class:`league.trainer.Trainer`) without Ray: the league loop's logic under test, fast.

It plays no games: each ``train()`` draws ``matches`` match decisions from the
installed plan (exactly as RLlib's samplers do, :meth:`MatchPlan.decide`),
gives each a seeded random result and buffers the records for ``drain()``.
Every trainable player's weights grow by one per ``train()``, so snapshots,
resets and checkpoints are observable. It refuses a plan that schedules a
frozen player it does not hold, as RLlib would fail to map one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from league.matchmaking import MatchPlan
from league.payoff import learner_tallies
from league.trainer import LedgerSpec, RunnerOutput, TrainOutcome
from league.types import MatchId, MatchRecord, PlayerId

#: Moves in every fake match.
MATCH_LENGTH = 7


class UniformActor:
    """Plays a uniformly random legal move (an actor of :mod:`league.arena`)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def action_probs(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Uniform over the legal moves."""
        masks = np.asarray(action_masks, dtype=np.float64)
        return masks / masks.sum(axis=1, keepdims=True)

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One uniformly random legal move per row."""
        return np.array([self._rng.choice(np.flatnonzero(row)) for row in np.asarray(action_masks)])


class FakeTrainer:
    """A :class:`league.trainer.Trainer` over plain dicts; builds like :class:`league.rllib.trainer.RLlibTrainer`."""

    #: Matches each ``train()`` plays.
    matches = 12

    def __init__(self, config: Any, *, trainable: Sequence[PlayerId], seat_agents: Sequence[str],
                 observation_space: Any, action_space: Any, plan: MatchPlan, ledger: LedgerSpec) -> None:
        self.seed = config.seed
        self.num_seats = len(seat_agents)
        self.trainable = list(trainable)
        self.plan, self.iteration = plan, 0
        self.learners = {p: {"weights": {"w": np.zeros(3, np.float32)}, "updates": 0} for p in trainable}
        self.frozen: dict[PlayerId, Any] = {}
        self._buffer: list[MatchRecord] = []
        self.stopped = False

    def install_plan(self, plan: MatchPlan, iteration: int) -> None:
        held = set(self.trainable) | set(self.frozen)
        for learner in plan.learners:
            for lineup in learner.lineups:
                missing = set(lineup) - held
                assert not missing, f"the plan schedules {sorted(missing)}, which are not resident"
        self.plan, self.iteration = plan, iteration

    def train(self) -> TrainOutcome:
        rng = np.random.default_rng([self.seed, self.iteration, 99])
        for k in range(self.matches):
            match = self.plan.decide(1, k, self.num_seats)
            winner = int(rng.integers(self.num_seats))
            returns = tuple(1.0 if seat == winner else -1.0 for seat in range(self.num_seats))
            self._buffer.append(MatchRecord(MatchId(f"fake-{self.iteration}-{k}"), match.seats, returns,
                                            MATCH_LENGTH, 0.0, 0.0, iteration=self.iteration, learner=match.learner))
        for state in self.learners.values():
            state["weights"] = {"w": state["weights"]["w"] + 1}
            state["updates"] += 1
        return TrainOutcome(env_steps=self.matches * MATCH_LENGTH,
                            learner_stats={p: {"loss": 0.0} for p in self.learners})

    def phase_seconds(self) -> tuple[float, float]:
        return 0.0, 0.0

    def drain(self) -> RunnerOutput:
        matches, self._buffer = self._buffer, []
        return RunnerOutput(matches=matches, tallies=learner_tallies(matches),
                            agent_steps={p: len(matches) * MATCH_LENGTH for p in self.trainable})

    def add_frozen(self, player: PlayerId, *, weights: Mapping[str, Any] | None,
                   model_config: Mapping[str, Any] | None, scripted: str | None) -> None:
        assert player not in self.frozen, f"{player} is already resident"
        self.frozen[player] = scripted if scripted is not None else dict(weights or {})

    def remove_frozen(self, players: Sequence[PlayerId]) -> int:
        for player in players:
            del self.frozen[player]
        return 0

    def weights(self, player: PlayerId) -> dict[str, Any]:
        return copy.deepcopy(self.learners[player]["weights"])

    def learner_state(self, player: PlayerId) -> dict[str, Any]:
        state = self.learners[player]
        return {"weights": copy.deepcopy(state["weights"]), "updates": state["updates"]}

    def load_learner_state(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        self.learners[player] = {"weights": {k: np.asarray(v) for k, v in state["weights"].items()},
                                 "updates": int(state["updates"])}

    def initial_state(self, player: PlayerId) -> dict[str, Any]:
        return {"weights": copy.deepcopy(self.learners[player]["weights"])}

    def reset(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        self.learners[player]["weights"] = {k: np.asarray(v) for k, v in state["weights"].items()}

    def actor(self, player: PlayerId, *, explore: bool, rng: np.random.Generator) -> UniformActor:
        return UniformActor(rng)

    def env_runner_restarts(self) -> int:
        return 0

    def remote_runner_nodes(self) -> list[str]:
        return []

    def stop(self) -> None:
        self.stopped = True
