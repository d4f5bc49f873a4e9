"""The OpenSpiel adapter, checked against pyspiel itself on several games."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyspiel
import pytest
from pettingzoo.test import api_test

import envs
from envs.openspiel import OpenSpielEnv
from league.errors import UnknownGameError

#: Two-player turn-based games: cards with chance (Kuhn, Leduc), dice with chance (Liar's dice), no chance
#: and perfect information (tic-tac-toe, which has no information-state tensor: observation tensor instead).
GAMES = ["kuhn_poker", "leduc_poker", "liars_dice", "tic_tac_toe"]


@pytest.mark.parametrize("game", GAMES)
def test_pettingzoo_api_test_passes(game):
    api_test(OpenSpielEnv(game), num_cycles=50)


def _expected_observation(game, state, player):
    if game.get_type().provides_information_state_tensor:
        return np.asarray(state.information_state_tensor(player), dtype=np.float32)
    return np.asarray(state.observation_tensor(player), dtype=np.float32)


@pytest.mark.parametrize("name", GAMES)
def test_random_games_replay_in_pyspiel_with_the_same_observations_masks_and_returns(name):
    """Every observed state is a decision node; masks, tensors and returns are pyspiel's."""
    env = envs.make(f"openspiel:{name}")
    game = pyspiel.load_game(name)
    rng = np.random.default_rng(0)
    for episode in range(30):
        obs, _ = env.reset(seed=episode)
        totals = {"player_0": 0.0, "player_1": 0.0}
        decisions = []
        while True:
            (agent, observation), = obs.items()
            state = env._env.state  # the adapter's pyspiel state: chance already resolved
            player = int(agent[-1])
            assert not state.is_chance_node() and state.current_player() == player
            legal = state.legal_actions(player)
            assert np.flatnonzero(observation["action_mask"]).tolist() == legal
            assert observation["action_mask"].shape == (game.num_distinct_actions(),)
            expected = _expected_observation(game, state, player)
            np.testing.assert_array_equal(observation["observation"], expected)
            action = int(rng.choice(legal))
            decisions.append(action)
            obs, rewards, terminateds, truncateds, _ = env.step({agent: action})
            for who, reward in rewards.items():
                totals[who] += reward
            if terminateds["__all__"] or truncateds["__all__"]:
                break
        history = env._env.state.history()
        remaining = iter(history)  # the moves played, in order, among pyspiel's chance outcomes
        assert all(any(a == b for b in remaining) for a in decisions)
        replay = game.new_initial_state()
        for action in history:
            replay.apply_action(action)
        assert replay.is_terminal()
        assert [totals["player_0"], totals["player_1"]] == pytest.approx(replay.returns())
        assert set(obs) == {"player_0", "player_1"}  # both players see the end


def test_kuhn_deals_are_drawn_from_pyspiel_chance_outcomes_and_seeded():
    env = OpenSpielEnv("kuhn_poker")
    deals = Counter()
    for seed in range(1200):
        env.reset(seed=seed)
        deals[tuple(env.state.history())] += 1
    assert len(deals) == 6  # every ordered pair of distinct cards from {J, Q, K}
    assert all(150 <= n <= 250 for n in deals.values()), deals  # 200 each expected
    env.reset(seed=7)
    first = env.state.history()
    env.reset(seed=7)
    assert env.state.history() == first


def test_illegal_move_is_refused_naming_the_legal_ones():
    env = OpenSpielEnv("tic_tac_toe")
    env.reset(seed=0)
    env.step(4)
    with pytest.raises(ValueError, match=re.escape("illegal action 4 for player_1")):
        env.step(4)


@pytest.mark.parametrize("name, message", [
    ("openspiel:no_such_game", "unknown OpenSpiel game 'no_such_game'"),
    ("openspiel:goofspiel", "its moves are simultaneous"),
    ("openspiel:kuhn_poker(players=3)", "it has 3 players, League plays 2"),
])
def test_unsupported_games_are_refused_with_the_reason(name, message):
    with pytest.raises(UnknownGameError, match=re.escape(message)):
        envs.get_spec(name)


def test_openspiel_names_register_with_ray_under_a_name_rllib_does_not_import():
    assert ":" not in envs.ray_env_name("openspiel:kuhn_poker")
    assert envs.ray_env_name("openspiel:kuhn_poker") != envs.ray_env_name("openspiel:kuhn-poker")
