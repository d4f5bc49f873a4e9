"""A learner's trajectories on their way to PPO (league.rllib.trajectories), against RLlib's own postprocessing.

:class:`TerminalRows` computes RLlib's PPO postprocessing (``compute_gae_for_sample_batch``)
for many terminated trajectories at once; it must give the batch that
``concat_samples`` makes of each trajectory's ``postprocess_trajectory`` output.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.ppo_torch_policy import PPOTorchPolicy
from ray.rllib.policy.sample_batch import SampleBatch, concat_samples

from league.rllib.trajectories import TerminalRows, TrajectoryBuffer, computes_stock_gae, concat_trajectories


def _policy(cls=PPOTorchPolicy, **training) -> PPOTorchPolicy:
    config = (PPOConfig().api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
              .framework("torch").training(**training))
    return cls(gym.spaces.Box(0, 1, (5,)), gym.spaces.Discrete(9), config.to_dict())


def _played(lengths: list[int], seed: int) -> list[tuple[TrajectoryBuffer, dict]]:
    """Terminated trajectories with random observations, rewards (some mid-game) and policy outputs."""
    rng = np.random.default_rng(seed)
    out = []
    for n, length in enumerate(lengths):
        buffer = TrajectoryBuffer(5, capacity=1)
        buffer.observe(rng.random(5), reward=0.0)
        for step in range(length):
            buffer.act(int(rng.integers(9)), {"vf_preds": np.float32(rng.normal()),
                                              "action_dist_inputs": rng.random(9).astype(np.float32),
                                              "action_logp": np.float32(-rng.random())})
            reward = float(rng.choice([-1.0, 0.0, 1.0, 0.37]))
            buffer.observe(rng.random(5), reward=reward, t=2 * step + n % 2, terminated=step == length - 1)
        out.append((buffer, {"eps_id": 1000 + n, "agent_index": n % 2, "unroll_id": n + 1}))
    return out


def _assert_same_batch(ours: SampleBatch, theirs: SampleBatch) -> None:
    """Same columns in the same order, with equal dtypes, shapes and values (bit for bit)."""
    assert list(ours.keys()) == list(theirs.keys())
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype, key
        assert ours[key].shape == theirs[key].shape, key
        if key == SampleBatch.INFOS:
            assert ours[key].tolist() == theirs[key].tolist()
        else:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


@pytest.mark.parametrize("gamma, lambda_", [(0.99, 0.95), (1.0, 1.0), (0.5, 0.3)])
def test_terminal_rows_give_the_batch_of_rllibs_ppo_postprocessing_trajectory_by_trajectory(gamma, lambda_):
    policy = _policy(gamma=gamma, lambda_=lambda_)
    played = _played([1, 2, 1, 7, 3, 21, 1, 2], seed=int(gamma * 100))
    rows = TerminalRows(gamma=policy.config["gamma"], lambda_=policy.config["lambda"])
    for buffer, ids in played:
        rows.add(buffer, **ids)
    ours = rows.to_batch()
    theirs = concat_samples([policy.postprocess_trajectory(buffer.to_batch(**ids)) for buffer, ids in played])
    assert len(rows) == len(played)
    _assert_same_batch(ours, theirs)  # the same arithmetic in the same order: equal to the bit
    assert ours.count == theirs.count == 38
    # A known value (GAE, Schulman et al. 2016, eq. 16), by hand for the first 2-step trajectory:
    # A_1 = r_1 - V_1; A_0 = r_0 + gamma V_1 - V_0 + gamma lambda A_1.
    r, v = theirs["rewards"][1:3].astype(np.float64), theirs["vf_preds"][1:3].astype(np.float64)
    a1 = r[1] - v[1]
    a0 = r[0] + gamma * v[1] - v[0] + gamma * lambda_ * a1
    np.testing.assert_allclose(ours["advantages"][1:3], [a0, a1], rtol=1e-6)


def test_terminal_rows_buffers_may_be_reused_after_add():
    policy = _policy()
    (buffer, ids), = _played([3], seed=4)
    expected = policy.postprocess_trajectory(buffer.to_batch(**ids))
    rows = TerminalRows(gamma=policy.config["gamma"], lambda_=policy.config["lambda"])
    rows.add(buffer, **ids)
    buffer.clear()
    buffer.observe(np.full(5, 9.0), reward=0.0)
    buffer.act(0, {"vf_preds": np.float32(5.0), "action_dist_inputs": np.zeros(9, np.float32),
                   "action_logp": np.float32(0.0)})
    np.testing.assert_array_equal(rows.to_batch()["obs"], expected["obs"])
    np.testing.assert_array_equal(rows.to_batch()["advantages"], expected["advantages"])


def test_only_rllibs_own_torch_ppo_gae_is_computed_by_league():
    class OwnPostprocessing(PPOTorchPolicy):
        def postprocess_trajectory(self, sample_batch, other_agent_batches=None, episode=None):
            return super().postprocess_trajectory(sample_batch, other_agent_batches, episode)

    assert computes_stock_gae(_policy())
    assert not computes_stock_gae(_policy(OwnPostprocessing))
    assert not computes_stock_gae(_policy(use_gae=False))
    assert not computes_stock_gae(_policy(use_critic=False, use_gae=False))


def _postprocessed(lengths: list[int], seed: int = 0) -> list[SampleBatch]:
    policy = _policy()
    return [policy.postprocess_trajectory(buffer.to_batch(**ids)) for buffer, ids in _played(lengths, seed)]


def test_concat_trajectories_gives_rllibs_concat_samples_batch():
    parts = _postprocessed([1, 2, 1, 5, 3, 1])
    ours, theirs = concat_trajectories(parts), concat_samples(parts)
    _assert_same_batch(ours, theirs)
    assert ours.count == theirs.count == 13
    for attribute in ("time_major", "zero_padded", "max_seq_len", "num_grad_updates"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert SampleBatch.SEQ_LENS not in ours and SampleBatch.SEQ_LENS not in theirs
    # One trajectory is handed back as it is; an empty one is left out, as concat_samples leaves it.
    assert concat_trajectories(parts[:1]) is parts[0]
    empty = SampleBatch({k: v[:0] for k, v in parts[0].items()})
    assert concat_trajectories([empty, parts[1]]) is parts[1]


def test_concat_trajectories_leaves_batches_with_sequence_lengths_to_rllib():
    parts = _postprocessed([2, 3])
    for part in parts:
        part[SampleBatch.SEQ_LENS] = np.array([part.count], np.int32)
    ours, theirs = concat_trajectories(parts), concat_samples(parts)
    np.testing.assert_array_equal(ours[SampleBatch.SEQ_LENS], theirs[SampleBatch.SEQ_LENS])
    np.testing.assert_array_equal(ours[SampleBatch.SEQ_LENS], [2, 3])
