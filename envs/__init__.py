"""Game registry and wrappers: PettingZoo games as RLlib multi-agent envs.

Start with :func:`envs.make` and :func:`envs.available`.
"""

from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY
from envs.registry import (
    REGISTRY,
    GameSpec,
    available,
    get_spec,
    make,
    ray_env_name,
    register,
    register_builtin_games,
    register_with_ray,
)

__all__ = [
    "ACTION_MASK_KEY",
    "OBSERVATION_KEY",
    "REGISTRY",
    "GameSpec",
    "available",
    "get_spec",
    "make",
    "ray_env_name",
    "register",
    "register_builtin_games",
    "register_with_ray",
]
