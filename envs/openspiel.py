"""OpenSpiel games as PettingZoo AEC environments.

Any two-player, sequential-move game that ``pyspiel.load_game`` accepts is
available in League as ``openspiel:<game string>``: ``openspiel:kuhn_poker``,
``openspiel:leduc_poker``, ``openspiel:tic_tac_toe``, or a game with parameters
such as ``openspiel:leduc_poker(suit_isomorphism=True)``.

How a game is presented:
    * **Chance nodes** (dealing cards, dice) are resolved inside the env, by
      sampling ``state.chance_outcomes()`` with the env's seeded generator, so
      agents only ever see decision nodes.
    * **Observation**: ``state.information_state_tensor(player)`` when the game
      provides one (perfect recall: everything the player has seen and done),
      else ``state.observation_tensor(player)``. It is the ``observation`` entry
      of the observation dict, as float32; exported opponents of these games
      take the same vector.
    * **Action mask** over ``game.num_distinct_actions()``: 1 for every action in
      ``state.legal_actions(player)`` on that player's turn, else all 0.
    * **Rewards**: the change in ``state.returns()`` since the player's last
      move, so the rewards an agent collects sum to pyspiel's own returns.

Agents are ``player_0`` and ``player_1`` (pyspiel players 0 and 1).

Version history:
    * v1: first version (information-state tensor, chance sampled inside).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import AECEnv

from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY
from league.errors import UnknownGameError

#: Prefix that selects an OpenSpiel game in League's registry.
OPENSPIEL_PREFIX = "openspiel:"


def load_game(game_string: str) -> Any:
    """Load ``game_string`` with pyspiel and check League can play it.

    Raises:
        UnknownGameError: pyspiel is missing, does not know the game, or the game
            is not a two-player sequential-move game with a tensor observation.
    """
    try:
        import pyspiel
    except ImportError:
        raise UnknownGameError(
            f"game 'openspiel:{game_string}' needs OpenSpiel: pip install open_spiel") from None
    short_name = game_string.split("(", 1)[0]
    if short_name not in pyspiel.registered_names():
        raise UnknownGameError(
            f"unknown OpenSpiel game {short_name!r}: pyspiel.registered_names() lists "
            f"{len(pyspiel.registered_names())} games, for example kuhn_poker, leduc_poker, tic_tac_toe")
    try:
        game = pyspiel.load_game(game_string)
    except pyspiel.SpielError as e:
        raise UnknownGameError(f"OpenSpiel cannot load {game_string!r}: {e}") from None
    kind = game.get_type()
    problems = []
    if game.num_players() != 2:
        problems.append(f"it has {game.num_players()} players, League plays 2")
    if kind.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        problems.append("its moves are simultaneous, League plays turn-based OpenSpiel games")
    if not (kind.provides_information_state_tensor or kind.provides_observation_tensor):
        problems.append("it provides neither an information-state nor an observation tensor")
    if problems:
        raise UnknownGameError(f"OpenSpiel game {game_string!r} is not supported: " + "; ".join(problems))
    return game


def observation_size(game: Any) -> int:
    """Length of the observation vector League uses for ``game``."""
    if game.get_type().provides_information_state_tensor:
        return int(np.prod(game.information_state_tensor_shape()))
    return int(np.prod(game.observation_tensor_shape()))


def observation_vector(game: Any, state: Any, player: int) -> np.ndarray:
    """The observation vector of ``player`` in ``state`` (information state if the game has one)."""
    if game.get_type().provides_information_state_tensor:
        return np.asarray(state.information_state_tensor(player), dtype=np.float32)
    return np.asarray(state.observation_tensor(player), dtype=np.float32)


def legal_mask(game: Any, state: Any, player: int) -> np.ndarray:
    """1.0 for each legal action of ``player`` (all zeros when it is not that player's turn)."""
    mask = np.zeros(game.num_distinct_actions(), dtype=np.float32)
    if not state.is_terminal() and state.current_player() == player:
        mask[state.legal_actions(player)] = 1.0
    return mask


class OpenSpielEnv(AECEnv):
    """A two-player sequential OpenSpiel game as a PettingZoo AEC environment.

    Args:
        game_string: What ``pyspiel.load_game`` takes (``kuhn_poker``,
            ``leduc_poker(suit_isomorphism=True)``).

    Example:
        >>> env = OpenSpielEnv("kuhn_poker")
        >>> env.reset(seed=0)
        >>> observation, reward, terminated, truncated, info = env.last()
        >>> observation["action_mask"].tolist()
        [1, 1]
    """

    # An instance attribute with a class default: each instance names its own game (see __init__).
    metadata: dict[str, Any] = {"render_modes": ["ansi"], "name": "openspiel_v1",  # noqa: RUF012
                                "is_parallelizable": False}

    def __init__(self, game_string: str, render_mode: str | None = None) -> None:
        super().__init__()
        self.game = load_game(game_string)
        self.game_string = game_string
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        self.agents = list(self.possible_agents)
        self.metadata = {**self.metadata, "name": f"openspiel_{self.game.get_type().short_name}_v1"}
        num_actions = self.game.num_distinct_actions()
        size = observation_size(self.game)
        space = gym.spaces.Dict({
            OBSERVATION_KEY: gym.spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32),
            ACTION_MASK_KEY: gym.spaces.Box(0, 1, shape=(num_actions,), dtype=np.int8),
        })
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces: dict[str, gym.Space] = {a: gym.spaces.Discrete(num_actions) for a in self.possible_agents}
        self.state: Any = None
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> gym.Space:
        """The observation dict space (same for both players)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.Space:
        """``Discrete(num_distinct_actions)``."""
        return self.action_spaces[agent]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """``agent``'s observation vector and legal-action mask in the current state."""
        player = self.possible_agents.index(agent)
        return {OBSERVATION_KEY: observation_vector(self.game, self.state, player),
                ACTION_MASK_KEY: legal_mask(self.game, self.state, player).astype(np.int8)}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """Start a new game; chance nodes before the first decision are resolved here."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.state = self.game.new_initial_state()
        self._resolve_chance()
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._returns = np.zeros(2)
        self.agent_selection = self.possible_agents[self.state.current_player()]

    def step(self, action: int | None) -> None:
        """Play ``action`` for the agent to move (``None`` once that agent's game is over)."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        player = self.possible_agents.index(agent)
        legal = self.state.legal_actions(player)
        if action is None or int(action) not in legal:
            raise ValueError(f"illegal action {action!r} for {agent} in {self.metadata['name']}: "
                             f"legal actions are {legal}")
        self._cumulative_rewards[agent] = 0.0
        self.state.apply_action(int(action))
        self._resolve_chance()
        returns = np.asarray(self.state.returns(), dtype=np.float64)
        self.rewards = {a: float(returns[i] - self._returns[i]) for i, a in enumerate(self.possible_agents)}
        self._returns = returns
        if self.state.is_terminal():
            self.terminations = {a: True for a in self.agents}
            self.agent_selection = self.possible_agents[1 - player]
        else:
            self.agent_selection = self.possible_agents[self.state.current_player()]
        self._accumulate_rewards()

    def render(self) -> str | None:
        """The state as pyspiel prints it (``render_mode="ansi"``)."""
        if self.render_mode == "ansi":
            return str(self.state)
        return None

    def close(self) -> None:
        """Nothing to release."""

    def _resolve_chance(self) -> None:
        while self.state.is_chance_node():
            outcomes, probs = zip(*self.state.chance_outcomes(), strict=True)
            self.state.apply_action(int(self._rng.choice(outcomes, p=np.asarray(probs, dtype=np.float64))))
