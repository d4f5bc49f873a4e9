"""The small sections of a League config: resources, roster, snapshots, matchmaking, ratings, evaluation, ledger.

``[training]`` has its own module (:mod:`league.config.training`), and the whole
tree its own (:mod:`league.config.league_config`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from league.config.validation import check_scripted_names, check_scripted_opponent
from league.types import PfspWeighting, Role


class Section(BaseModel):
    """A config section: frozen, and refusing unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: Sub-envs per runner when ``resources.num_envs_per_env_runner`` is unset, per sampler: League's batched
#: sampler reaches 68% of Connect Four's raw env steps/s at 256 (48% at 128); RLlib's gains little past 32.
SAMPLER_ENVS: dict[str, int] = {"league": 256, "rllib": 32}


class ResourcesConfig(Section):
    """Where and how wide sampling runs."""

    num_env_runners: int = Field(0, ge=0, description="Remote env runners (0: sample in the driver).")
    num_envs_per_env_runner: int = Field(
        256, ge=1, description="Sub-envs per runner, stepped together with one forward pass per policy per step "
        "(unset: 256 with League's sampler, 68% of the raw game's env steps/s on Connect Four; 32 with RLlib's, "
        "about 2.3x one env; docs/benchmarks.md).")
    num_cpus: int = Field(2, ge=1, description="CPUs given to a local Ray started by League.")
    address: str | None = Field(
        None, description="Join an existing Ray cluster: 'auto' or 'ray://HOST:PORT'; unset: start a local Ray.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs for the learner (the driver's PPO updates).")
    num_gpus_per_env_runner: float = Field(0.0, ge=0, description="GPUs per remote env runner.")
    num_cpus_per_env_runner: float = Field(1.0, gt=0, description="CPUs per remote env runner.")
    rollout_fragment_length: int | str = Field(
        "auto", description="Steps per runner per sample call, or 'auto' (train batch / runners)."
    )
    sampler: Literal["league", "rllib"] = Field(
        "league", description="Who samples: 'league' (League's batched lockstep sampler, one forward pass per "
        "policy per step; league.rllib.sampler) or 'rllib' (RLlib's old-stack sampler).")
    restart_failed_env_runners: bool = Field(
        True, description="Restart a remote env runner that died (RLlib's fault tolerance); off: the run fails.")
    max_env_runner_restarts: int = Field(1000, ge=0, description="Most env runner restarts over a run.")
    restart_failed_sub_environments: bool = Field(
        True, description="Rebuild a sub-environment that raised and drop its episode; off: the runner fails.")

    @model_validator(mode="before")
    @classmethod
    def _envs_for_the_sampler(cls, data: Any) -> Any:
        """Unset ``num_envs_per_env_runner``: the width each sampler measured best at (docs/benchmarks.md)."""
        if isinstance(data, dict) and data.get("num_envs_per_env_runner") is None:
            data = {**data, "num_envs_per_env_runner": SAMPLER_ENVS.get(data.get("sampler", "league"), 256)}
        return data

    @field_validator("address")
    @classmethod
    def _ray_address(cls, value: str | None) -> str | None:
        if value is not None and value != "auto" and not value.startswith("ray://") and ":" not in value:
            raise ValueError("expected 'auto', 'ray://HOST:PORT' or HOST:PORT of a Ray head node")
        return value



class RosterConfig(Section):
    """Who is in the league at the start (AlphaStar's default population is 1/1/1 per race)."""

    main_agents: int = Field(1, ge=1, description="Main agents (trainable; ids main, main_2, ...).")
    main_exploiters: int = Field(1, ge=0, description="Main exploiters (trainable).")
    league_exploiters: int = Field(1, ge=0, description="League exploiters (trainable).")
    scripted: tuple[str, ...] | None = Field(
        None, description="Scripted players seeded as fixed, rated members ('random', 'heuristic', "
        "'alphabeta-1' ... 'alphabeta-6'); unset: every one that supports the game but the alpha-beta players.",
    )

    @field_validator("scripted")
    @classmethod
    def _known_scripted(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return check_scripted_names(value)


class SnapshotConfig(Section):
    """When a trainable player is frozen into a historical snapshot (AlphaStar's triggers)."""

    win_rate_threshold: float = Field(
        0.7, gt=0, le=1, description="Freeze when the score against the player's opponent distribution "
        "reaches this (AlphaStar: 0.7).",
    )
    min_games: int = Field(100, ge=1, description="Games since the last freeze before the score counts.")
    max_iterations_per_snapshot: int = Field(
        10, ge=1, description="Freeze after this many iterations even if the threshold was not reached.",
    )
    uri: str | None = Field(
        None, description="Snapshot store: a folder, file:// URL or s3://bucket/prefix; unset: "
        "<run_dir>/snapshots.",
    )
    endpoint_url: str | None = Field(
        None, description="S3 API endpoint for an s3:// store (MinIO, moto); unset: AWS or AWS_ENDPOINT_URL. "
        "Credentials and region come from the usual AWS settings.",
    )
    max_resident_opponents: int = Field(
        16, ge=1, description="Most frozen players (snapshots and scripted) held as RLlib policies at "
        "once; the rest wait in the store (RLlib's policy_map_capacity is set to match).",
    )
    keep_last: int | None = Field(
        None, ge=0, description="Automatic retention: keep the newest N snapshots (plus keep_top); "
        "unset with keep_top unset: keep every snapshot.",
    )
    keep_top: int | None = Field(
        None, ge=0, description="Automatic retention: also keep the K best snapshots by Elo.",
    )

    @field_validator("uri")
    @classmethod
    def _supported_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            scheme = value.split("://", 1)[0] if "://" in value else ""
            if scheme not in ("", "file", "s3"):
                raise ValueError(f"unsupported scheme {scheme + '://'!r}: expected a folder, file:// or s3://")
            if scheme == "s3" and not value[len("s3://"):].strip("/"):
                raise ValueError("expected s3://bucket or s3://bucket/prefix")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @property
    def retention(self) -> bool:
        """Whether a retention policy (keep_last / keep_top) is set."""
        return self.keep_last is not None or self.keep_top is not None


class _RoleRules(Section):
    share: float = Field(1.0, ge=0, description="Relative share of matches this role's players learn from.")
    pfsp_weighting: PfspWeighting = Field(PfspWeighting.HARD, description="PFSP weighting.")
    pfsp_exponent: float = Field(2.0, gt=0, description="p of the hard weighting (1 - x)^p.")
    reset_probability: float = Field(
        0.0, ge=0, le=1, description="Probability of a reset to initial weights after each snapshot.")


class MainRules(_RoleRules):
    """Main agents: 35% self-play, 50% PFSP over frozen players, 15% exploiters and forgotten snapshots.

    ``scripted`` (0 by default, as in AlphaStar) reserves a share for PFSP over
    the scripted players alone, so that a fixed baseline the user cares about
    keeps a place in main's training however many snapshots the league holds.
    """

    self_play: float = Field(0.35, ge=0, le=1, description="Share against main agents (itself included).")
    pfsp: float = Field(0.5, ge=0, le=1, description="Share of PFSP over every frozen player.")
    exploiters_and_forgotten: float = Field(
        0.15, ge=0, le=1, description="Share against main exploiters and snapshots main no longer beats.")
    forgotten_win_rate: float = Field(
        0.3, ge=0, le=1, description="A snapshot main beats less often than this is 'forgotten'.")
    scripted: float = Field(
        0.0, ge=0, le=1, description="Share of PFSP over the scripted players only (0: they are met only "
        "through the PFSP share, among every frozen player).")

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> MainRules:
        total = self.self_play + self.pfsp + self.exploiters_and_forgotten + self.scripted
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"self_play + pfsp + exploiters_and_forgotten + scripted must sum to 1, got {total:g}")
        return self


class MainExploiterRules(_RoleRules):
    """Main exploiters: play the current mains; PFSP over main's snapshots while losing badly."""

    pfsp_weighting: PfspWeighting = Field(PfspWeighting.VARIANCE, description="PFSP weighting.")
    min_win_rate_vs_main: float = Field(
        0.2, ge=0, le=1, description="Below this score against the mains, train on main's snapshots.")
    reset_probability: float = Field(1.0, ge=0, le=1, description="Reset after every snapshot.")


class LeagueExploiterRules(_RoleRules):
    """League exploiters: PFSP over every frozen player of the league."""

    pfsp_weighting: PfspWeighting = Field(PfspWeighting.LINEAR, description="PFSP weighting.")
    reset_probability: float = Field(0.25, ge=0, le=1, description="Reset probability after a snapshot.")


class MatchmakingConfig(Section):
    """Who plays whom: AlphaStar's role rules, or a custom :class:`~league.matchmaking.Matchmaker`."""

    matchmaker: str | None = Field(
        None, description="Import path 'package.module:Class' of a Matchmaker subclass; unset: "
        "AlphaStar's role rules.",
    )
    self_play_learns_both_seats: bool = Field(
        True, description="In self-play every seat's experience trains the learner (RLlib's usual "
        "self-play); false: only the learner's own seat trains, the others play as its mirror.",
    )
    pfsp_prior_games: float = Field(
        2.0, ge=0, description="Pseudo-games at score 0.5 added to every pair (prior for unplayed pairs).")
    main: MainRules = Field(default_factory=MainRules)
    main_exploiter: MainExploiterRules = Field(default_factory=MainExploiterRules)
    league_exploiter: LeagueExploiterRules = Field(default_factory=LeagueExploiterRules)

    def role_rules(self, role: Role) -> MainRules | MainExploiterRules | LeagueExploiterRules:
        """The rules section of a trainable ``role``."""
        sections: dict[Role, MainRules | MainExploiterRules | LeagueExploiterRules] = {
            Role.MAIN: self.main, Role.MAIN_EXPLOITER: self.main_exploiter,
            Role.LEAGUE_EXPLOITER: self.league_exploiter}
        if role not in sections:
            raise ValueError(f"role {role.value!r} does not learn and has no matchmaking rules")
        return sections[role]

    @field_validator("matchmaker")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError("expected an import path 'package.module:ClassName'")
        return value


class RatingsConfig(Section):
    """Elo and OpenSkill (Plackett-Luce) ratings, updated from every ledger match (see :mod:`league.ratings`)."""

    elo_method: Literal["fitted", "online"] = Field(
        "fitted", description="'fitted': every player's Elo fitted to all the league's results at once "
        "(Bradley-Terry; independent of the order of matches, so a snapshot that stopped playing is rated "
        "against today's league); 'online': Elo's match-by-match update with K-factor elo_k.")
    elo_initial: float = Field(1200.0, description="Elo of a new player.")
    elo_k: float = Field(16.0, gt=0, description="Elo K-factor (points moved by one surprising result); "
                         "elo_method 'online' only.")
    elo_prior_games: float = Field(
        2.0, gt=0, description="Virtual draws per player against one rated elo_initial (elo_method 'fitted' "
        "only): they pin the scale and keep a player that won or lost every game finite.")
    anchor_games: int = Field(
        20, ge=0, description="Rated games each new snapshot plays against every scripted player when it "
        "is frozen (never trained on). Fixed players anchor the scale: without them, players that only "
        "ever meet one opponent (exploiter snapshots) drift on their own Elo island.")

    def book_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`league.ratings.RatingBook` (and ``compute_ratings``) for these settings.

        Example:
            >>> RatingsConfig(elo_method="online").book_kwargs()["elo_method"]
            'online'
        """
        return {"elo_initial": self.elo_initial, "elo_k": self.elo_k, "elo_method": self.elo_method,
                "elo_prior_games": self.elo_prior_games}


class EvaluationConfig(Section):
    """Evaluation games of main against scripted players (``opponent`` and the ``references``), never trained on."""

    opponent: str = Field("random", description="Scripted opponent: 'random', 'heuristic' or "
                          "'alphabeta-1' ... 'alphabeta-6'.")
    references: tuple[str, ...] | None = Field(
        None, description="Further scripted players main plays at every evaluation, after ``opponent`` (the same "
        "games, seats alternating, greedy unless ``explore``; one that is ``opponent`` is played once): the fixed "
        "references of its learning curve in `league status` and `league report`; unset: none (issue 19).")
    games: int = Field(200, ge=0, description="Games per evaluation, seats alternating.")
    every: int = Field(5, ge=1, description="Evaluate every N iterations (and always at the end).")
    explore: bool = Field(False, description="Sample moves (True) or play greedily (False).")
    exploitability_every: int = Field(
        0, ge=0, description="Every N iterations (and at the end) compute the exact exploitability of each "
        "trainable player and of the Nash mixture of the frozen snapshots (OpenSpiel games only; 0: never).")

    @field_validator("opponent")
    @classmethod
    def _known_opponent(cls, value: str) -> str:
        check_scripted_opponent(value)
        return value

    @field_validator("references")
    @classmethod
    def _known_references(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return check_scripted_names(value)

    @property
    def opponents(self) -> tuple[str, ...]:
        """Every scripted player main is evaluated against: ``opponent``, then each reference (once each)."""
        return tuple(dict.fromkeys((self.opponent, *(self.references or ()))))


class LedgerConfig(Section):
    """How League talks to the Redis ledger."""

    retry_timeout_s: float = Field(
        120.0, gt=0, description="How long one ledger call retries, with backoff, while Redis is unreachable "
        "before the run stops (it can then be resumed).")
    write_batch: int = Field(1000, ge=1, description="Match records per Redis write (one atomic script call).")
