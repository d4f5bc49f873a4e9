"""League configuration: a tree of small frozen pydantic models, loaded from TOML.

Precedence: built-in defaults < TOML file < CLI flags. Every bad value becomes a
:class:`~league.errors.ConfigError` whose message names the field, the value
and what was expected.

The package's modules: :mod:`~league.config.sections` (the small sections),
:mod:`~league.config.training` (``[training]``), :mod:`~league.config.league_config`
(the whole tree), :mod:`~league.config.loading` (TOML, recipe and flags) and
:mod:`~league.config.validation` (the checks that import a game, a scripted
player or a framework, skipped when a stored run is only read).

Example:
    >>> cfg = load_config(None, {"game": "tictactoe", "iterations": 3})
    >>> cfg.iterations, cfg.training.train_batch_size
    (3, 12000)
"""

from __future__ import annotations

from league.config.league_config import LeagueConfig
from league.config.loading import deep_merge, load_config, read_toml, recipe_for_config, validate_config
from league.config.sections import (
    SAMPLER_ENVS,
    EvaluationConfig,
    LeagueExploiterRules,
    LedgerConfig,
    MainExploiterRules,
    MainRules,
    MatchmakingConfig,
    RatingsConfig,
    ResourcesConfig,
    RosterConfig,
    SnapshotConfig,
)
from league.config.training import ALGORITHM_FIELDS, LEAGUE_OWNED_RLLIB_KEYS, PPO_DEFAULTS, TrainingConfig
from league.config.validation import STORED_RUN

__all__ = [
    "ALGORITHM_FIELDS", "LEAGUE_OWNED_RLLIB_KEYS", "PPO_DEFAULTS", "SAMPLER_ENVS", "STORED_RUN",
    "EvaluationConfig", "LeagueConfig", "LeagueExploiterRules", "LedgerConfig", "MainExploiterRules", "MainRules",
    "MatchmakingConfig", "RatingsConfig", "ResourcesConfig", "RosterConfig", "SnapshotConfig", "TrainingConfig",
    "deep_merge", "load_config", "read_toml", "recipe_for_config", "validate_config",
]
