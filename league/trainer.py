"""The trainer port: the league loop's only way into the learning system (Ray RLlib).

The loop (:mod:`league.manager`) plans matches, keeps the ledger and the
snapshot store, and asks a :class:`Trainer` to do everything that needs the
learning system: install the iteration's match plan on every sampler, sample
and learn, hand over the finished matches, make frozen players resident or
drop them, and read or set a player's weights. :class:`league.rllib.trainer.RLlibTrainer`
implements it on an RLlib ``Algorithm``; tests use a fake one (``tests/league/fake_trainer.py``),
so the loop's own logic runs without Ray.

The records that cross the port (:class:`TrainOutcome`, :class:`RunnerOutput`,
:class:`LedgerSpec`) are plain data and import nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from league.types import MatchRecord, PlayerId

if TYPE_CHECKING:
    import numpy as np

    from league.matchmaking import MatchPlan


@dataclass(frozen=True)
class LedgerSpec:
    """How a sampler process reaches the run's ledger (plain data: it travels to runner processes)."""

    url: str = field(repr=False)  # may hold the Redis password: kept out of logs and error messages
    run_id: str
    retry_timeout_s: float
    write_batch: int


@dataclass(frozen=True)
class TrainOutcome:
    """What one :meth:`Trainer.train` did.

    Attributes:
        env_steps: Env steps sampled.
        learner_stats: Each trained policy's learner statistics after its last
            update (League's names, see :func:`league.rllib.learner_stats.learner_stats`).
    """

    env_steps: int
    learner_stats: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RunnerOutput:
    """What the samplers hand over after an iteration (one runner's, or all of them folded).

    Attributes:
        matches: Records of finished episodes the runner did not write to the ledger itself.
        written: Records the runner wrote to the ledger (new ones) since the last drain.
        tallies: Each learner's points and seats in the matches that finished (see
            :func:`~league.payoff.learner_tallies`).
        agent_steps: Agent steps sampled per policy id (mirrors under their own id).
        env_restarts: Sub-environments that raised and were restarted (their episodes dropped).
        ledger_retries: Ledger calls the runner retried while Redis was unreachable.

    Example:
        >>> total = RunnerOutput(written=2, agent_steps={"main": 10})
        >>> total.add(RunnerOutput(written=1, agent_steps={"main": 5}, env_restarts=1))
        >>> total.written, total.agent_steps, total.env_restarts
        (3, {'main': 15}, 1)
    """

    matches: list[MatchRecord] = field(default_factory=list)
    written: int = 0
    tallies: dict[PlayerId, tuple[float, int]] = field(default_factory=dict)
    agent_steps: dict[str, int] = field(default_factory=dict)
    env_restarts: int = 0
    ledger_retries: int = 0

    def add(self, other: RunnerOutput) -> None:
        """Fold another runner's output into this one."""
        self.matches.extend(other.matches)
        self.written += other.written
        for player, (points, seats) in other.tallies.items():
            before = self.tallies.get(player, (0.0, 0))
            self.tallies[player] = (before[0] + points, before[1] + seats)
        for pid, steps in other.agent_steps.items():
            self.agent_steps[pid] = self.agent_steps.get(pid, 0) + steps
        self.env_restarts += other.env_restarts
        self.ledger_retries += other.ledger_retries


class BatchActor(Protocol):
    """A trained player acting outside the samplers (evaluation, anchor games, exploitability)."""

    def action_probs(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Probability of every action for each observation (zero on illegal ones)."""
        ...

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One legal action per observation."""
        ...


class Trainer(Protocol):
    """What the league loop asks of the learning system; every call happens between iterations.

    Trainable players are fixed when the trainer is built; frozen players
    (snapshots, scripted players) come and go through :meth:`add_frozen` and
    :meth:`remove_frozen`. Weights are canonical name -> array dicts
    (:mod:`league.rllib.weights`), the layout snapshots are stored in.
    """

    def install_plan(self, plan: MatchPlan, iteration: int) -> None:
        """Make every sampler play ``plan`` for ``iteration``'s new episodes, with current weights."""
        ...

    def train(self) -> TrainOutcome:
        """Sample and learn once; returns when every update of the iteration is applied."""
        ...

    def phase_seconds(self) -> tuple[float, float]:
        """Total seconds spent sampling and learning since the trainer was built."""
        ...

    def drain(self) -> RunnerOutput:
        """Collect what every sampler buffered since the last drain."""
        ...

    def add_frozen(self, player: PlayerId, *, weights: Mapping[str, Any] | None,
                   model_config: Mapping[str, Any] | None, scripted: str | None) -> None:
        """Make frozen ``player`` playable: a snapshot's ``weights``, or the scripted policy ``scripted``."""
        ...

    def remove_frozen(self, players: Sequence[PlayerId]) -> int:
        """Drop frozen ``players`` everywhere; returns the episodes in flight that were abandoned."""
        ...

    def weights(self, player: PlayerId) -> dict[str, Any]:
        """A copy of a player's current weights."""
        ...

    def learner_state(self, player: PlayerId) -> dict[str, Any]:
        """A trainable player's state for a checkpoint (weights, optimizer, counters)."""
        ...

    def load_learner_state(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        """Put a trainable player back to a :meth:`learner_state`."""
        ...

    def initial_state(self, player: PlayerId) -> dict[str, Any]:
        """A trainable player's weights and optimizer state now, for a later :meth:`reset`."""
        ...

    def reset(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        """Put a trainable player back to an :meth:`initial_state`."""
        ...

    def actor(self, player: PlayerId, *, explore: bool, rng: np.random.Generator) -> BatchActor:
        """``player``'s policy acting outside the samplers (sampling from it when ``explore``)."""
        ...

    def env_runner_restarts(self) -> int:
        """Sampler processes restarted since the trainer was built."""
        ...

    def remote_runner_nodes(self) -> list[str]:
        """Cluster nodes other than the driver's that run samplers (empty on one machine)."""
        ...

    def stop(self) -> None:
        """Release everything the trainer started."""
        ...
