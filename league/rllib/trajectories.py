"""A learner seat's trajectory on its way to the algorithm: buffers, batches and PPO's GAE.

:class:`TrajectoryBuffer` holds one seat's rows in one episode. At the
episode's end the rows become a ``SampleBatch`` that goes through the policy's
``postprocess_trajectory``, or, for RLlib's own torch PPO policy and a
trajectory that ended in a terminal state, go into a :class:`TerminalRows`
that computes the same postprocessing (RLlib's GAE, value targets, bootstrapped
values) for all of a sample call's trajectories at once: per trajectory,
RLlib's ``compute_gae_for_sample_batch`` costs about a fifth of a millisecond
of Python, more than a whole Kuhn poker match (``docs/benchmarks.md``).
``tests/league/rllib/test_trajectories.py`` checks both give the same batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
from ray.rllib.policy.sample_batch import SampleBatch, concat_samples


def sampler_columns(*, obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                    terminateds: np.ndarray, truncateds: np.ndarray, eps_id: np.ndarray, unroll_id: np.ndarray,
                    agent_index: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """The columns RLlib's sampler gives a trajectory before postprocessing, in its order (``infos`` empty).

    A policy's extra action outputs (``vf_preds``, ``action_logp`` ...) follow
    them, as ``compute_actions`` returned them.
    """
    infos = np.empty(len(rewards), dtype=object)
    infos[:] = [{} for _ in range(len(rewards))]
    return {SampleBatch.OBS: obs, SampleBatch.NEXT_OBS: next_obs, SampleBatch.ACTIONS: actions,
            SampleBatch.REWARDS: rewards, SampleBatch.TERMINATEDS: terminateds, SampleBatch.TRUNCATEDS: truncateds,
            SampleBatch.INFOS: infos, SampleBatch.EPS_ID: eps_id, SampleBatch.UNROLL_ID: unroll_id,
            SampleBatch.AGENT_INDEX: agent_index, SampleBatch.T: t}


def concat_trajectories(parts: list[SampleBatch]) -> SampleBatch:
    """RLlib's ``concat_samples`` of postprocessed single-trajectory batches, without its per-batch tree walk.

    A sample call ends with thousands of short trajectories (a Kuhn poker
    match is one or two moves a seat), and ``concat_samples`` maps
    ``tree.map_structure`` over every column of every one of them. When every
    column is a flat numpy array and no batch carries sequence lengths, padding
    or grad-update counts (League's trajectories never do), the columns are
    concatenated directly, giving the same batch (same columns, values, dtypes
    and attributes: ``tests/league/rllib/test_trajectories.py``); anything else goes
    through ``concat_samples``.

    Example:
        >>> a = SampleBatch({"x": np.array([1, 2]), "y": np.array([0.5, 1.5], np.float32)})
        >>> b = SampleBatch({"x": np.array([3]), "y": np.array([2.5], np.float32)})
        >>> both = concat_trajectories([a, b])
        >>> both["x"].tolist(), both["y"].dtype.name, both.count
        ([1, 2, 3], 'float32', 3)
    """
    parts = [part for part in parts if part.count > 0]
    if len(parts) <= 1:
        return parts[0] if parts else SampleBatch()
    keys = list(parts[0].keys())
    plain = all(
        part.get(SampleBatch.SEQ_LENS) is None and not part.zero_padded and part.max_seq_len is None
        and part.time_major is None and part.num_grad_updates is None and list(part.keys()) == keys
        and all(type(dict.__getitem__(part, key)) is np.ndarray for key in keys)
        for part in parts)
    if not plain:
        # Of SampleBatches concat_samples makes a SampleBatch (RLlib types it with every kind of batch).
        return cast(SampleBatch, concat_samples(list(parts)))
    columns = {key: np.concatenate([dict.__getitem__(part, key) for part in parts]) for key in keys}
    return SampleBatch(columns, _time_major=None, _zero_padded=False, _max_seq_len=None,
                       _num_grad_updates=0.0)


class TrajectoryBuffer:
    """One learner seat's rows in one episode, in preallocated arrays that grow by doubling.

    Row ``i`` is the seat's ``i``-th move: the observation it moved on
    (``obs[i]``), its action and the policy's extra outputs, the reward that
    came with its next observation, and that observation (``obs[i + 1]``, which
    is also the next row's observation: it is stored once).

    Args:
        obs_size: Length of a flattened observation.
        capacity: Rows allocated at first (doubled whenever full).

    Example:
        >>> buf = TrajectoryBuffer(2, capacity=1)
        >>> buf.observe(np.array([0, 1]), reward=0.0)
        >>> buf.act(3, {"vf_preds": np.float32(0.5)})
        >>> buf.observe(np.array([1, 0]), reward=1.0, t=1, terminated=True)
        >>> batch = buf.to_batch(eps_id=7, agent_index=0, unroll_id=1)
        >>> batch["actions"].tolist(), batch["rewards"].tolist(), batch["new_obs"].tolist()
        ([3], [1.0], [[1.0, 0.0]])
    """

    def __init__(self, obs_size: int, capacity: int = 32) -> None:
        self._capacity = capacity
        self.obs = np.zeros((capacity + 1, obs_size), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.t = np.zeros(capacity, np.int64)
        self.actions: np.ndarray | None = None
        self.extras: dict[str, np.ndarray] = {}
        self.rows = 0
        self.terminated = False
        self.truncated = False

    def clear(self) -> None:
        """Forget the rows (the arrays are kept for the next episode)."""
        self.rows = 0
        self.terminated = self.truncated = False

    @property
    def current_obs(self) -> np.ndarray:
        """The observation the seat moves on next (a view into the buffer)."""
        return self.obs[self.rows]

    def observe(self, observation: np.ndarray | None, reward: float, *, t: int = 0, terminated: bool = False,
                truncated: bool = False) -> None:
        """Store a flattened observation (None: already written into :attr:`current_obs`).

        Its reward, end flags and ``t`` belong to the previous move; ``t`` is RLlib's:
        the episode's env steps when this observation arrived, less one.
        """
        if self.rows > 0:
            self.rewards[self.rows - 1] += reward
            self.t[self.rows - 1] = t
        if observation is not None:
            self.obs[self.rows] = observation
        self.terminated, self.truncated = terminated, truncated

    def act(self, action: Any, extras: Mapping[str, Any]) -> None:
        """Store the move made on :attr:`current_obs` and the policy's outputs for it."""
        row = self.rows
        if row == self._capacity:
            self._grow()
        if self.actions is None:
            self.actions = np.zeros((self._capacity, *np.shape(action)), np.asarray(action).dtype)
        self.actions[row] = action
        for key, value in extras.items():
            column = self.extras.get(key)
            if column is None:
                value = np.asarray(value)
                column = self.extras[key] = np.zeros((self._capacity, *value.shape), value.dtype)
            column[row] = value
        self.t[row] = 0
        self.rewards[row] = 0.0
        self.rows = row + 1
        self.obs[self.rows] = self.obs[row]  # the next observation, until the game sends it

    def _grow(self) -> None:
        self._capacity *= 2
        cap = self._capacity

        def grown(array: np.ndarray, rows: int) -> np.ndarray:
            out = np.zeros((rows, *array.shape[1:]), array.dtype)
            out[:len(array)] = array
            return out

        self.obs = grown(self.obs, cap + 1)
        self.rewards, self.t = grown(self.rewards, cap), grown(self.t, cap)
        if self.actions is not None:
            self.actions = grown(self.actions, cap)
        self.extras = {k: grown(v, cap) for k, v in self.extras.items()}

    def to_batch(self, *, eps_id: int, agent_index: int, unroll_id: int) -> SampleBatch:
        """The rows as a ``SampleBatch`` with the columns of RLlib's sampler (before postprocessing)."""
        n = self.rows
        terminateds = np.zeros(n, bool)
        truncateds = np.zeros(n, bool)
        if n:
            terminateds[-1], truncateds[-1] = self.terminated, self.truncated
        columns = sampler_columns(
            obs=self.obs[:n].copy(), next_obs=self.obs[1:n + 1].copy(),
            actions=self.actions[:n].copy() if self.actions is not None else np.zeros(0, np.int64),
            rewards=self.rewards[:n].copy(), terminateds=terminateds, truncateds=truncateds,
            eps_id=np.full(n, eps_id, np.int64), unroll_id=np.full(n, unroll_id, np.int64),
            agent_index=np.full(n, agent_index, np.int64), t=self.t[:n].copy())
        for key, column in self.extras.items():
            columns[key] = column[:n].copy()
        return SampleBatch(columns)


def computes_stock_gae(policy: Any) -> bool:
    """Whether ``policy`` postprocesses with RLlib's own torch PPO GAE, which :class:`TerminalRows` computes.

    True for RLlib's ``PPOTorchPolicy`` (not a subclass overriding
    ``postprocess_trajectory``) with GAE and a critic; anything else keeps its
    own ``postprocess_trajectory``.
    """
    from ray.rllib.algorithms.ppo.ppo_torch_policy import PPOTorchPolicy

    config = getattr(policy, "config", {}) or {}
    return (getattr(type(policy), "postprocess_trajectory", None) is PPOTorchPolicy.postprocess_trajectory
            and bool(config.get("use_gae", True)) and bool(config.get("use_critic", True))
            and not policy.is_recurrent())


class TerminalRows:
    """One policy's terminated trajectories of a sample call, postprocessed together as RLlib's PPO would.

    :meth:`add` copies a finished trajectory's rows out of its (reused)
    buffer; :meth:`to_batch` returns the batch RLlib's ``concat_samples``
    would make of each trajectory's ``to_batch()`` through PPO's
    ``postprocess_trajectory`` (``compute_gae_for_sample_batch`` with
    ``last_r = 0``): ``values_bootstrapped`` is ``vf_preds`` shifted by one
    with a 0 at each end, ``advantages`` the ``gamma * lambda`` discounted sum
    of ``r_t + gamma * V_{t+1} - V_t`` (deltas in float32, the sum in float64, as RLlib's ``lfilter``),
    ``value_targets`` advantages plus ``vf_preds``, both float32.

    Args:
        gamma: The policy's discount.
        lambda_: The policy's GAE lambda.

    Example:
        >>> rows = TerminalRows(gamma=1.0, lambda_=1.0)
        >>> buf = TrajectoryBuffer(1)
        >>> buf.observe(np.zeros(1), reward=0.0)
        >>> buf.act(0, {"vf_preds": np.float32(0.25)})
        >>> buf.observe(np.ones(1), reward=1.0, terminated=True)
        >>> rows.add(buf, eps_id=3, agent_index=0, unroll_id=1)
        >>> batch = rows.to_batch()
        >>> batch["advantages"].tolist(), batch["value_targets"].tolist(), batch["values_bootstrapped"].tolist()
        ([0.75], [1.0], [0.0])
    """

    def __init__(self, *, gamma: float, lambda_: float) -> None:
        self.gamma = gamma
        self.lambda_ = lambda_
        self._obs: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        self._t: list[np.ndarray] = []
        self._extras: dict[str, list[np.ndarray]] = {}
        self._ids: list[tuple[int, int, int]] = []
        self._lengths: list[int] = []

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, trajectory: TrajectoryBuffer, *, eps_id: int, agent_index: int, unroll_id: int) -> None:
        """Copy a terminated trajectory's rows (its buffer may be reused at once)."""
        n = trajectory.rows
        assert trajectory.actions is not None  # set with its first row
        self._obs.append(trajectory.obs[:n + 1].copy())
        self._actions.append(trajectory.actions[:n].copy())
        self._rewards.append(trajectory.rewards[:n].copy())
        self._t.append(trajectory.t[:n].copy())
        for key, column in trajectory.extras.items():
            self._extras.setdefault(key, []).append(column[:n].copy())
        self._ids.append((eps_id, unroll_id, agent_index))
        self._lengths.append(n)

    def to_batch(self) -> SampleBatch:
        """The trajectories' rows, postprocessed, in one ``SampleBatch`` (columns in RLlib's order)."""
        lengths = np.asarray(self._lengths, np.int64)
        total = int(lengths.sum())
        ends = np.cumsum(lengths) - 1
        terminateds = np.zeros(total, bool)
        terminateds[ends] = True
        ids = np.asarray(self._ids, np.int64).reshape(-1, 3)
        columns = sampler_columns(
            obs=np.concatenate([rows[:-1] for rows in self._obs]),
            next_obs=np.concatenate([rows[1:] for rows in self._obs]),
            actions=np.concatenate(self._actions), rewards=np.concatenate(self._rewards),
            terminateds=terminateds, truncateds=np.zeros(total, bool),
            eps_id=np.repeat(ids[:, 0], lengths), unroll_id=np.repeat(ids[:, 1], lengths),
            agent_index=np.repeat(ids[:, 2], lengths), t=np.concatenate(self._t))
        for key, parts in self._extras.items():
            columns[key] = np.concatenate(parts)
        vf_preds = columns[SampleBatch.VF_PREDS]
        last = terminateds  # each trajectory's last row is its terminal step
        # V_{t+1} within each trajectory, 0 after its terminal step (RLlib's last_r = 0.0). RLlib computes in
        # the values' float32 (its last_r is read back from the float32 bootstrapped column), and so does this.
        next_values = np.zeros(total, vf_preds.dtype)
        next_values[:-1] = vf_preds[1:]
        next_values[last] = 0.0
        columns[SampleBatch.VALUES_BOOTSTRAPPED] = next_values.astype(np.float32)
        delta = columns[SampleBatch.REWARDS] + self.gamma * next_values - vf_preds
        advantages = _discounted_within(delta, last, self.gamma * self.lambda_)
        columns["advantages"] = advantages.astype(np.float32)
        columns["value_targets"] = (advantages + vf_preds).astype(np.float32)
        return SampleBatch(columns)


def _discounted_within(x: np.ndarray, last: np.ndarray, discount: float) -> np.ndarray:
    """``y[t] = x[t] + discount * y[t + 1]``, restarting after each row where ``last`` is set.

    RLlib's ``discount_cumsum`` (scipy's ``lfilter`` over one reversed
    trajectory: the same float64 products and sums in the same order) for many
    trajectories at once: rows are filled by their distance to their
    trajectory's end, nearest first.
    """
    ends = np.flatnonzero(last)
    steps_to_end = np.repeat(ends, np.diff(ends, prepend=-1)) - np.arange(len(x))
    y = x.astype(np.float64)  # lfilter's float64 coefficients make its output float64
    for k in range(1, int(steps_to_end.max(initial=0)) + 1):
        rows = np.flatnonzero(steps_to_end == k)
        y[rows] = x[rows] + discount * y[rows + 1]
    return y
