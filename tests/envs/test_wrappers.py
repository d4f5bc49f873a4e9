"""League's env wrapper reads the game's turn state from the unwrapped env only where that is exact."""

from __future__ import annotations

import numpy as np
from pettingzoo.classic import connect_four_v3
from pettingzoo.utils.wrappers import BaseWrapper

import envs
from envs.wrappers import TurnBasedEnv, _game_state


class _RenamesTurns(BaseWrapper):
    """A wrapper that keeps its own ``agent_selection`` (so the unwrapped one is not the truth)."""

    @property
    def agent_selection(self):
        return self.env.agent_selection


def test_turn_state_is_read_from_the_unwrapped_game_unless_a_wrapper_keeps_its_own():
    plain = connect_four_v3.env()
    assert _game_state(plain) is plain.unwrapped
    wrapped = _RenamesTurns(connect_four_v3.env())
    assert _game_state(wrapped) is wrapped


def test_an_illegal_move_still_ends_the_game_through_pettingzoos_wrapper():
    env = envs.make("connect_four")
    obs, _ = env.reset(seed=0)
    agent = next(iter(obs))
    for _ in range(6):  # fill column 0 with alternating moves
        obs, rewards, terminateds, _, _ = env.step({agent: 0})
        agent = next(iter(obs))
    assert obs[agent]["action_mask"][0] == 0
    obs, rewards, terminateds, truncateds, _ = env.step({agent: 0})  # column 0 is full: illegal
    assert terminateds["__all__"] or truncateds["__all__"]
    assert rewards[agent] == -1.0 and set(obs) == {"player_0", "player_1"}


def test_a_wrapper_keeping_its_own_turn_state_plays_the_same_game():
    games = []
    for make in (connect_four_v3.env, lambda: _RenamesTurns(connect_four_v3.env())):
        env = TurnBasedEnv(make)
        obs, _ = env.reset(seed=1)
        moves, rng = [], np.random.default_rng(0)
        while True:
            agent = next(iter(obs))
            move = int(rng.choice(np.flatnonzero(obs[agent]["action_mask"])))
            obs, rewards, terminateds, truncateds, _ = env.step({agent: move})
            moves.append((agent, move))
            if terminateds["__all__"] or truncateds["__all__"]:
                games.append((moves, rewards))
                break
    assert games[0] == games[1]
