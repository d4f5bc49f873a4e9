"""A worked example of your own game in League: Nim as a PettingZoo AEC env.

Two players take turns removing 1, 2 or 3 stones from one pile; whoever takes
the last stone wins (+1, the other -1). With ``stones`` not a multiple of 4 the
first player wins by always leaving a multiple of 4.

League needs nothing from this module but ``make_env``, a callable that
returns a PettingZoo env, named in TOML as ``"module:callable"``::

    game = "mygame:make_env"        # mygame.py in the folder you run `league` from

or on the command line: ``league run --game mygame:make_env``. See
``examples/mygame.toml`` (run from the ``examples/`` folder). The env follows
PettingZoo classic's conventions, which League's wrappers read:

* the observation is a dict with ``"observation"`` (a ``Box``; here the
  remaining stones, one-hot) and ``"action_mask"`` (1 for each legal action);
* every agent has the same observation and ``Discrete`` action space;
* rewards are paid when the game ends, and the higher total wins the match.

League runs PettingZoo's ``api_test`` on ``make_env()`` before training.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

#: Stones a move may take.
MAX_TAKE = 3


def make_env(stones: int = 10, render_mode: str | None = None) -> AECEnv:
    """Nim: one pile of stones, take 1-3 per turn, whoever takes the last stone wins."""
    env = NimEnv(stones=stones, render_mode=render_mode)
    env = wrappers.TerminateIllegalWrapper(env, illegal_reward=-1)  # as PettingZoo classic games do
    env = wrappers.AssertOutOfBoundsWrapper(env)
    return wrappers.OrderEnforcingWrapper(env)


class NimEnv(AECEnv):
    """The raw Nim env (wrapped by :func:`make_env`)."""

    metadata = {"render_modes": ["ansi"], "name": "nim_v0", "is_parallelizable": False}

    def __init__(self, stones: int = 10, render_mode: str | None = None) -> None:
        super().__init__()
        self.stones = stones
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        self.agents = list(self.possible_agents)
        space = gym.spaces.Dict({
            "observation": gym.spaces.Box(0, 1, shape=(stones + 1,), dtype=np.int8),
            "action_mask": gym.spaces.Box(0, 1, shape=(MAX_TAKE,), dtype=np.int8),
        })
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: gym.spaces.Discrete(MAX_TAKE) for a in self.possible_agents}
        self.left = stones

    def observation_space(self, agent: str) -> gym.Space:
        """The same dict space for both players."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.Space:
        """Action ``k`` takes ``k + 1`` stones."""
        return self.action_spaces[agent]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """The remaining stones (one-hot) and which takes are legal on ``agent``'s turn."""
        observation = np.zeros(self.stones + 1, dtype=np.int8)
        observation[self.left] = 1
        mask = np.zeros(MAX_TAKE, dtype=np.int8)
        if agent == self.agent_selection:
            mask[:min(MAX_TAKE, self.left)] = 1
        return {"observation": observation, "action_mask": mask}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """A full pile; player_0 moves first."""
        self.left = self.stones
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0 for a in self.agents}
        self._cumulative_rewards = {a: 0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = self.possible_agents[0]

    def step(self, action: Any) -> None:
        """Take ``action + 1`` stones; taking the last one wins."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0
        self.left -= int(action) + 1
        other = self.possible_agents[1 - self.possible_agents.index(agent)]
        if self.left <= 0:
            self.left = 0
            self.rewards = {agent: 1, other: -1}
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()

    def render(self) -> str | None:
        """The pile as text (``render_mode="ansi"``)."""
        if self.render_mode == "ansi":
            return f"{self.left} stones left, {self.agent_selection} to move"
        return None

    def close(self) -> None:
        """Nothing to release."""
