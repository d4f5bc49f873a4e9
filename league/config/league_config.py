"""The whole League config, :class:`LeagueConfig`: the game, the budget, the run folder and every section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from league.config.sections import (
    EvaluationConfig,
    LedgerConfig,
    MatchmakingConfig,
    RatingsConfig,
    ResourcesConfig,
    RosterConfig,
    Section,
    SnapshotConfig,
)
from league.config.training import TrainingConfig
from league.config.validation import (
    check_conv_board,
    check_exploitability_measurable,
    check_known_game,
    check_scripted_players_play,
    default_scripted_players,
    is_stored_run,
)


class LeagueConfig(Section):
    """Everything a League run needs; loadable from TOML, overridable by CLI flags."""

    game: str = Field("connect_four", description="Registered game name (see `league envs`), or "
                      "package.module:factory for a callable returning a PettingZoo AEC or parallel env.")
    env_config: dict[str, Any] = Field(default_factory=dict, description="Keyword config for the game.")
    iterations: int | None = Field(
        30, ge=1, description="League iterations to run (the run's total, resumes included); left unset with "
        "`minutes` set: no iteration limit, the time budget alone stops the run.")
    minutes: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Wall-time budget of each `league run` (and of each "
        "`--resume`, afresh), counted from its first iteration: the run stops, checkpointed, after the first "
        "iteration that ends with the budget spent. With `iterations` too, whichever comes first "
        "(league.budget).")
    seed: int = Field(0, ge=0, description="Run seed: matchmaking, evaluation and RLlib.")
    run_dir: Path = Field(Path("runs/league"), description="Folder for the run's files.")
    redis_url: str | None = Field(
        None, description="redis://, rediss:// or unix:// URL; unset: embedded Redis in the run folder."
    )
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    roster: RosterConfig = Field(default_factory=RosterConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    matchmaking: MatchmakingConfig = Field(default_factory=MatchmakingConfig)
    ratings: RatingsConfig = Field(default_factory=RatingsConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    checkpoint_every: int = Field(
        1, ge=1, description="Write a league checkpoint every N iterations (and at the end); a resumed run "
        "redoes the iterations after its last checkpoint.")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints kept on disk (newest first).")
    tensorboard: bool = Field(True, description="Write TensorBoard scalars per iteration to <run_dir>/tensorboard.")

    @field_validator("game")
    @classmethod
    def _known_game(cls, value: str, info: ValidationInfo) -> str:
        if not is_stored_run(info):  # a stored run's own game: `league status` and the like need not import it
            check_known_game(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _minutes_alone_lift_the_iteration_limit(cls, data: Any) -> Any:
        # `league run --minutes 30` means thirty minutes, not the default 30 iterations (issue 19).
        if isinstance(data, Mapping) and data.get("minutes") is not None and "iterations" not in data:
            return {**data, "iterations": None}
        return data

    @model_validator(mode="after")
    def _a_run_has_a_limit(self) -> LeagueConfig:
        if self.iterations is None and self.minutes is None:
            raise ValueError("iterations: None runs without an iteration limit and needs minutes "
                             "(a time budget)")
        return self

    @model_validator(mode="after")
    def _scripted_players_fit_the_game(self, info: ValidationInfo) -> LeagueConfig:
        named = (("roster.scripted", self.roster.scripted or ()), ("evaluation.opponent", (self.evaluation.opponent,)),
                 ("evaluation.references", self.evaluation.references or ()))
        check_scripted_players_play(self.game, named)
        if self.matchmaking.matchmaker is None and self.matchmaking.main.scripted > 0 and not self.scripted_players:
            raise ValueError(f"matchmaking.main.scripted: {self.matchmaking.main.scripted:g} of main's matches go "
                             "to scripted players, but the league has none (roster.scripted)")
        if self.evaluation.exploitability_every and not is_stored_run(info):  # walks the game's whole tree
            check_exploitability_measurable(self.game)
        return self

    @model_validator(mode="after")
    def _conv_model_needs_a_board(self, info: ValidationInfo) -> LeagueConfig:
        if self.training.model == "conv" and not is_stored_run(info):  # a stored run's game was checked at its start
            check_conv_board(self.game, self.env_config)
        return self

    @property
    def snapshot_uri(self) -> str:
        """Where snapshots are stored: ``snapshots.uri``, or ``<run_dir>/snapshots``."""
        return self.snapshots.uri or str(self.run_dir / "snapshots")

    @property
    def scripted_players(self) -> tuple[str, ...]:
        """Scripted players seeded into the league (explicit list, or every one the game supports but opt-in ones)."""
        if self.roster.scripted is not None:
            return self.roster.scripted
        return default_scripted_players(self.game)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a URL starting with redis://, rediss:// or unix://")
        return value
