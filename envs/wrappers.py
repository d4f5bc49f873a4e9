"""Wrappers that turn PettingZoo games into RLlib ``MultiAgentEnv``s with action masks.

Every wrapped game exposes, per agent, the observation
``{"observation": float32 array, "action_mask": float32 array over all actions}``
and a ``Discrete`` action space. Turn-based (AEC) games report an observation
only for the agent whose turn it is; when the game ends every agent receives its
final observation and reward, so RLlib closes each agent's trajectory with the
true outcome. Simultaneous-move (parallel) games observe every agent each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.rllib.utils.typing import MultiAgentDict

from envs.encoding import ObservationEncoder, masked_observation_space


# reset() and step() return dicts keyed by the agents' str ids. RLlib's MultiAgentEnv types them with
# Hashable keys (dicts are invariant in their keys) and itself overrides gym.Env's single-agent
# signatures, so no annotation fits both supertypes: mypy's override check is silenced there.
class _PettingZooEnv(MultiAgentEnv):
    """Shared set-up: agents, masked observation spaces and the encoder of a PettingZoo env."""

    # Set in __init__, never None (MultiAgentEnv declares them Optional).
    observation_space: gym.spaces.Dict
    action_space: gym.Space

    def __init__(self, env: Any) -> None:
        super().__init__()
        self._env = env
        self.possible_agents = list(env.possible_agents)
        self.agents = list(self.possible_agents)
        first = self.possible_agents[0]
        num_actions = int(env.action_space(first).n)
        raw_space = env.observation_space(first)
        self._encode = ObservationEncoder(raw_space, num_actions)
        space = masked_observation_space(raw_space, num_actions)
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: env.action_space(a) for a in self.possible_agents}
        self.observation_space = space
        self.action_space = self.action_spaces[first]

    def close(self) -> None:
        """Release the underlying PettingZoo env."""
        self._env.close()


#: AEC game state League reads after each move; wrappers keep it on the unwrapped env.
_AEC_STATE = ("agents", "agent_selection", "_cumulative_rewards", "terminations", "truncations", "infos")


def _game_state(env: Any) -> Any:
    """Where to read ``env``'s turn state cheaply: the unwrapped env, if every wrapper only forwards it.

    PettingZoo's ``BaseWrapper`` forwards attribute reads through ``__getattr__``,
    one call per wrapper level per read, which cost League's wrapper about as
    much as the game itself. A wrapper that keeps any of :data:`_AEC_STATE` itself
    (an instance attribute or a class-level property) is read through, as before.
    """
    from pettingzoo.utils.env import AECEnv
    from pettingzoo.utils.wrappers.base import BaseWrapper

    layer = env
    while isinstance(layer, BaseWrapper):
        own = set(vars(layer))
        for cls in type(layer).__mro__:
            if cls in (BaseWrapper, AECEnv, object) or cls.__module__ == "typing":
                continue
            own.update(vars(cls))
        if own.intersection(_AEC_STATE):
            return env
        layer = layer.env
    return env.unwrapped


class TurnBasedEnv(_PettingZooEnv):
    """An RLlib ``MultiAgentEnv`` over a turn-based PettingZoo AEC game."""

    def __init__(self, make_aec: Callable[[], Any]) -> None:
        env = make_aec()
        env.reset()
        super().__init__(env)
        self._state = _game_state(env)

    def _last(self) -> tuple[str, Any, float, bool, bool]:
        """``env.last()`` for the agent to move: its observation goes through every wrapper (a wrapper
        may watch it, as TerminateIllegalWrapper does); rewards and flags are read from the game's state."""
        state = self._state
        agent = state.agent_selection
        raw = self._env.observe(agent)
        return agent, raw, state._cumulative_rewards[agent], state.terminations[agent], state.truncations[agent]

    def reset(  # type: ignore[override]  # str agent ids: see above _PettingZooEnv
        self, *, seed: int | None = None, options: dict | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a new game; only the first agent to move is observed."""
        self._env.reset(seed=seed, options=options)
        self.agents = list(self._state.agents)
        agent, raw, _, _, _ = self._last()
        return {agent: self._encode(raw)}, {agent: {}}

    def step(  # type: ignore[override]  # str agent ids: see above _PettingZooEnv
        self, action_dict: MultiAgentDict,
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, Any]]:
        """Apply the acting agent's move; observe whoever moves next (or everyone at the end)."""
        state = self._state
        acting = state.agent_selection
        self._env.step(int(action_dict[acting]))
        infos: dict[str, Any]
        obs, rewards, terminateds, truncateds, infos = {}, {}, {}, {}, {}
        while state.agents:
            agent, raw, reward, terminated, truncated = self._last()
            obs[agent] = self._encode(raw)
            rewards[agent] = float(reward)
            terminateds[agent] = bool(terminated)
            truncateds[agent] = bool(truncated)
            infos[agent] = {}
            if terminated or truncated:
                self._env.step(None)
            else:
                break
        done = not state.agents
        self.agents = list(state.agents)
        terminateds["__all__"] = done and any(terminateds.values())
        truncateds["__all__"] = done and not terminateds["__all__"]
        return obs, rewards, terminateds, truncateds, infos


class SimultaneousEnv(_PettingZooEnv):
    """An RLlib ``MultiAgentEnv`` over a simultaneous-move PettingZoo parallel game."""

    def __init__(self, make_parallel: Callable[[], Any]) -> None:
        super().__init__(make_parallel())

    def reset(  # type: ignore[override]  # str agent ids: see above _PettingZooEnv
        self, *, seed: int | None = None, options: dict | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a new game; every agent is observed."""
        raw_obs, _ = self._env.reset(seed=seed, options=options)
        self.agents = list(self._env.agents)
        return {a: self._encode(o) for a, o in raw_obs.items()}, {a: {} for a in raw_obs}

    def step(  # type: ignore[override]  # str agent ids: see above _PettingZooEnv
        self, action_dict: MultiAgentDict,
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, Any]]:
        """Apply every agent's move at once."""
        actions = {a: int(action_dict[a]) for a in self._env.agents}
        raw_obs, rewards, terms, truncs, _ = self._env.step(actions)
        obs = {a: self._encode(o) for a, o in raw_obs.items()}
        terminateds = {a: bool(t) for a, t in terms.items()}
        truncateds = {a: bool(t) for a, t in truncs.items()}
        done = not self._env.agents or all(terminateds[a] or truncateds[a] for a in obs)
        self.agents = list(self._env.agents)
        terminateds["__all__"] = done and any(terminateds.values())
        truncateds["__all__"] = done and not terminateds["__all__"]
        return obs, {a: float(r) for a, r in rewards.items()}, terminateds, truncateds, {a: {} for a in obs}
