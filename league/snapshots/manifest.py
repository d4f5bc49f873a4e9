"""The snapshot manifest: what a stored snapshot is, in JSON, next to its weights.

A snapshot is two objects: the weights (safetensors, a format that cannot
execute code) and ``manifest.json`` describing them. The manifest is parsed
with pydantic, so a manifest that is not what League wrote is rejected with a
message naming the bad field instead of being trusted.
"""

from __future__ import annotations

import json
import math
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from league.errors import SnapshotCorrupt
from league.types import validate_id

#: Version of the manifest layout; bumped when fields change meaning.
MANIFEST_VERSION = 1

#: The only weights format League writes or reads.
WEIGHTS_FORMAT = "safetensors"


class RatingAtFreeze(BaseModel):
    """A player's ratings when it was frozen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    elo: float
    mu: float
    sigma: float
    games: int = Field(ge=0)


class SnapshotManifest(BaseModel):
    """Everything about a snapshot except its weights.

    Attributes:
        player_id: The snapshot's player (and RLlib policy) id.
        role: Role of the snapshot player (``snapshot``).
        parent: The trainable player it was frozen from.
        iteration: League iteration after which it was frozen.
        env_steps: Env steps the run had sampled by then.
        ratings: The parent's ratings at freeze time, if it was rated.
        game: The registered game name.
        run_id: The run that froze it.
        framework: Deep-learning framework that trained the weights (``torch`` or ``tf2``);
            the weights' layout is the same for both (:mod:`league.rllib.weights`).
        model_config: The RLlib model config the weights fit.
        observation_space: Description of the per-agent observation space.
        action_space: Description of the per-agent action space.
        weights_file: Name of the weights object next to the manifest.
        weights_format: ``safetensors``.
        weights_sha256: Hex sha256 of the weights object's bytes.
        weights_bytes: Size of the weights object.
        created: Unix time of the freeze.
        league_version: League's version that wrote it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    manifest_version: int = MANIFEST_VERSION
    player_id: str
    role: str
    parent: str | None
    iteration: int = Field(ge=0)
    env_steps: int = Field(ge=0)
    ratings: RatingAtFreeze | None
    game: str
    run_id: str
    framework: str
    model_config_: dict[str, Any] = Field(alias="model_config")
    observation_space: dict[str, Any]
    action_space: dict[str, Any]
    weights_file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}\.safetensors$")
    weights_format: str = WEIGHTS_FORMAT
    weights_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    weights_bytes: int = Field(ge=0)
    created: float
    league_version: str

    @field_validator("player_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        return validate_id(value, kind="snapshot id")

    def to_json(self) -> str:
        """The manifest as pretty, key-sorted JSON."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str) -> SnapshotManifest:
        """Parse a stored manifest.

        Raises:
            SnapshotCorrupt: naming ``where`` and the bad field, if it is not a League manifest.
        """
        try:
            manifest = cls.model_validate(json.loads(text))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or '<root>'}: {item['msg']}"
                                 for item in e.errors())
            raise SnapshotCorrupt(f"snapshot manifest {where} is not valid: {problems}") from e
        except ValueError as e:
            raise SnapshotCorrupt(f"snapshot manifest {where} is not valid JSON: {e}") from e
        if manifest.manifest_version != MANIFEST_VERSION:
            raise SnapshotCorrupt(f"snapshot manifest {where} has manifest_version "
                                  f"{manifest.manifest_version}; this League reads {MANIFEST_VERSION}")
        if manifest.weights_format != WEIGHTS_FORMAT:
            raise SnapshotCorrupt(f"snapshot manifest {where} names weights_format "
                                  f"{manifest.weights_format!r}; expected {WEIGHTS_FORMAT!r}")
        return manifest


def _bound(value: Any) -> float | str:
    """A Box bound as JSON keeps it: a float, or ``"inf"`` / ``"-inf"`` (JSON has no infinity)."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def describe_space(space: gym.Space) -> dict[str, Any]:
    """A JSON description of a gymnasium space (enough to check two spaces are the same).

    Example:
        >>> describe_space(gym.spaces.Discrete(7))
        {'type': 'Discrete', 'n': 7, 'start': 0}
    """
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bound(space.low.min()), "high": _bound(space.high.max())}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(v) for k, v in space.spaces.items()}}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": list(space.shape)}
    raise ValueError(f"cannot describe space {space!r}: expected Discrete, Box, Dict or MultiBinary")
