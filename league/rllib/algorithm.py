"""Building and steering the RLlib PPO Algorithm (old API stack) for a league.

Everything League does to RLlib goes through the functions here: build the
Algorithm, install a match mapping on every env runner, add a frozen policy,
drain match records, and read a policy's weights everywhere it lives.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.policy.policy import Policy, PolicySpec

from agents.models import ACTION_MASK_MODEL, register_models
from league.config import LeagueConfig
from league.matchmaking import MatchPlan
from league.rllib.callbacks import MatchRecorder
from league.rllib.mapping import MatchMapping
from league.types import MatchRecord, PlayerId


def build_algorithm(
    config: LeagueConfig,
    *,
    env_name: str,
    trainable: Sequence[PlayerId],
    observation_space: gym.Space,
    action_space: gym.Space,
    mapping: MatchMapping,
) -> Algorithm:
    """A PPO Algorithm on RLlib's old API stack with League's model and callbacks.

    Args:
        config: The run's configuration.
        env_name: The game's name as registered with Ray.
        trainable: Policy ids created at start, all in ``policies_to_train``.
        observation_space: Per-agent (masked dict) observation space.
        action_space: Per-agent discrete action space.
        mapping: The first iteration's match mapping.
    """
    register_models()
    training = config.training
    resources = config.resources
    policies = {pid: PolicySpec(None, observation_space, action_space, {}) for pid in trainable}
    algo_config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .environment(env=env_name, env_config=dict(config.env_config), disable_env_checking=True)
        .framework("torch")
        .env_runners(
            num_env_runners=resources.num_env_runners,
            num_envs_per_env_runner=resources.num_envs_per_env_runner,
            rollout_fragment_length=resources.rollout_fragment_length,
            batch_mode="truncate_episodes",
        )
        .training(
            train_batch_size=training.train_batch_size,
            minibatch_size=training.minibatch_size,
            num_epochs=training.num_epochs,
            lr=training.lr,
            gamma=training.gamma,
            lambda_=training.lambda_,
            clip_param=training.clip_param,
            entropy_coeff=training.entropy_coeff,
            vf_loss_coeff=training.vf_loss_coeff,
            model={"custom_model": ACTION_MASK_MODEL,
                   "custom_model_config": {"hiddens": list(training.hiddens)}},
        )
        .multi_agent(policies=policies, policy_mapping_fn=mapping, policies_to_train=list(trainable))
        .callbacks(MatchRecorder)
        .resources(num_gpus=0)
        .debugging(seed=config.seed, log_level="ERROR")
    )
    return algo_config.build_algo()


def install_mapping(algo: Algorithm, mapping: MatchMapping, iteration: int) -> None:
    """Use ``mapping`` for every new episode on every env runner (local and remote)."""

    def install(runner: Any) -> None:
        runner.set_policy_mapping_fn(mapping)
        runner.callbacks.iteration = iteration

    algo.env_runner_group.foreach_env_runner(install, local_env_runner=True)


def drain_matches(algo: Algorithm) -> list[MatchRecord]:
    """Collect the match records every env runner buffered since the last drain."""
    batches = algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.callbacks.drain(), local_env_runner=True
    )
    return [record for batch in batches for record in batch]


def add_frozen_copy(algo: Algorithm, source: PlayerId, new_id: PlayerId,
                    trainable: Sequence[PlayerId]) -> Policy:
    """Freeze a copy of ``source``'s current weights as policy ``new_id`` on every runner.

    The copy is not in ``policies_to_train``: it never learns.
    """
    policy = algo.get_policy(source)
    return algo.add_policy(
        policy_id=new_id,
        policy_cls=type(policy),
        policy_state=policy.get_state(),
        observation_space=policy.observation_space.original_space
        if hasattr(policy.observation_space, "original_space") else policy.observation_space,
        action_space=policy.action_space,
        policies_to_train=list(trainable),
    )


def weights_everywhere(algo: Algorithm, policy_id: PlayerId) -> list[dict[str, Any]]:
    """``policy_id``'s weights on the driver's runner and on every remote env runner."""
    return algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.get_policy(policy_id).get_weights(), local_env_runner=True
    )
