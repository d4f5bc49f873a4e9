"""The action-masking model and the scripted RLlib policies."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from ray.rllib.models.preprocessors import get_preprocessor

import envs
from agents.models import ActionMaskModel
from agents.scripted import SCRIPTED_POLICIES, AlphaBeta4Policy, ConnectFourHeuristicPolicy, RandomPolicy


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


def test_activation_is_chosen_by_the_model_config_and_checked():
    space, actions = _space(), envs.make("connect_four").action_space
    kinds = {a: {type(m) for m in ActionMaskModel(space, actions, 7, {}, "m", hiddens=[8], activation=a).modules()}
             for a in ("tanh", "relu")}
    assert torch.nn.Tanh in kinds["tanh"] and torch.nn.ReLU not in kinds["tanh"]
    assert torch.nn.ReLU in kinds["relu"] and torch.nn.Tanh not in kinds["relu"]
    with pytest.raises(ValueError, match=re.escape("unknown activation 'gelu': expected one of ['tanh', 'relu']")):
        ActionMaskModel(space, actions, 7, {}, "m", hiddens=[8], activation="gelu")


def test_a_relu_model_config_rebuilds_as_relu_where_snapshots_and_exports_are_built():
    from agents.models import ACTION_MASK_MODEL
    from league.rllib.export import build_policy

    env = envs.make("connect_four")
    source = ActionMaskModel(env.observation_space, env.action_space, 7, {}, "m", hiddens=[16], activation="relu")
    weights = {k: v.detach().numpy() for k, v in source.state_dict().items()}
    config = {"custom_model": ACTION_MASK_MODEL, "custom_model_config": {"hiddens": [16], "activation": "relu"}}
    policy = build_policy(env.observation_space, env.action_space, config, weights)
    assert torch.nn.ReLU in {type(m) for m in policy.model.modules()}
    rng = np.random.default_rng(0)
    obs = {"observation": torch.as_tensor(rng.integers(0, 2, (8, 6, 7, 2)).astype(np.float32)),
           "action_mask": torch.ones(8, 7)}
    with torch.no_grad():
        expected, _ = source.forward({"obs": obs}, [], None)
        got, _ = policy.model.forward({"obs": obs}, [], None)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)


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


def test_every_scripted_chooser_has_a_policy_and_alphabeta_blocks_through_the_rllib_interface():
    import pickle

    from agents.heuristics import CHOOSERS

    assert set(SCRIPTED_POLICIES) == set(CHOOSERS)
    assert SCRIPTED_POLICIES["alphabeta-4"] is AlphaBeta4Policy
    assert pickle.loads(pickle.dumps(AlphaBeta4Policy)) is AlphaBeta4Policy  # by reference, as Ray ships it
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    o = obs["player_0"]
    board = np.zeros((6, 7, 2), dtype=np.float32)
    board[5, 4, 1] = board[4, 4, 1] = board[3, 4, 1] = 1.0  # opponent threatens column 4
    board[5, 0, 0] = board[4, 0, 0] = board[5, 1, 0] = 1.0
    o["observation"] = board
    flat_space, batch = _flat_batch([o] * 3)
    actions, _, _ = AlphaBeta4Policy(flat_space, env.action_space, {"seed": 0}).compute_actions(batch)
    assert actions.tolist() == [4, 4, 4]
