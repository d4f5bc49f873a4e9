"""Scripted opponents as real RLlib ``Policy`` subclasses.

They sit in the Algorithm's policy map like any other player, are never in
``policies_to_train``, and choose moves with the pure functions of
:mod:`agents.heuristics`.
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym
import numpy as np
import tree
from ray.rllib.models.modelv2 import restore_original_dimensions
from ray.rllib.policy.policy import Policy
from ray.rllib.policy.sample_batch import SampleBatch

from agents.heuristics import ALPHABETA_DEPTHS, CHOOSERS, Chooser, alphabeta_id


class ScriptedPolicy(Policy):
    """A fixed policy that maps each (observation, action mask) to a move.

    Subclasses set :attr:`chooser`. ``config["seed"]`` seeds the policy's own
    ``np.random.Generator`` (combined with the worker index when RLlib gives one).
    """

    chooser: Chooser

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: dict[str, Any]) -> None:
        super().__init__(observation_space, action_space, config)
        seed = config.get("seed")
        worker_index = config.get("worker_index", 0)
        self._rng = np.random.default_rng(None if seed is None else [int(seed), int(worker_index)])

    def init_view_requirements(self) -> None:
        """Scripted players need only observations."""
        super().init_view_requirements()
        infos = self.view_requirements[SampleBatch.INFOS]
        infos.used_for_training = False
        infos.used_for_compute_actions = False

    def _unflatten(self, obs_batch: Any) -> dict[str, np.ndarray]:
        if isinstance(obs_batch, dict):
            return {k: np.asarray(v) for k, v in obs_batch.items()}
        # League's observation space is a Dict, so the restored batch is one array per key.
        return cast(dict[str, np.ndarray],
                    restore_original_dimensions(np.asarray(obs_batch), self.observation_space, tensorlib="numpy"))

    def compute_actions(self, obs_batch: Any, state_batches: Any = None, prev_action_batch: Any = None,
                        prev_reward_batch: Any = None, info_batch: dict[str, list] | None = None,
                        episodes: list | None = None, explore: bool | None = None, timestep: int | None = None,
                        **kwargs: Any) -> tuple[np.ndarray, list[Any], dict[str, Any]]:
        """Choose one move per observation in the batch."""
        obs = self._unflatten(obs_batch)
        observations, masks = obs["observation"], obs["action_mask"]
        actions = np.array(
            [type(self).chooser(observations[i], masks[i], self._rng) for i in range(len(masks))],
            dtype=np.int64,
        )
        return actions, [], {}

    def learn_on_batch(self, samples: SampleBatch) -> dict[str, Any]:
        """Scripted players never learn."""
        return {}

    def compute_log_likelihoods(self, actions: Any, obs_batch: Any, *args: Any, **kwargs: Any) -> Any:
        """Not defined for scripted players; RLlib does not call it for untrained policies."""
        raise TypeError(f"{type(self).__name__} has no action distribution")

    def get_weights(self) -> dict:
        """Scripted players have no weights."""
        return {}

    def set_weights(self, weights: dict) -> None:
        """Scripted players have no weights; nothing to set."""

    def _get_dummy_batch_from_view_requirements(self, batch_size: int = 1) -> SampleBatch:
        return SampleBatch(
            {SampleBatch.OBS: tree.map_structure(lambda s: s[None], self.observation_space.sample())}
        )


class RandomPolicy(ScriptedPolicy):
    """Uniformly random over the legal moves."""

    chooser = staticmethod(CHOOSERS["random"][0])


class ConnectFourHeuristicPolicy(ScriptedPolicy):
    """Connect Four: win if possible, else block an immediate loss, else prefer the centre."""

    chooser = staticmethod(CHOOSERS["heuristic"][0])


def _alphabeta_policy(depth: int) -> type[ScriptedPolicy]:
    """The policy class of ``alphabeta-<depth>``, named so that pickle finds it in this module."""
    name = f"AlphaBeta{depth}Policy"
    return type(name, (ScriptedPolicy,), {
        "__module__": __name__, "__qualname__": name,
        "__doc__": f"Connect Four and tic-tac-toe: alpha-beta search {depth} moves deep, ties at random.",
        "chooser": staticmethod(CHOOSERS[alphabeta_id(depth)][0]),
    })


_ALPHABETA_POLICIES = tuple(_alphabeta_policy(depth) for depth in ALPHABETA_DEPTHS)
AlphaBeta1Policy, AlphaBeta2Policy, AlphaBeta3Policy, AlphaBeta4Policy, AlphaBeta5Policy, AlphaBeta6Policy = (
    _ALPHABETA_POLICIES)

#: Scripted policy classes by the name users give them.
SCRIPTED_POLICIES: dict[str, type[ScriptedPolicy]] = {
    "random": RandomPolicy,
    "heuristic": ConnectFourHeuristicPolicy,
    **{alphabeta_id(depth): cls for depth, cls in zip(ALPHABETA_DEPTHS, _ALPHABETA_POLICIES, strict=True)},
}
