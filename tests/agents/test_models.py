"""The action-masking model and the scripted RLlib policies."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.models.preprocessors import get_preprocessor

import envs
from agents.models import ActionMaskModel
from agents.scripted import ConnectFourHeuristicPolicy, RandomPolicy


def _space():
    return envs.make("connect_four").observation_space


def test_illegal_actions_get_exactly_zero_probability():
    space = _space()
    model = ActionMaskModel(space, envs.make("connect_four").action_space, 7, {}, "m", hiddens=[32])
    rng = np.random.default_rng(0)
    masks = (rng.random((64, 7)) < 0.5).astype(np.float32)
    masks[:, 0] = 1.0  # at least one legal move per row
    obs = {"observation": torch.as_tensor(rng.integers(0, 2, (64, 6, 7, 2)).astype(np.float32)),
           "action_mask": torch.as_tensor(masks)}
    logits, _ = model.forward({"obs": obs}, [], None)
    probs = torch.softmax(logits, dim=-1).detach().numpy()
    assert np.all(probs[masks == 0] == 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert model.value_function().shape == (64,)


def _flat_batch(observations):
    space = _space()
    prep = get_preprocessor(space)(space)
    flat_space = prep.observation_space
    flat_space.original_space = space
    return flat_space, np.stack([prep.transform(o) for o in observations])


def test_random_policy_acts_only_legally_on_rllib_flattened_observations():
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    o = obs["player_0"]
    o["action_mask"] = np.array([0, 0, 1, 0, 0, 1, 0], dtype=np.float32)
    flat_space, batch = _flat_batch([o] * 50)
    policy = RandomPolicy(flat_space, env.action_space, {"seed": 0})
    actions, _, _ = policy.compute_actions(batch)
    assert set(actions.tolist()) == {2, 5}
    assert policy.get_weights() == {}


def test_heuristic_policy_blocks_through_the_rllib_interface():
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    o = obs["player_0"]
    board = np.zeros((6, 7, 2), dtype=np.float32)
    board[5, 4, 1] = board[4, 4, 1] = board[3, 4, 1] = 1.0  # opponent threatens column 4
    board[5, 0, 0] = board[4, 0, 0] = 1.0
    o["observation"] = board
    flat_space, batch = _flat_batch([o])
    policy = ConnectFourHeuristicPolicy(flat_space, env.action_space, {"seed": 0})
    actions, _, _ = policy.compute_actions(batch)
    assert actions.tolist() == [4]
