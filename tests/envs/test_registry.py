"""The game registry and the RLlib wrappers, on every registered game."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test

import envs
from envs.registry import GameSpec, register
from league.errors import RegistryError, UnknownGameError


def test_available_lists_the_builtin_games():
    assert {"connect_four", "tictactoe", "rps"} <= set(envs.available())


def test_unknown_game_names_it_and_lists_the_available_ones():
    expected = f"unknown game 'nosuchgame'; available games: {', '.join(envs.available())}"
    with pytest.raises(UnknownGameError, match=re.escape(expected)):
        envs.make("nosuchgame")


def test_registry_refuses_silent_overwrite():
    spec = envs.get_spec("tictactoe")
    with pytest.raises(RegistryError, match="already registered"):
        register(GameSpec(spec.name, spec.pettingzoo_id, spec.factory, True, "again"))


# Every registered game (read at collection), so a newly registered one is tested without a change here;
# test_available_lists_the_builtin_games keeps the three built-in games among them.
@pytest.mark.parametrize("name", envs.available())
def test_pettingzoo_api_test_passes_on_the_raw_game(name):
    spec = envs.get_spec(name)
    if spec.turn_based:
        api_test(spec.make_raw(), num_cycles=20)
    else:
        parallel_api_test(spec.make_raw(), num_cycles=20)


@pytest.mark.parametrize("name", ["connect_four", "tictactoe", "rps"])
def test_wrapped_game_plays_to_the_end_with_masks_and_final_rewards(name):
    env = envs.make(name)
    rng = np.random.default_rng(0)
    for episode in range(5):
        obs, _ = env.reset(seed=episode)
        returns = dict.fromkeys(env.possible_agents, 0.0)
        for _ in range(1000):
            for agent, o in obs.items():
                assert set(o) == {"observation", "action_mask"}
                assert env.observation_spaces[agent].contains(o), agent
            actions = {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()}
            obs, rewards, terminateds, truncateds, _ = env.step(actions)
            for agent, reward in rewards.items():
                returns[agent] += reward
            if terminateds["__all__"] or truncateds["__all__"]:
                break
        else:
            pytest.fail("episode did not end")
        # Every agent sees the end of the game (its final observation and reward).
        assert set(obs) == set(env.possible_agents)
        if name != "rps":  # zero-sum board games: one winner or a draw
            assert sorted(returns.values()) in ([-1.0, 1.0], [0.0, 0.0])


def test_turn_based_env_observes_only_the_agent_to_move():
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    assert list(obs) == ["player_0"]
    obs, *_ = env.step({"player_0": 3})
    assert list(obs) == ["player_1"]
    # player_1 sees player_0's disc in its opponent channel (channel 1), bottom row, column 3.
    assert obs["player_1"]["observation"][5, 3, 1] == 1.0


def test_full_column_is_masked():
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    for _ in range(6):
        (agent,) = obs
        obs, *_ = env.step({agent: 0})
    (agent,) = obs
    assert obs[agent]["action_mask"][0] == 0.0
    assert obs[agent]["action_mask"][1:].tolist() == [1.0] * 6


def test_register_with_ray_uses_a_stable_name():
    assert envs.register_with_ray("tictactoe") == "league-tictactoe"
    with pytest.raises(UnknownGameError):
        envs.register_with_ray("nosuchgame")
