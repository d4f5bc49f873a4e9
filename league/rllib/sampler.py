"""League's batched sampler on RLlib's old API stack (``resources.sampler = "league"``).

RLlib's old-stack sampler (``EnvRunnerV2``) spends most of a turn-based game's
sampling time in per-agent bookkeeping: connectors, agent collectors and a
``SampleBatch`` per step (``docs/benchmarks.md``). :class:`LeagueEnvRunner` is
RLlib's ``RolloutWorker`` (so remote runners, fault tolerance, ``add_policy`` /
``remove_policy``, weight sync and ``policies_to_train`` stay RLlib's) with its
``sample()`` replaced by a lockstep loop:

1. The runner's B sub-environments step in lockstep. Each episode's seats are
   decided once, through the runner's policy mapping (League's
   :class:`~league.rllib.mapping.MatchMapping`: whole match, seeded, the
   per-match learner and mirrors unchanged).
2. At each step the agents to move are grouped by policy id, and each policy
   runs **one** ``compute_actions`` on the stacked observations (masks are part
   of the flattened observation, as RLlib's preprocessor lays it out).
3. A learner seat's rows go into preallocated numpy buffers
   (:class:`TrajectoryBuffer`). Frozen players, scripted players and mirrors
   cost inference only, never storage.
4. When an episode ends, each learner seat's trajectory becomes a
   ``SampleBatch`` with the columns RLlib's sampler gives it and goes through
   the policy's own ``postprocess_trajectory`` (GAE, value targets), so the
   algorithm learns from exactly the fields it would get from RLlib's sampler.
   For RLlib's own torch PPO policy, terminated trajectories are postprocessed
   together at the end of the call instead, by the same arithmetic
   (:class:`~league.rllib.trajectories.TerminalRows`, tested equal to
   ``postprocess_trajectory``): per trajectory, RLlib's GAE costs more Python
   time than a whole Kuhn poker match.

Every episode runs to its end inside one sample call: a call starts new
episodes until the runner's fragment budget (``rollout_fragment_length`` x
``num_envs_per_env_runner`` env steps) is reached, then finishes the episodes in
flight. A batch therefore never holds a truncated fragment, every trajectory of
an iteration is sampled with the weights of that iteration, and a train batch
may exceed ``train_batch_size`` by the tail of its last episodes (as RLlib's
``complete_episodes`` batch mode). Between sample calls no episode is in
flight, so removing a frozen player never abandons a match.

A sub-environment that raises (in ``reset`` or ``step``) is rebuilt with
RLlib's ``try_restart`` and its episode dropped and counted, as RLlib does
with ``restart_failed_sub_environments``; without that setting the error ends
the sample call (and RLlib restarts the runner if configured to).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
from ray.rllib.evaluation.metrics import RolloutMetrics as _RolloutMetrics
from ray.rllib.evaluation.rollout_worker import RolloutWorker
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

from league.errors import ConfigError
from league.rllib.inference import Actor, batched_actor
from league.rllib.mapping import is_mirror, player_of
from league.rllib.trajectories import TerminalRows, TrajectoryBuffer, computes_stock_gae, concat_trajectories

if TYPE_CHECKING:
    from ray.rllib.policy.policy_map import PolicyMap

    from league.rllib.callbacks import MatchRecorder

_log = logging.getLogger(__name__)

def observation_flattener(space: gym.Space) -> Callable[[Any, np.ndarray], None]:
    """A function writing one observation into a float32 row as RLlib's preprocessor lays it out.

    RLlib's ``DictFlatteningPreprocessor`` concatenates a ``Dict`` observation's
    values in sorted key order, each raveled; a ``Box`` is raveled. Those two
    are written directly; any other space goes through RLlib's own preprocessor.

    Args:
        space: The policy's original (unflattened) observation space.

    Example:
        >>> space = gym.spaces.Dict({"observation": gym.spaces.Box(0, 1, (2, 2)),
        ...                          "action_mask": gym.spaces.Box(0, 1, (3,))})
        >>> row = np.zeros(7, np.float32)
        >>> observation_flattener(space)({"observation": np.eye(2), "action_mask": np.ones(3)}, row)
        >>> row.tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    """
    if isinstance(space, gym.spaces.Dict) and all(isinstance(s, gym.spaces.Box) for s in space.spaces.values()):
        layout = []
        offset = 0
        for key in sorted(space.spaces):
            size = int(np.prod(cast(gym.spaces.Box, space.spaces[key]).shape))
            layout.append((key, offset, offset + size))
            offset += size

        def write_dict(observation: Any, row: np.ndarray) -> None:
            for key, start, stop in layout:
                row[start:stop] = np.ravel(observation[key])

        return write_dict
    if isinstance(space, gym.spaces.Box):
        def write_box(observation: Any, row: np.ndarray) -> None:
            row[:] = np.ravel(observation)

        return write_box
    from ray.rllib.models.preprocessors import get_preprocessor

    preprocessor = get_preprocessor(space)(space)
    return lambda observation, row: preprocessor.write(observation, row, 0)


#: RLlib's per-episode metrics record: a namedtuple RLlib wraps in a decorator, so mypy sees neither
#: a class nor its fields (the records are typed as the tuples they are).
RolloutMetrics: Any = _RolloutMetrics


def _policies(worker: RolloutWorker) -> PolicyMap:
    """The runner's policy map (RolloutWorker types it Optional; a runner that samples has one)."""
    policies = worker.policy_map
    assert policies is not None
    return policies


def _recorder(worker: RolloutWorker) -> MatchRecorder:
    """The runner's callbacks: League's match recorder, which the league sampler runs under."""
    return cast("MatchRecorder", worker.callbacks)


class _EpisodeHandle:
    """What a policy mapping function reads of an episode (its id), as RLlib's episode object offers it."""

    __slots__ = ("episode_id", "user_data")

    def __init__(self, episode_id: int) -> None:
        self.episode_id = episode_id
        self.user_data: dict[str, Any] = {}


class _Episode:
    """One sub-environment's episode in flight."""

    __slots__ = ("agent_index", "current", "handle", "length", "returns", "seats", "started", "to_act",
                 "trajectories")

    def __init__(self, episode_id: int) -> None:
        self.handle = _EpisodeHandle(episode_id)
        self.seats: dict[str, str] = {}
        self.agent_index: dict[str, int] = {}
        self.trajectories: dict[str, TrajectoryBuffer] = {}
        self.current: dict[str, np.ndarray] = {}
        self.to_act: list[str] = []
        self.returns: dict[str, float] = {}
        self.length = 0
        self.started = time.time()


class LockstepSampler:
    """Samples a runner's sub-environments in lockstep with one batched forward pass per policy per step.

    Args:
        worker: The env runner (a :class:`LeagueEnvRunner`) whose envs, policies,
            policy mapping and callbacks it uses.
    """

    def __init__(self, worker: RolloutWorker) -> None:
        self._worker = worker
        base_env = worker.async_env
        if base_env is None or not hasattr(base_env, "get_sub_environments"):
            raise ConfigError("resources.sampler='league' needs a multi-agent env on every env runner")
        self._base_env = base_env
        #: The game's agents in seat order (``possible_agents``; the same in every sub-env).
        self._seat_order = list(getattr(base_env.get_sub_environments()[0], "possible_agents", None) or [])
        self._flatteners: dict[str, tuple[int, Callable[[Any, np.ndarray], None]]] = {}
        self._pool: dict[tuple[str, int], list[TrajectoryBuffer]] = defaultdict(list)
        self._metrics: list[tuple[Any, ...]] = []
        self._unroll_id = 0
        from ray.rllib.algorithms.impala import IMPALAConfig  # APPOConfig is one too

        self._learns_while_sampling = isinstance(worker.config, IMPALAConfig)

    def pop_metrics(self) -> list[tuple[Any, ...]]:
        """RLlib's per-episode metrics of the episodes finished since the last call."""
        out, self._metrics = self._metrics, []
        return out

    def _flattener(self, policy_id: str) -> tuple[int, Callable[[Any, np.ndarray], None]]:
        entry = self._flatteners.get(policy_id)
        if entry is None:
            policy = _policies(self._worker)[policy_id]
            if policy.is_recurrent():
                raise ConfigError(f"resources.sampler='league': policy {policy_id!r} has a recurrent model, which "
                                  "League's sampler does not carry state for; use resources.sampler='rllib'")
            space = policy.observation_space
            original = getattr(space, "original_space", space)
            entry = self._flatteners[policy_id] = (int(np.prod(space.shape)), observation_flattener(original))
        return entry

    def _buffer(self, policy_id: str, size: int) -> TrajectoryBuffer:
        free = self._pool[(policy_id, size)]
        return free.pop() if free else TrajectoryBuffer(size)

    def sample(self, budget: int) -> tuple[MultiAgentBatch, dict[str, int]]:
        """Sample until ``budget`` env steps are reached, finishing every episode started.

        Returns:
            The learners' postprocessed batches (env steps counted over every
            episode), and agent steps per policy id (frozen players and mirrors
            included; they are not in the batch).
        """
        worker = self._worker
        envs = self._base_env.get_sub_environments()
        restart = bool(worker.config.restart_failed_sub_environments)
        steps = 0
        agent_steps: dict[str, int] = defaultdict(int)
        finished: dict[str, list[SampleBatch]] = defaultdict(list)
        terminal: dict[str, TerminalRows | None] = {}  # per policy: None where it postprocesses itself
        episodes: dict[int, _Episode] = {}
        actors: dict[str, Actor] = {}  # per call: policies come and go between calls
        inference_ids: dict[str, str] = {}
        live = []
        for index in range(len(envs)):
            episodes[index] = self._start(envs, index, restart)
            live.append(index)
        while live:
            # Agents to move, grouped by the policy that computes their moves: a mirror moves with its
            # player's policy when their weights are the same (see _inference_ids).
            groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for index in live:
                episode = episodes[index]
                for agent in episode.to_act:
                    policy_id = episode.seats[agent]
                    agent_steps[policy_id] += 1
                    inference_id = inference_ids.get(policy_id)
                    if inference_id is None:
                        inference_id = inference_ids[policy_id] = self._inference_id(policy_id)
                    groups[inference_id].append((index, agent))
            actions: dict[int, dict[str, Any]] = {index: {} for index in live}
            for policy_id, members in groups.items():
                actor = actors.get(policy_id)
                if actor is None:
                    actor = actors[policy_id] = batched_actor(_policies(worker)[policy_id])
                obs = np.stack([episodes[index].current[agent] for index, agent in members])
                chosen, extras = actor(obs)
                kept = None
                for row, (index, agent) in enumerate(members):
                    episode = episodes[index]
                    actions[index][agent] = chosen[row]
                    trajectory = episode.trajectories.get(agent)  # learner seats only: never a mirror's
                    if trajectory is not None:
                        if kept is None:  # the outputs the policy trains on (RLlib keeps its view requirements)
                            requirements = _policies(worker)[policy_id].view_requirements
                            kept = [(k, v) for k, v in extras.items() if k in requirements]
                        trajectory.act(chosen[row], {k: v[row] for k, v in kept})
            next_live = []
            for index in live:
                episode = episodes[index]
                try:
                    obs, rewards, terminateds, truncateds, _ = envs[index].step(actions[index])
                except Exception as e:  # a game's own error: rebuild, as RLlib would
                    if not restart:
                        raise
                    steps += 1
                    self._env_failed(envs, index, e)
                    self._release(episode)
                else:
                    steps += 1
                    episode.length += 1
                    if self._observe(episode, obs, rewards, terminateds, truncateds):
                        next_live.append(index)
                        continue
                    self._finish(episode, finished, terminal)
                if steps < budget:
                    episodes[index] = self._start(envs, index, restart)
                    next_live.append(index)
            live = next_live
        for policy_id, rows in terminal.items():
            if rows is not None and len(rows):
                finished[policy_id].insert(0, rows.to_batch())
        batches = {pid: concat_trajectories(parts) for pid, parts in finished.items()}
        return MultiAgentBatch(batches, env_steps=steps), dict(agent_steps)

    def _inference_id(self, policy_id: str) -> str:
        """The policy that computes ``policy_id``'s moves: a mirror's player when they share weights.

        :func:`~league.rllib.algorithm.install_mapping` copies each trainable
        player's weights into its mirror before an iteration's sampling, and
        nothing changes them during a sample call, so one forward pass serves
        both, except on a driver whose APPO or IMPALA learner thread trains the
        player while the driver samples: there the mirror keeps its own pass.
        """
        if not is_mirror(policy_id):
            return policy_id
        player = player_of(policy_id)
        worker = self._worker
        if player not in _policies(worker) or (self._learns_while_sampling and worker.worker_index == 0):
            return policy_id
        return player

    def _start(self, envs: list[Any], index: int, restart: bool) -> _Episode:
        """Reset sub-env ``index`` and seat its first agents; a reset that raises rebuilds the env once."""
        try:
            obs, _ = envs[index].reset()
        except Exception as e:  # a game's own error
            if not restart:
                raise
            self._env_failed(envs, index, e)
            obs, _ = envs[index].reset()  # a rebuilt env that raises again ends the sample call
        episode = _Episode(random.randrange(int(1e18)))
        self._observe(episode, obs, {}, {}, {})
        return episode

    def _env_failed(self, envs: list[Any], index: int, error: Exception) -> None:
        _log.error("sub-environment %d raised (%s: %s); rebuilding it and dropping its episode",
                   index, type(error).__name__, error)
        self._base_env.try_restart(index)
        envs[index] = self._base_env.get_sub_environments()[index]
        _recorder(self._worker).env_failed(self._worker)

    def _observe(self, episode: _Episode, obs: Mapping[str, Any], rewards: Mapping[str, float],
                 terminateds: Mapping[str, bool], truncateds: Mapping[str, bool]) -> bool:
        """Take one step's output into the episode; True while the episode goes on."""
        over = bool(terminateds.get("__all__", False) or truncateds.get("__all__", False))
        episode.to_act = []
        for agent, reward in rewards.items():
            if agent not in obs and agent in episode.returns:  # a reward without an observation: keep it
                episode.returns[agent] += float(reward)
                trajectory = episode.trajectories.get(agent)
                if trajectory is not None and trajectory.rows:
                    trajectory.rewards[trajectory.rows - 1] += float(reward)
        for agent, observation in obs.items():
            reward = float(rewards.get(agent, 0.0))
            policy_id = episode.seats.get(agent)
            if policy_id is None:
                policy_id = self._seat(episode, agent)
            episode.returns[agent] += reward
            terminated = bool(terminateds.get(agent, False)) or (over and bool(terminateds.get("__all__")))
            truncated = bool(truncateds.get(agent, False)) or (over and not terminated)
            size, flatten = self._flattener(policy_id)
            trajectory = episode.trajectories.get(agent)
            if trajectory is not None:
                flatten(observation, trajectory.current_obs)  # written in place: the buffer's next row
                trajectory.observe(None, reward, t=episode.length - 1, terminated=terminated, truncated=truncated)
                episode.current[agent] = trajectory.current_obs
            else:
                row = episode.current.get(agent)
                if row is None or row.shape[0] != size:
                    row = episode.current[agent] = np.empty(size, np.float32)
                flatten(observation, row)
            if not (over or terminated or truncated):
                episode.to_act.append(agent)
        return not over

    def _seat(self, episode: _Episode, agent: str) -> str:
        """Map ``agent`` to its policy (the match is decided on the episode's first mapping)."""
        worker = self._worker
        policy_id = worker.policy_mapping_fn(agent, episode.handle, worker=worker)
        episode.seats[agent] = policy_id
        episode.agent_index[agent] = len(episode.agent_index)
        episode.returns[agent] = 0.0
        # RLlib types it (policy_id, batch); the function it builds from policies_to_train has batch=None.
        if worker.is_policy_to_train(policy_id):  # type: ignore[call-arg]
            buffer = self._buffer(policy_id, self._flattener(policy_id)[0])
            buffer.clear()
            episode.trajectories[agent] = buffer
        return policy_id

    def _finish(self, episode: _Episode, finished: dict[str, list[SampleBatch]],
                terminal: dict[str, TerminalRows | None]) -> None:
        """Postprocess each learner seat's trajectory, record the match and RLlib's episode metrics.

        A terminated trajectory of a policy that postprocesses with RLlib's own
        PPO GAE goes into ``terminal`` (postprocessed with the call's others at
        its end, :class:`~league.rllib.trajectories.TerminalRows`); any other
        goes through its policy's ``postprocess_trajectory`` now.
        """
        worker = self._worker
        for agent, trajectory in episode.trajectories.items():
            if not trajectory.rows:
                continue
            policy_id = episode.seats[agent]
            self._unroll_id += 1
            ids = {"eps_id": episode.handle.episode_id, "agent_index": episode.agent_index[agent],
                   "unroll_id": self._unroll_id}
            rows = terminal.get(policy_id)
            if rows is None and policy_id not in terminal:
                policy = _policies(worker)[policy_id]
                rows = terminal[policy_id] = (
                    TerminalRows(gamma=policy.config["gamma"], lambda_=policy.config["lambda"])
                    if computes_stock_gae(policy) else None)
            if rows is not None and trajectory.terminated and not trajectory.truncated:
                rows.add(trajectory, **ids)
            else:
                batch = trajectory.to_batch(**ids)
                finished[policy_id].append(_policies(worker)[policy_id].postprocess_trajectory(batch))
        self._release(episode)
        _recorder(worker).match_ended(worker, episode_id=episode.handle.episode_id,
                                      agents=self._seat_order or list(episode.seats),
                                      seats=episode.seats, returns=episode.returns, length=episode.length,
                                      started=episode.started)
        self._metrics.append(RolloutMetrics(
            episode_length=episode.length, episode_reward=float(sum(episode.returns.values())),
            agent_rewards={(agent, episode.seats[agent]): total for agent, total in episode.returns.items()}))

    def _release(self, episode: _Episode) -> None:
        for agent, trajectory in episode.trajectories.items():
            self._pool[(episode.seats[agent], trajectory.obs.shape[1])].append(trajectory)
        episode.trajectories = {}


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread while sampling, then restore the learner's setting.

    The sampler's forward passes are small (one lockstep step of one policy):
    on a 2-core machine two OpenMP threads made them ~9x slower when another
    process shared the cores (2,103 vs 637 env steps/s of Connect Four at 128
    envs, ``docs/benchmarks.md``), and no faster alone.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LeagueEnvRunner(RolloutWorker):
    """RLlib's ``RolloutWorker`` sampling with League's :class:`LockstepSampler`.

    Everything but ``sample()`` and ``get_metrics()`` is RLlib's: it is passed as
    ``config.env_runners(env_runner_cls=LeagueEnvRunner)``, on the driver and on
    every remote runner.
    """

    #: The match recorder leaves agent-step counting to this runner (its batches hold learners only).
    counts_agent_steps = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lockstep: LockstepSampler | None = None

    def sample(self, **kwargs: Any) -> MultiAgentBatch:
        """One fragment of experience: every episode started in it, run to its end."""
        if self._lockstep is None:
            self._lockstep = LockstepSampler(self)
        with _one_torch_thread():
            batch, agent_steps = self._lockstep.sample(self.total_rollout_fragment_length)
        _recorder(self).add_agent_steps(agent_steps)
        _recorder(self).on_sample_end(worker=self, samples=batch)
        return batch

    def get_metrics(self) -> list[tuple[Any, ...]]:
        """RLlib's per-episode metrics since the last call."""
        return self._lockstep.pop_metrics() if self._lockstep is not None else []
