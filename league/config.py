"""League configuration: a tree of small frozen pydantic models, loaded from TOML.

Precedence: built-in defaults < TOML file < CLI flags. Every bad value becomes a
:class:`~league.errors.ConfigError` whose message names the field, the value
and what was expected.

Example:
    >>> cfg = load_config(None, {"game": "tictactoe", "iterations": 3})
    >>> cfg.iterations, cfg.training.train_batch_size
    (3, 4000)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from league.errors import ConfigError, UnknownGameError


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrainingConfig(_Section):
    """PPO settings for the trainable players (RLlib old API stack)."""

    train_batch_size: int = Field(4000, ge=64, description="Env steps per PPO update.")
    minibatch_size: int = Field(256, ge=8, description="SGD minibatch size.")
    num_epochs: int = Field(8, ge=1, description="Passes over each train batch.")
    lr: float = Field(5e-4, gt=0, lt=1, description="Adam learning rate.")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor.")
    lambda_: float = Field(0.95, ge=0, le=1, description="GAE lambda.")
    clip_param: float = Field(0.2, gt=0, description="PPO clip range.")
    entropy_coeff: float = Field(0.01, ge=0, description="Entropy bonus weight.")
    vf_loss_coeff: float = Field(0.5, ge=0, description="Value loss weight.")
    hiddens: tuple[int, ...] = Field((256, 256), min_length=1, description="MLP layer widths.")


class ResourcesConfig(_Section):
    """Where and how wide sampling runs."""

    num_env_runners: int = Field(0, ge=0, description="Remote env runners (0: sample in the driver).")
    num_envs_per_env_runner: int = Field(8, ge=1, description="Sub-envs per runner, batched inference.")
    num_cpus: int = Field(2, ge=1, description="CPUs given to a local Ray started by League.")
    rollout_fragment_length: int | str = Field(
        "auto", description="Steps per runner per sample call, or 'auto' (train batch / runners)."
    )


class SnapshotConfig(_Section):
    """When the main player is frozen into a historical snapshot."""

    snapshot_every: int = Field(5, ge=1, description="Freeze main every N iterations.")


class MatchmakingConfig(_Section):
    """How main's opponents are drawn (self-play against itself and its snapshots)."""

    self_play_fraction: float = Field(
        0.5, ge=0, le=1,
        description="Share of matches main plays against its current self; the rest go "
        "uniformly to frozen snapshots (all self-play until the first snapshot exists).",
    )


class EvaluationConfig(_Section):
    """Evaluation games against a scripted player, never used for training."""

    opponent: str = Field("random", description="Scripted opponent: 'random' or 'heuristic'.")
    games: int = Field(200, ge=0, description="Games per evaluation, seats alternating.")
    every: int = Field(5, ge=1, description="Evaluate every N iterations (and always at the end).")
    explore: bool = Field(False, description="Sample moves (True) or play greedily (False).")

    @field_validator("opponent")
    @classmethod
    def _known_opponent(cls, value: str) -> str:
        from agents.heuristics import CHOOSERS

        if value not in CHOOSERS:
            raise ValueError(f"expected one of {sorted(CHOOSERS)}")
        return value


class LeagueConfig(_Section):
    """Everything a League run needs; loadable from TOML, overridable by CLI flags."""

    game: str = Field("connect_four", description="Registered game name (see `league envs`).")
    env_config: dict[str, Any] = Field(default_factory=dict, description="Keyword config for the game.")
    iterations: int = Field(30, ge=1, description="League iterations to run.")
    seed: int = Field(0, ge=0, description="Run seed: matchmaking, evaluation and RLlib.")
    run_dir: Path = Field(Path("runs/league"), description="Folder for the run's files.")
    redis_url: str | None = Field(
        None, description="redis://, rediss:// or unix:// URL; unset: embedded Redis in the run folder."
    )
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    matchmaking: MatchmakingConfig = Field(default_factory=MatchmakingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @field_validator("game")
    @classmethod
    def _known_game(cls, value: str) -> str:
        import envs

        try:
            envs.get_spec(value)
        except UnknownGameError as e:
            raise ValueError(str(e)) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a URL starting with redis://, rediss:// or unix://")
        return value


def _format_errors(error: ValidationError, source: str) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "<root>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        value = item.get("input")
        got = "" if isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"{field}: {message}{got}")
    return f"invalid config ({source}): " + "; ".join(parts)


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into a dict.

    Raises:
        ConfigError: if the file is missing or is not valid TOML.
    """
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {str(path)!r}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from e


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> LeagueConfig:
    """Build a :class:`LeagueConfig` from an optional TOML file and overrides.

    Args:
        path: TOML file, or None for defaults only.
        overrides: Values that win over the file (CLI flags); nested sections
            as nested mappings. ``None`` values are ignored.

    Raises:
        ConfigError: naming every invalid field.
    """
    data = read_toml(path) if path is not None else {}
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    source = str(path) if path is not None else "command line"
    try:
        return LeagueConfig.model_validate(_deep_merge(data, clean))
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None
