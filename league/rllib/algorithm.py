"""Building and steering the RLlib PPO Algorithm (old API stack) for a league.

Everything League does to RLlib goes through the functions here: build the
Algorithm, install a match mapping on every env runner, refresh the mirrors
of trainable players, add a frozen policy, reset a player to its initial
state, drain match records, and read a policy's weights everywhere it lives.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import gymnasium as gym
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.policy.policy import Policy, PolicySpec

from agents.models import ACTION_MASK_MODEL, register_models
from agents.scripted import SCRIPTED_POLICIES
from league.config import LeagueConfig
from league.rllib.callbacks import MatchRecorder, RunnerOutput
from league.rllib.mapping import MatchMapping, mirror_id
from league.types import PlayerId


def build_algorithm(
    config: LeagueConfig,
    *,
    env_name: str,
    trainable: Sequence[PlayerId],
    scripted: Sequence[PlayerId],
    observation_space: gym.Space,
    action_space: gym.Space,
    mapping: MatchMapping,
) -> Algorithm:
    """A PPO Algorithm on RLlib's old API stack with League's model and callbacks.

    Policies at start: every trainable player (in ``policies_to_train``), a
    mirror of each (not trained; see :mod:`league.rllib.mapping`), and every
    scripted player.

    Args:
        config: The run's configuration.
        env_name: The game's name as registered with Ray.
        trainable: Trainable player ids, all in ``policies_to_train``.
        scripted: Scripted player ids (names in :data:`agents.scripted.SCRIPTED_POLICIES`).
        observation_space: Per-agent (masked dict) observation space.
        action_space: Per-agent discrete action space.
        mapping: The first iteration's match mapping.
    """
    register_models()
    training = config.training
    resources = config.resources
    policies = {}
    for pid in trainable:
        policies[pid] = PolicySpec(None, observation_space, action_space, {})
        policies[mirror_id(pid)] = PolicySpec(None, observation_space, action_space, {})
    for pid in scripted:
        policies[pid] = PolicySpec(SCRIPTED_POLICIES[pid], observation_space, action_space, {})
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
            kl_coeff=training.kl_coeff,
            kl_target=training.kl_target,
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
    """Before an iteration's sampling, on every env runner (local and remote):
    use ``mapping`` for new episodes and copy each trainable player's current
    weights into its mirror."""
    trainable = sorted(mapping.trainable)

    def install(runner: Any) -> None:
        runner.set_policy_mapping_fn(mapping)
        runner.callbacks.iteration = iteration
        for pid in trainable:
            runner.get_policy(mirror_id(pid)).set_weights(runner.get_policy(pid).get_weights())

    algo.env_runner_group.foreach_env_runner(install, local_env_runner=True)


def drain_runners(algo: Algorithm) -> RunnerOutput:
    """Collect what every env runner buffered since the last drain (matches, agent steps)."""
    outputs = algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.callbacks.drain(), local_env_runner=True
    )
    total = RunnerOutput()
    for output in outputs:
        total.matches.extend(output.matches)
        for pid, steps in output.agent_steps.items():
            total.agent_steps[pid] = total.agent_steps.get(pid, 0) + steps
    return total


#: The parts of a policy state a reset restores. The rest (the serialized
#: policy spec and its config, connectors, the global timestep) stays as it is:
#: restoring the spec's config into a live policy breaks RLlib's sampling of
#: episodes still in flight (rows without value predictions).
_RESET_KEYS = ("weights", "_optimizer_variables")


def initial_state(algo: Algorithm, player: PlayerId) -> dict[str, Any]:
    """A deep copy of ``player``'s weights and optimizer state, for a later reset."""
    state = algo.get_policy(player).get_state()
    return copy.deepcopy({k: state[k] for k in _RESET_KEYS if k in state})


def reset_player(algo: Algorithm, player: PlayerId, state: Mapping[str, Any]) -> None:
    """Put ``player`` back to ``state`` (from :func:`initial_state`) on the learner and every runner."""
    policy = algo.get_policy(player)
    restored = copy.deepcopy(dict(state))
    restored["global_timestep"] = policy.global_timestep
    policy.set_state(restored)
    weights = {k: v.copy() for k, v in policy.get_weights().items()}

    def load(runner: Any) -> None:
        runner.get_policy(player).set_weights(weights)

    algo.env_runner_group.foreach_env_runner(load, local_env_runner=False)


def add_frozen_copy(algo: Algorithm, source: PlayerId, new_id: PlayerId,
                    trainable: Sequence[PlayerId]) -> Policy:
    """Freeze a copy of ``source``'s current state as policy ``new_id`` on every runner.

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
