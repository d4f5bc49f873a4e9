"""Observation encoding shared by the RLlib wrappers and plain PettingZoo loops.

Imports neither Ray nor torch, so exported opponents and the arena (:mod:`league.arena`) can
encode observations exactly as the training env did.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

#: Keys of the observation dict every League env emits.
OBSERVATION_KEY = "observation"
ACTION_MASK_KEY = "action_mask"


def _observation_box(space: gym.Space) -> gym.spaces.Box:
    """The float32 box that carries a PettingZoo observation space."""
    if isinstance(space, gym.spaces.Box):
        return gym.spaces.Box(
            low=np.asarray(space.low, dtype=np.float32),
            high=np.asarray(space.high, dtype=np.float32),
            shape=space.shape,
            dtype=np.float32,
        )
    if isinstance(space, gym.spaces.Discrete):
        return gym.spaces.Box(0.0, 1.0, shape=(int(space.n),), dtype=np.float32)
    raise TypeError(f"unsupported observation space {space!r}: expected Box or Discrete")


def masked_observation_space(raw_space: gym.Space, num_actions: int) -> gym.spaces.Dict:
    """The observation space League exposes for a PettingZoo observation space.

    Args:
        raw_space: The game's own observation space; a ``Dict`` that already
            carries ``observation`` and ``action_mask`` keys, a ``Box`` or a
            ``Discrete`` (encoded one-hot).
        num_actions: Size of the discrete action space (length of the mask).
    """
    inner = raw_space[OBSERVATION_KEY] if isinstance(raw_space, gym.spaces.Dict) else raw_space
    return gym.spaces.Dict(
        {
            ACTION_MASK_KEY: gym.spaces.Box(0.0, 1.0, shape=(num_actions,), dtype=np.float32),
            OBSERVATION_KEY: _observation_box(inner),
        }
    )


class ObservationEncoder:
    """Converts one raw PettingZoo observation into League's masked dict."""

    def __init__(self, raw_space: gym.Space, num_actions: int) -> None:
        self._raw_space = raw_space
        self._num_actions = num_actions
        self._has_mask = isinstance(raw_space, gym.spaces.Dict)
        inner = raw_space[OBSERVATION_KEY] if isinstance(raw_space, gym.spaces.Dict) else raw_space
        self._one_hot = int(inner.n) if isinstance(inner, gym.spaces.Discrete) else 0
        self._all_legal = np.ones(num_actions, dtype=np.float32)

    def __call__(self, raw: Any) -> dict[str, np.ndarray]:
        """Encode ``raw`` as ``{"observation": ..., "action_mask": ...}`` (float32)."""
        if self._has_mask:
            inner, mask = raw[OBSERVATION_KEY], np.asarray(raw[ACTION_MASK_KEY], dtype=np.float32)
        else:
            inner, mask = raw, self._all_legal
        if self._one_hot:
            encoded = np.zeros(self._one_hot, dtype=np.float32)
            encoded[int(inner)] = 1.0
        else:
            encoded = np.asarray(inner, dtype=np.float32)
        return {ACTION_MASK_KEY: mask, OBSERVATION_KEY: encoded}
