"""Building and steering the RLlib Algorithm (PPO, APPO or IMPALA; old API stack) for a league.

Everything League does to RLlib goes through the functions here: build the
Algorithm, install a match mapping on every env runner, refresh the mirrors
of trainable players, restore and remove frozen policies (the resident pool),
reset a player to its initial state, drain match records, and read a policy's
weights everywhere it lives.

APPO and IMPALA learn in RLlib's learner thread, asynchronously to sampling:
:func:`train` waits for the thread to finish the iteration's updates before it
returns, so everything League does between iterations (snapshots, resets,
checkpoints, mirrors, the resident pool) sees the weights and optimizer state
of a finished update, and a resumed run starts from the same state as an
uninterrupted one. APPO's target network is brought to the weights the next
iteration samples with at the same point (RLlib syncs it on every
``set_weights`` too, so restored and reset players start consistent).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from ray._common.deprecation import DEPRECATED_VALUE
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.appo import APPOConfig
from ray.rllib.algorithms.impala import IMPALAConfig
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.policy.policy import Policy, PolicySpec

from agents.models import model_config_for, register_models
from agents.scripted import SCRIPTED_POLICIES
from league.config import LEAGUE_OWNED_RLLIB_KEYS, LeagueConfig, TrainingConfig
from league.errors import ConfigError, LeagueError
from league.rllib.callbacks import LedgerSpec, MatchRecorder, RunnerOutput
from league.rllib.learner_stats import learner_stats
from league.rllib.mapping import MatchMapping, mirror_id
from league.rllib.sampler import LeagueEnvRunner
from league.rllib.weights import (
    copy_native_weights,
    learner_state,
    load_learner_state,
    named_weights,
    set_named_weights,
)
from league.trainer import TrainOutcome
from league.types import PlayerId

#: RLlib's config class of each ``training.algorithm``; each has old-stack torch and TF2 policies
#: (PPOTorchPolicy, APPOTorchPolicy, ImpalaTorchPolicy and their TF2 twins).
ALGORITHM_CONFIGS: dict[str, type[AlgorithmConfig]] = {"PPO": PPOConfig, "APPO": APPOConfig, "IMPALA": IMPALAConfig}

#: ``training()`` arguments of RLlib's new API stack (Learner), meaningless on the old stack League runs.
_NEW_STACK_ONLY = frozenset({"learner_class", "learner_config_dict", "learner_connector",
                             "add_default_connectors_to_learner_pipeline"})


def _runners(algo: Algorithm) -> Any:
    """The Algorithm's env runner group (old stack: its runners are RolloutWorkers, hence ``Any``)."""
    group = algo.env_runner_group
    if group is None:
        raise LeagueError("the Algorithm has no env runners: it was stopped")
    return group


def _config(algo: Algorithm) -> AlgorithmConfig:
    """The Algorithm's config (set once it is built)."""
    if algo.config is None:
        raise LeagueError("the Algorithm has no config: it was not built")
    return algo.config


def rllib_training_options(algorithm: str) -> list[str]:
    """The keys ``[training.rllib]`` accepts for ``algorithm``: its config's ``training()`` arguments.

    Read from the signatures of ``training()`` along the config class's MRO
    (so they follow the installed RLlib), less deprecated ones, the new API
    stack's, and those League sets from its own fields
    (:data:`league.config.LEAGUE_OWNED_RLLIB_KEYS`).
    """
    names: set[str] = set()
    for cls in ALGORITHM_CONFIGS[algorithm].__mro__:
        method = cls.__dict__.get("training")
        if method is None:
            continue
        names.update(p.name for p in inspect.signature(method).parameters.values()
                     if p.kind is p.KEYWORD_ONLY and p.default is not DEPRECATED_VALUE)
    return sorted(names - _NEW_STACK_ONLY - set(LEAGUE_OWNED_RLLIB_KEYS))


def algorithm_config(training: TrainingConfig) -> AlgorithmConfig:
    """RLlib's config of ``training.algorithm`` on the old API stack with ``[training]``'s settings (no env, no model).

    For APPO and IMPALA one ``train()`` samples one train batch (RLlib's
    default for them is at least 10 seconds per iteration) and learns on it.
    """
    algo_config = (
        ALGORITHM_CONFIGS[training.algorithm]()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .training(**training.algorithm_training_kwargs())
    )
    if training.algorithm != "PPO":
        algo_config = algo_config.reporting(min_time_s_per_iteration=0,
                                            min_sample_timesteps_per_iteration=training.train_batch_size)
    return algo_config


def check_training(training: TrainingConfig) -> None:
    """Refuse ``[training.rllib]`` keys the chosen algorithm does not have, before anything is started.

    Raises:
        ConfigError: naming each unknown key and listing the valid ones, or
            RLlib's own complaint about a value.
    """
    valid = rllib_training_options(training.algorithm)
    unknown = sorted(set(training.rllib) - set(valid))
    if unknown:
        raise ConfigError(f"training.rllib: {', '.join(repr(k) for k in unknown)} "
                          f"{'is not a setting' if len(unknown) == 1 else 'are not settings'} of "
                          f"{training.algorithm}; valid keys: {', '.join(valid)}")
    buffer = training.rllib.get("minibatch_buffer_size", 1)
    if buffer != 1:
        raise ConfigError(f"training.rllib.minibatch_buffer_size: League learns each iteration's batch before the "
                          f"next iteration, which needs 1 (got {buffer!r}); use num_epochs for more passes")
    try:
        algorithm_config(training)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"training.rllib: RLlib's {training.algorithm} refused the settings: {e}") from e


def rollout_fragment_length(config: LeagueConfig) -> int | str:
    """``resources.rollout_fragment_length``; for APPO and IMPALA "auto" is worked out here (their policies
    size V-trace's time-major batches by it and need a number): train batch / (runners x envs), rounded up."""
    resources = config.resources
    if resources.rollout_fragment_length != "auto" or config.training.algorithm == "PPO":
        return resources.rollout_fragment_length
    return auto_fragment_length(config.training.train_batch_size, resources.num_env_runners,
                                resources.num_envs_per_env_runner)


def auto_fragment_length(train_batch_size: int, num_env_runners: int, num_envs_per_env_runner: int) -> int:
    """RLlib's "auto" rollout fragment length: one sample call of every runner fills one train batch.

    Example:
        >>> auto_fragment_length(400, 0, 32)
        13
    """
    return max(-(-train_batch_size // (num_envs_per_env_runner * max(num_env_runners, 1))), 1)


def build_algorithm(
    config: LeagueConfig,
    *,
    env_name: str,
    trainable: Sequence[PlayerId],
    observation_space: gym.Space,
    action_space: gym.Space,
    mapping: MatchMapping,
) -> Algorithm:
    """A ``training.algorithm`` Algorithm (PPO, APPO, IMPALA; old API stack) with League's model and callbacks.

    Policies at start: every trainable player (in ``policies_to_train``) and a
    mirror of each (not trained; see :mod:`league.rllib.mapping`). Frozen
    players (snapshots, scripted players) come and go through
    :func:`restore_frozen` and :func:`remove_frozen`; RLlib's
    ``policy_map_capacity`` is set to hold exactly the trainable players, their
    mirrors and ``max_resident_opponents`` frozen players, so RLlib never
    stashes a policy in the object store on its own.

    The framework is ``training.framework``: torch, or TF2 (eager, traced) with
    :class:`agents.tf_models.TFActionMaskModel`.

    Args:
        config: The run's configuration.
        env_name: The game's name as registered with Ray.
        trainable: Trainable player ids, all in ``policies_to_train``.
        observation_space: Per-agent (masked dict) observation space.
        action_space: Per-agent discrete action space.
        mapping: The first iteration's match mapping.
    """
    training = config.training
    check_training(training)
    try:
        register_models(training.framework)
    except ImportError as e:
        raise ConfigError(f"training.framework={training.framework!r}: {e}") from e
    resources = config.resources
    policies: dict[str, PolicySpec] = {}
    for pid in trainable:
        policies[pid] = PolicySpec(None, observation_space, action_space, {})
        policies[mirror_id(pid)] = PolicySpec(None, observation_space, action_space, {})
    algo_config = (
        algorithm_config(training)
        .environment(env=env_name, env_config=dict(config.env_config), disable_env_checking=True)
        .framework(training.framework)
        .env_runners(
            num_env_runners=resources.num_env_runners,
            num_envs_per_env_runner=resources.num_envs_per_env_runner,
            # RLlib annotates it int; it takes fractional CPUs (Ray resources) as League allows.
            num_cpus_per_env_runner=resources.num_cpus_per_env_runner,  # type: ignore[arg-type]
            num_gpus_per_env_runner=resources.num_gpus_per_env_runner,
            rollout_fragment_length=rollout_fragment_length(config),
            batch_mode="truncate_episodes",
            env_runner_cls=LeagueEnvRunner if resources.sampler == "league" else None,
        )
        .training(model=model_config_for(training.framework, training.model_spec()))
        # MatchMapping is RLlib's old-stack mapping fn, (agent_id, episode, worker, **kwargs); the annotation
        # is the new stack's.
        .multi_agent(policies=policies, policy_mapping_fn=mapping,  # type: ignore[arg-type]
                     policies_to_train=list(trainable),
                     policy_map_capacity=len(policies) + config.snapshots.max_resident_opponents)
        .callbacks(MatchRecorder)
        .fault_tolerance(
            restart_failed_env_runners=resources.restart_failed_env_runners,
            max_num_env_runner_restarts=resources.max_env_runner_restarts,
            restart_failed_sub_environments=resources.restart_failed_sub_environments,
        )
        .resources(num_gpus=resources.num_gpus)
        .debugging(seed=config.seed, log_level="ERROR")
    )
    algo = algo_config.build_algo()
    _count_learner_batches(algo)
    return algo


def train(algo: Algorithm) -> TrainOutcome:
    """One ``Algorithm.train()``, returning only once every update it queued is applied."""
    _count_learner_batches(algo)
    result = algo.train()
    _settle_learner(algo)
    thread = getattr(algo, "_learner_thread", None)
    info = thread.learner_info if thread is not None else result.get("info", {}).get("learner", {})
    trained: set[str] = set(_config(algo).policies_to_train or ())
    return TrainOutcome(env_steps=int(result["num_env_steps_sampled_this_iter"]),
                        learner_stats={pid: stats for pid, stats in learner_stats(info).items() if pid in trained})


def _count_learner_batches(algo: Algorithm) -> None:
    """Count the train batches RLlib puts on an old-stack learner thread's queue (APPO, IMPALA)."""
    thread = getattr(algo, "_learner_thread", None)
    if thread is None or hasattr(thread, "league_batches"):  # none, or counting already (before any train())
        return
    if getattr(thread, "minibatch_buffer", None) is None:  # RLlib's multi-GPU learner thread counts no updates
        raise ConfigError(f"resources.num_gpus={_config(algo).num_gpus}: League runs APPO and IMPALA with RLlib's "
                          "single-device learner thread; expected num_gpus <= 1")
    thread.league_batches = 0
    put = thread.inqueue.put

    def counting_put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        put(item, block, timeout)  # raises queue.Full on a dropped batch: not counted
        thread.league_batches += 1

    thread.inqueue.put = counting_put


def _settle_learner(algo: Algorithm, timeout_s: float = 600.0) -> None:
    """Wait until the learner thread (APPO, IMPALA) has made every pass over every batch queued, then bring
    APPO's target network to the weights the next iteration samples with."""
    thread = getattr(algo, "_learner_thread", None)
    if thread is None:
        return
    passes = thread.minibatch_buffer.max_initial_ttl  # num_epochs: each batch is learned on that many times
    deadline = time.monotonic() + timeout_s
    while thread.num_steps < thread.league_batches * passes:
        if not thread.is_alive():
            raise LeagueError("RLlib's learner thread died while training (see the log above)")
        if time.monotonic() > deadline:
            raise LeagueError(f"RLlib's learner thread made {thread.num_steps} of "
                              f"{thread.league_batches * passes} updates in {timeout_s:.0f} s")
        time.sleep(0.001)
    algo.env_runner.foreach_policy_to_train(
        lambda policy, _: policy.update_target() if hasattr(policy, "update_target") else None)


def install_mapping(algo: Algorithm, mapping: MatchMapping, iteration: int,
                    ledger: LedgerSpec | None = None) -> None:
    """Before an iteration's sampling, on every env runner (local and remote):
    use ``mapping`` for new episodes, copy each trainable player's current
    weights into its mirror, and connect the runner to ``ledger`` if it is not
    yet (a runner RLlib restarted starts unconnected)."""
    trainable = sorted(mapping.trainable)
    mapping.iteration = iteration

    def install(runner: Any) -> None:
        if ledger is not None and not runner.callbacks.connected:
            runner.callbacks.connect(ledger)
        runner.set_policy_mapping_fn(mapping)
        for pid in trainable:
            runner.get_policy(mirror_id(pid)).set_weights(runner.get_policy(pid).get_weights())

    _runners(algo).foreach_env_runner(install, local_env_runner=True)


def drain_runners(algo: Algorithm) -> RunnerOutput:
    """Collect what every env runner buffered since the last drain (matches, agent steps)."""
    outputs = _runners(algo).foreach_env_runner(
        lambda runner: runner.callbacks.drain(), local_env_runner=True
    )
    total = RunnerOutput()
    for output in outputs:
        total.add(output)
    return total


#: The parts of a policy state a reset restores. The rest (the serialized
#: policy spec and its config, connectors, the global timestep) stays as it is:
#: restoring the spec's config into a live policy breaks RLlib's sampling of
#: episodes still in flight (rows without value predictions).
_RESET_KEYS = ("weights", "_optimizer_variables")


#: The parts of a trainable player's policy state a league checkpoint keeps.
_CHECKPOINT_KEYS = (*_RESET_KEYS, "global_timestep", "num_grad_updates", "current_kl_coeff")


def checkpoint_state(algo: Algorithm, player: PlayerId) -> dict[str, Any]:
    """``player``'s learner state for a checkpoint: weights (canonical, see :mod:`league.rllib.weights`),
    optimizer state, timestep, PPO's KL coefficient; arrays and JSON values only."""
    return learner_state(algo.get_policy(player), _CHECKPOINT_KEYS)


def load_checkpoint_state(algo: Algorithm, player: PlayerId, state: Mapping[str, Any]) -> None:
    """Put ``player`` back to a :func:`checkpoint_state` on the learner, and its weights on every runner."""
    policy = algo.get_policy(player)
    load_learner_state(policy, state)
    if "num_grad_updates" in state:  # Policy.set_state leaves it out
        policy.num_grad_updates = int(state["num_grad_updates"])
    weights = copy_native_weights(policy)

    def load(runner: Any) -> None:
        runner.get_policy(player).set_weights(weights)

    _runners(algo).foreach_env_runner(load, local_env_runner=False)


def phase_seconds(algo: Algorithm) -> tuple[float, float]:
    """Total seconds this Algorithm has spent sampling and learning (RLlib's "sample" / "learn" timers).

    The result dict only reports a moving mean of these timers; the totals'
    difference across one ``train()`` is that iteration's exact time per phase.
    """
    timers = getattr(algo, "_timers", {})

    def total(name: str) -> float:
        timer = timers.get(name)
        return float(getattr(timer, "_total_time", 0.0)) if timer is not None else 0.0

    thread = getattr(algo, "_learner_thread", None)  # APPO, IMPALA: updates run in RLlib's learner thread
    learned = float(thread.grad_timer._total_time) if thread is not None else total("learn")
    return total("sample"), learned


def env_runner_restarts(algo: Algorithm) -> int:
    """Remote env runners RLlib restarted since this Algorithm was built."""
    return int(_runners(algo).num_remote_worker_restarts())


def initial_state(algo: Algorithm, player: PlayerId) -> dict[str, Any]:
    """A deep copy of ``player``'s weights and optimizer state, for a later reset."""
    return learner_state(algo.get_policy(player), _RESET_KEYS)


def reset_player(algo: Algorithm, player: PlayerId, state: Mapping[str, Any]) -> None:
    """Put ``player`` back to ``state`` (from :func:`initial_state`) on the learner and every runner."""
    policy = algo.get_policy(player)
    load_learner_state(policy, state)  # the global timestep stays: it counts the run's steps
    weights = copy_native_weights(policy)

    def load(runner: Any) -> None:
        runner.get_policy(player).set_weights(weights)

    _runners(algo).foreach_env_runner(load, local_env_runner=False)


def restore_frozen(algo: Algorithm, player: PlayerId, *, template: PlayerId,
                   weights: Mapping[str, Any] | None, scripted: str | None,
                   observation_space: gym.Space, trainable: Sequence[PlayerId],
                   model_config: Mapping[str, Any] | None = None) -> None:
    """Make frozen ``player`` an RLlib policy on the learner and every env runner.

    A snapshot gets the policy class and spaces of ``template`` (a trainable
    player), its own ``model_config`` (RLlib model dict; an outside opponent may
    have another network size) and ``weights``; a scripted player gets its class
    from :data:`agents.scripted.SCRIPTED_POLICIES`. Neither is in ``policies_to_train``.

    ``weights`` are canonical (:mod:`league.rllib.weights`), so a snapshot frozen
    by a torch league loads into a TF2 one and the other way round.
    """
    source = algo.get_policy(template)
    framework = source.framework
    tf_weights: dict[str, Any] | None = None
    cls: type[Policy] | None
    state: dict[str, Any] | None
    if scripted is not None:
        cls, state = SCRIPTED_POLICIES[scripted], None
    else:
        # The default class, not type(source): RLlib adds TF2's tracing wrapper itself.
        cls = algo.get_default_policy_class(_config(algo))
        state = {"weights": {k: v for k, v in (weights or {}).items()}, "global_timestep": 0}
        if framework == "tf2":  # a TF policy takes its weights as a list in its own variable order: set below
            tf_weights, state = state["weights"], None
    config = None
    if model_config and scripted is None:
        config = {"model": model_config_for(str(framework), model_config)}
    algo.add_policy(policy_id=player, policy_cls=cls, policy_state=state,
                    observation_space=observation_space, action_space=source.action_space,
                    config=config, policies_to_train=list(trainable))
    if tf_weights is not None:
        named = tf_weights
        _runners(algo).foreach_env_runner(
            lambda runner: set_named_weights(runner.get_policy(player), named), local_env_runner=True)


def remove_frozen(algo: Algorithm, players: Sequence[PlayerId], trainable: Sequence[PlayerId]) -> int:
    """Remove frozen ``players`` from the learner and every env runner; return the episodes abandoned.

    Called between iterations, when no runner is sampling. Episodes still in
    flight (``truncate_episodes`` sampling stops mid-match) keep the mapping
    they started with, so an in-flight match against a removed player could
    not go on: each such episode is abandoned, its sub-env reset, exactly as
    RLlib drops a faulty episode (no match record, no RLlib episode count; the
    moves already sampled train as a truncated fragment). Matches against
    players that stay resident are not touched.

    ``Algorithm.remove_policy`` leaves the policy's spec and observation filter
    behind in each runner (``policy_dict``, ``filters``); over thousands of
    snapshots those would grow without bound, so they go too.
    """
    gone = set(players)
    if not gone:
        return 0

    def abandon(runner: Any) -> int:
        sampler = getattr(runner, "sampler", None)
        env_runner = getattr(sampler, "_env_runner_obj", None)
        if env_runner is None:
            return 0
        abandoned = 0
        for env_id, episode in list(env_runner._active_episodes.items()):
            mapping = episode.policy_mapping_fn
            seats = set(mapping.decision(episode.episode_id, runner.worker_index)) \
                if isinstance(mapping, MatchMapping) else set()
            if not (seats | set(episode._agent_to_policy.values())) & gone:
                continue
            del env_runner._active_episodes[env_id]
            for policy in runner.policy_map.cache.values():
                policy.agent_connectors.reset(env_id)
            env_runner._base_env.try_reset(env_id)
            abandoned += 1
        return abandoned

    abandoned = sum(_runners(algo).foreach_env_runner(abandon, local_env_runner=True))
    for player in players:
        algo.remove_policy(player, policies_to_train=list(trainable))

    def forget(runner: Any) -> None:
        for player in players:
            runner.policy_dict.pop(player, None)
            runner.filters.pop(player, None)

    _runners(algo).foreach_env_runner(forget, local_env_runner=True)
    return abandoned


def runner_nodes(algo: Algorithm) -> list[str]:
    """The Ray node id of every remote env runner (empty without remote runners)."""
    import ray

    return _runners(algo).foreach_env_runner(
        lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False)


def resident_policies(algo: Algorithm) -> list[list[str]]:
    """The policy ids held by the driver's runner and by each remote env runner, sorted."""
    return _runners(algo).foreach_env_runner(
        lambda runner: sorted(runner.policy_map.keys()), local_env_runner=True)


def current_weights(algo: Algorithm, player: PlayerId) -> dict[str, Any]:
    """A copy of ``player``'s weights on the learner, canonical (see :mod:`league.rllib.weights`)."""
    return named_weights(algo.get_policy(player))


def weights_everywhere(algo: Algorithm, policy_id: PlayerId) -> list[dict[str, Any]]:
    """``policy_id``'s canonical weights on the driver's runner and on every remote env runner."""
    return _runners(algo).foreach_env_runner(
        lambda runner: named_weights(runner.get_policy(policy_id)), local_env_runner=True
    )
