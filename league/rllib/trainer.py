"""The trainer port (:class:`league.trainer.Trainer`) on an RLlib ``Algorithm``.

:class:`RLlibTrainer` starts (or joins) Ray, builds the Algorithm with
:func:`league.rllib.algorithm.build_algorithm`, and answers every call of the
league loop with the functions of :mod:`league.rllib.algorithm`. It is the
only place the loop reaches Ray and RLlib through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm

import envs
from league.config import LeagueConfig
from league.matchmaking import MatchPlan
from league.rllib import algorithm as rl
from league.rllib.actors import PolicyActor
from league.rllib.mapping import MatchMapping
from league.rllib.runtime import driver_node_id, ensure_ray, shutdown_ray
from league.trainer import LedgerSpec, RunnerOutput, TrainOutcome
from league.types import PlayerId


class RLlibTrainer:
    """League's trainer on RLlib's old API stack (PPO, APPO or IMPALA).

    Args:
        config: The run's configuration (``training``, ``resources``, ``snapshots``).
        trainable: The trainable players, all in ``policies_to_train``.
        seat_agents: The game's agent names, in seat order.
        observation_space: Per-agent (masked dict) observation space.
        action_space: Per-agent discrete action space.
        plan: The first iteration's match plan.
        ledger: How env runners reach the ledger to write their match records.

    Attributes:
        algorithm: The RLlib Algorithm (for tests and benchmarks that look inside).
    """

    def __init__(self, config: LeagueConfig, *, trainable: Sequence[PlayerId], seat_agents: Sequence[str],
                 observation_space: gym.Space, action_space: gym.Space, plan: MatchPlan,
                 ledger: LedgerSpec) -> None:
        self._trainable = list(trainable)
        self._seat_agents = tuple(seat_agents)
        self._observation_space = observation_space
        self._self_play_both = config.matchmaking.self_play_learns_both_seats
        self._ledger = ledger
        self._owns_ray = ensure_ray(config.resources.num_cpus, config.resources.address)
        try:
            self.algorithm: Algorithm | None = rl.build_algorithm(
                config, env_name=envs.register_with_ray(config.game), trainable=self._trainable,
                observation_space=observation_space, action_space=action_space, mapping=self._mapping(plan))
        except BaseException:
            self._stop_ray()
            raise

    def _algo(self) -> Algorithm:
        if self.algorithm is None:
            raise RuntimeError("the trainer was stopped")
        return self.algorithm

    def _mapping(self, plan: MatchPlan) -> MatchMapping:
        return MatchMapping(plan, self._seat_agents, set(self._trainable),
                            self_play_learns_both_seats=self._self_play_both)

    def install_plan(self, plan: MatchPlan, iteration: int) -> None:
        """Install ``plan``'s match mapping and the trainable players' mirrors on every env runner."""
        rl.install_mapping(self._algo(), self._mapping(plan), iteration, self._ledger)

    def train(self) -> TrainOutcome:
        """One ``Algorithm.train()`` with every queued update applied (:func:`league.rllib.algorithm.train`)."""
        return rl.train(self._algo())

    def phase_seconds(self) -> tuple[float, float]:
        """RLlib's total sample and learn seconds (:func:`league.rllib.algorithm.phase_seconds`)."""
        return rl.phase_seconds(self._algo())

    def drain(self) -> RunnerOutput:
        """Every env runner's buffered output (:func:`league.rllib.algorithm.drain_runners`)."""
        return rl.drain_runners(self._algo())

    def add_frozen(self, player: PlayerId, *, weights: Mapping[str, Any] | None,
                   model_config: Mapping[str, Any] | None, scripted: str | None) -> None:
        """``Algorithm.add_policy`` of a frozen player (:func:`league.rllib.algorithm.restore_frozen`)."""
        rl.restore_frozen(self._algo(), player, template=self._trainable[0], weights=weights,
                          model_config=model_config, scripted=scripted,
                          observation_space=self._observation_space, trainable=self._trainable)

    def remove_frozen(self, players: Sequence[PlayerId]) -> int:
        """``Algorithm.remove_policy`` of frozen players (:func:`league.rllib.algorithm.remove_frozen`)."""
        return rl.remove_frozen(self._algo(), players, self._trainable)

    def weights(self, player: PlayerId) -> dict[str, Any]:
        """The learner's canonical weights of ``player``."""
        return rl.current_weights(self._algo(), player)

    def learner_state(self, player: PlayerId) -> dict[str, Any]:
        """``player``'s checkpoint state (:func:`league.rllib.algorithm.checkpoint_state`)."""
        return rl.checkpoint_state(self._algo(), player)

    def load_learner_state(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        """Load a checkpoint state on the learner and every runner."""
        rl.load_checkpoint_state(self._algo(), player, state)

    def initial_state(self, player: PlayerId) -> dict[str, Any]:
        """``player``'s weights and optimizer state now (:func:`league.rllib.algorithm.initial_state`)."""
        return rl.initial_state(self._algo(), player)

    def reset(self, player: PlayerId, state: Mapping[str, Any]) -> None:
        """Put ``player`` back to an initial state on the learner and every runner."""
        rl.reset_player(self._algo(), player, state)

    def actor(self, player: PlayerId, *, explore: bool, rng: np.random.Generator) -> PolicyActor:
        """The learner's policy of ``player`` as an actor outside the samplers."""
        return PolicyActor(self._algo().get_policy(player), explore=explore, rng=rng)

    def env_runner_restarts(self) -> int:
        """Remote env runners RLlib restarted since the Algorithm was built."""
        return rl.env_runner_restarts(self._algo()) if self.algorithm is not None else 0

    def remote_runner_nodes(self) -> list[str]:
        """Nodes other than the driver's that run env runners."""
        driver = driver_node_id()
        return [node for node in rl.runner_nodes(self._algo()) if node != driver]

    def stop(self) -> None:
        """Stop the Algorithm, then Ray if this trainer started it; each step runs even if the first raised."""
        algorithm, self.algorithm = self.algorithm, None
        try:
            if algorithm is not None:
                algorithm.stop()
        finally:
            self._stop_ray()

    def _stop_ray(self) -> None:
        if self._owns_ray:
            self._owns_ray = False
            shutdown_ray()
