"""League configuration: a tree of small frozen pydantic models, loaded from TOML.

Precedence: built-in defaults < TOML file < CLI flags. Every bad value becomes a
:class:`~league.errors.ConfigError` whose message names the field, the value
and what was expected.

Example:
    >>> cfg = load_config(None, {"game": "tictactoe", "iterations": 3})
    >>> cfg.iterations, cfg.training.train_batch_size
    (3, 12000)
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from league.errors import ConfigError, UnknownGameError, UsageError
from league.redact import redact_url
from league.types import PfspWeighting, Role

if TYPE_CHECKING:
    from league.recipes import Recipe


#: Validation context key: the config is a stored run's (``run.json``), read by ``league status``, ``report``,
#: ``prune`` and the like. The checks that depend on this Python rather than on the values (an installed
#: framework, the game's registry entry or module, its observation shape, its OpenSpiel tree) were made when
#: the run started and are made again when it resumes (a fresh validation), so a stored config skips them:
#: reading a run imports neither its game nor its framework (issue 21).
STORED_RUN = "stored_run"


def _stored_run(info: ValidationInfo) -> bool:
    """Whether this validation reads a stored run's config (see :data:`STORED_RUN`)."""
    return bool((info.context or {}).get(STORED_RUN))


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: League's values of PPO's settings that ``[training]`` leaves unset (tuned on Connect Four, docs/benchmarks.md;
#: the KL penalty's are RLlib's defaults). APPO and IMPALA keep RLlib's own defaults for the ones they have.
PPO_DEFAULTS: dict[str, Any] = {"minibatch_size": 256, "num_epochs": 8, "lambda_": 0.95, "clip_param": 0.2,
                                "kl_coeff": 0.2, "kl_target": 0.01}

#: Which of the algorithm-specific ``[training]`` fields each algorithm has, and why the others have no meaning.
ALGORITHM_FIELDS: dict[str, frozenset[str]] = {
    "PPO": frozenset(PPO_DEFAULTS),
    "APPO": frozenset({"num_epochs", "clip_param", "kl_coeff", "kl_target"}),
    "IMPALA": frozenset({"num_epochs"}),
}
_WHY_NOT = {
    "minibatch_size": "RLlib's old-stack {algorithm} learner updates on whole train batches",
    "lambda_": "{algorithm} estimates returns with V-trace, which has no GAE lambda",
    "clip_param": "{algorithm} has no PPO surrogate clip (APPO has)",
    "kl_coeff": "{algorithm} has no KL penalty (PPO and APPO have)",
    "kl_target": "{algorithm} has no KL penalty (PPO and APPO have)",
}

#: ``[training.rllib]`` keys League sets itself, with the field to use instead.
LEAGUE_OWNED_RLLIB_KEYS: dict[str, str] = {
    **{name: f"training.{name}" for name in (
        "train_batch_size", "lr", "gamma", "entropy_coeff", "vf_loss_coeff", *PPO_DEFAULTS)},
    "train_batch_size_per_learner": "training.train_batch_size",
    "model": "training.model, training.hiddens, training.activation, training.conv_channels and "
             "training.conv_blocks (League's action-masking models)",
}


class TrainingConfig(_Section):
    """Settings of the trainable players' RL algorithm (PPO, APPO or IMPALA; RLlib old API stack)."""

    algorithm: Literal["PPO", "APPO", "IMPALA"] = Field(
        "PPO", description="RLlib algorithm that trains the players: 'PPO', 'APPO' (asynchronous PPO with V-trace "
        "and a target network) or 'IMPALA' (V-trace actor-critic), each on RLlib's old API stack.")
    train_batch_size: int = Field(
        12000, ge=64, description="Env steps per update, shared by every trainable player's matches (12000: "
        "about 4000 per player in the default three-role league; docs/benchmarks.md).")
    minibatch_size: int | None = Field(
        None, ge=8, description="SGD minibatch size (PPO only; unset: 256).")
    num_epochs: int | None = Field(
        None, ge=1, description="Passes over each train batch (unset: 8 for PPO, RLlib's 1 for APPO and IMPALA).")
    lr: float = Field(5e-4, gt=0, lt=1, description="Adam learning rate.")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor.")
    lambda_: float | None = Field(None, ge=0, le=1, description="GAE lambda (PPO only; unset: 0.95).")
    clip_param: float | None = Field(
        None, gt=0, description="Surrogate clip range (PPO and APPO; unset: 0.2 for PPO, RLlib's 0.4 for APPO).")
    entropy_coeff: float = Field(0.01, ge=0, description="Entropy bonus weight.")
    vf_loss_coeff: float = Field(0.5, ge=0, description="Value loss weight.")
    kl_coeff: float | None = Field(
        None, ge=0, description="Initial weight of the adaptive KL penalty (PPO and APPO, where it needs "
        "training.rllib.use_kl_loss = true; unset: RLlib's defaults, 0.2 for PPO and 1.0 for APPO).")
    kl_target: float | None = Field(
        None, gt=0, description="KL divergence per update the penalty steers to (PPO and APPO; unset: 0.01).")
    rllib: dict[str, Any] = Field(
        default_factory=dict, description="Further keyword arguments of the algorithm config's training() "
        "(RLlib's names, e.g. grad_clip, lr_schedule, vf_clip_param); each is checked against the chosen "
        "algorithm's settings before the run starts.")
    model: Literal["mlp", "conv"] = Field(
        "mlp", description="The players' network: 'mlp' (policy and value MLPs over the flattened observation; "
        "hiddens, activation) or 'conv' (a residual convolutional tower over a Box(H, W, C) board such as "
        "Connect Four's 6x7x2, with a policy and a value head; conv_channels, conv_blocks). Both mask illegal "
        "actions (agents.models).")
    hiddens: tuple[int, ...] = Field((256, 256), min_length=1, description="MLP layer widths (model 'mlp').")
    activation: Literal["tanh", "relu"] = Field(
        "tanh", description="Activation of the MLP's hidden layers: 'tanh' or 'relu' (docs/benchmarks.md "
        "compares them on Connect Four; model 'mlp').")
    conv_channels: int = Field(
        64, ge=1, le=1024, description="Channels of every 3x3 convolution of the conv tower (model 'conv').")
    conv_blocks: int = Field(
        2, ge=0, le=32, description="Residual blocks (two 3x3 convolutions and a skip each) after the conv "
        "model's stem convolution (model 'conv').")
    framework: Literal["torch", "tf2"] = Field(
        "torch", description="Deep-learning framework of the trainable players: 'torch', or 'tf2' (RLlib's "
        "eager TF2 policies; needs the tf extra: pip install 'league[tf]'). Snapshots and exports hold the "
        "same weights layout either way.")

    @field_validator("framework")
    @classmethod
    def _framework_installed(cls, value: str, info: ValidationInfo) -> str:
        if value == "tf2" and not _stored_run(info):  # `league status` reads a tf2 run without TensorFlow
            # find_spec, not import: importing TensorFlow takes seconds, and validating a config should not.
            missing = [name for name, module in (("tensorflow", "tensorflow"), ("tf-keras", "tf_keras"))
                       if importlib.util.find_spec(module) is None]
            if missing:
                raise ValueError(f"'tf2' needs {' and '.join(missing)}, which this Python cannot import: "
                                 "pip install 'league[tf]'")
        return value

    @model_validator(mode="after")
    def _minibatch_fits_the_batch(self) -> "TrainingConfig":
        # RLlib's PPO refuses this only when the Algorithm is built, after the run folder exists.
        minibatch = self.minibatch_size if self.minibatch_size is not None else PPO_DEFAULTS["minibatch_size"]
        if self.algorithm == "PPO" and minibatch > self.train_batch_size:
            raise ValueError(f"minibatch_size={minibatch} is larger than train_batch_size="
                             f"{self.train_batch_size}: expected training.minibatch_size <= "
                             "training.train_batch_size (each PPO epoch splits the train batch into minibatches)")
        return self

    def custom_model_config(self) -> dict[str, Any]:
        """The ``custom_model_config`` of League's action-masking model for these settings.

        The MLP's names no model kind (as snapshots from before the conv model did);
        :func:`agents.models.model_config_for` reads ``model`` to pick the class.

        Example:
            >>> TrainingConfig(hiddens=(64,)).custom_model_config()
            {'hiddens': [64], 'activation': 'tanh'}
            >>> TrainingConfig(model="conv").custom_model_config()
            {'model': 'conv', 'conv_channels': 64, 'conv_blocks': 2}
        """
        if self.model == "conv":
            return {"model": "conv", "conv_channels": self.conv_channels, "conv_blocks": self.conv_blocks}
        return {"hiddens": list(self.hiddens), "activation": self.activation}

    @model_validator(mode="after")
    def _fields_the_algorithm_has(self) -> "TrainingConfig":
        problems = []
        for name in sorted(set(PPO_DEFAULTS) - ALGORITHM_FIELDS[self.algorithm]):
            value = getattr(self, name)
            if value is not None:
                why = _WHY_NOT[name].format(algorithm=self.algorithm)
                problems.append(f"{name}={value!r} is not a setting of {self.algorithm} ({why}): remove it")
        for key in sorted(self.rllib):
            if key in LEAGUE_OWNED_RLLIB_KEYS:
                problems.append(f"rllib.{key}: League sets it from {LEAGUE_OWNED_RLLIB_KEYS[key]}; set that instead")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def algorithm_training_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of RLlib's ``AlgorithmConfig.training()`` these settings ask for (no ``model``).

        Settings the algorithm shares with every other are always passed; PPO's
        own ones unset here are League's :data:`PPO_DEFAULTS` for PPO and left
        to RLlib's defaults for APPO and IMPALA; ``rllib`` comes last.

        Example:
            >>> TrainingConfig(minibatch_size=64).algorithm_training_kwargs()["minibatch_size"]
            64
            >>> "num_epochs" in TrainingConfig(algorithm="IMPALA").algorithm_training_kwargs()
            False
        """
        kwargs: dict[str, Any] = {"train_batch_size": self.train_batch_size, "lr": self.lr, "gamma": self.gamma,
                                  "entropy_coeff": self.entropy_coeff, "vf_loss_coeff": self.vf_loss_coeff}
        for name in sorted(ALGORITHM_FIELDS[self.algorithm]):
            value = getattr(self, name)
            if value is None and self.algorithm == "PPO":
                value = PPO_DEFAULTS[name]
            if value is not None:
                kwargs[name] = value
        return {**kwargs, **self.rllib}


#: Sub-envs per runner when ``resources.num_envs_per_env_runner`` is unset, per sampler: League's batched
#: sampler reaches 68% of Connect Four's raw env steps/s at 256 (48% at 128); RLlib's gains little past 32.
SAMPLER_ENVS: dict[str, int] = {"league": 256, "rllib": 32}


class ResourcesConfig(_Section):
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


def _scripted_names(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``value`` if every name is a known scripted player, each once (roster.scripted, evaluation.references)."""
    from agents.heuristics import CHOOSERS

    if value is not None:
        unknown = [name for name in value if name not in CHOOSERS]
        if unknown:
            raise ValueError(f"unknown scripted players {unknown}: expected some of {sorted(CHOOSERS)}")
        if len(set(value)) != len(value):
            raise ValueError("each scripted player may appear once")
    return value


class RosterConfig(_Section):
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
        return _scripted_names(value)


class SnapshotConfig(_Section):
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


class _RoleRules(_Section):
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
    def _shares_sum_to_one(self) -> "MainRules":
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


class MatchmakingConfig(_Section):
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
        sections = {Role.MAIN: self.main, Role.MAIN_EXPLOITER: self.main_exploiter,
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


class RatingsConfig(_Section):
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


class EvaluationConfig(_Section):
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
        from agents.heuristics import CHOOSERS

        if value not in CHOOSERS:
            raise ValueError(f"expected one of {sorted(CHOOSERS)}")
        return value

    @field_validator("references")
    @classmethod
    def _known_references(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _scripted_names(value)

    @property
    def opponents(self) -> tuple[str, ...]:
        """Every scripted player main is evaluated against: ``opponent``, then each reference (once each)."""
        return tuple(dict.fromkeys((self.opponent, *(self.references or ()))))


class LedgerConfig(_Section):
    """How League talks to the Redis ledger."""

    retry_timeout_s: float = Field(
        120.0, gt=0, description="How long one ledger call retries, with backoff, while Redis is unreachable "
        "before the run stops (it can then be resumed).")
    write_batch: int = Field(1000, ge=1, description="Match records per Redis write (one atomic script call).")


class LeagueConfig(_Section):
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
        if _stored_run(info):
            return value  # a stored run's own game: `league status` and the like need not import it
        import envs

        try:
            envs.get_spec(value)
        except UnknownGameError as e:
            raise ValueError(str(e)) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _minutes_alone_lift_the_iteration_limit(cls, data: Any) -> Any:
        # `league run --minutes 30` means thirty minutes, not the default 30 iterations (issue 19).
        if isinstance(data, Mapping) and data.get("minutes") is not None and "iterations" not in data:
            return {**data, "iterations": None}
        return data

    @model_validator(mode="after")
    def _a_run_has_a_limit(self) -> "LeagueConfig":
        if self.iterations is None and self.minutes is None:
            raise ValueError("iterations: None runs without an iteration limit and needs minutes "
                             "(a time budget)")
        return self

    @model_validator(mode="after")
    def _scripted_players_fit_the_game(self, info: ValidationInfo) -> "LeagueConfig":
        from agents.heuristics import CHOOSERS

        named = (("roster.scripted", self.roster.scripted or ()), ("evaluation.opponent", (self.evaluation.opponent,)),
                 ("evaluation.references", self.evaluation.references or ()))
        for field_name, names in named:
            for name in names:
                games = CHOOSERS[name][1]
                if games is not None and self.game not in games:
                    raise ValueError(f"{field_name}: {name!r} plays only {sorted(games)}, not {self.game!r}")
        if self.matchmaking.matchmaker is None and self.matchmaking.main.scripted > 0 and not self.scripted_players:
            raise ValueError(f"matchmaking.main.scripted: {self.matchmaking.main.scripted:g} of main's matches go "
                             "to scripted players, but the league has none (roster.scripted)")
        if self.evaluation.exploitability_every and not _stored_run(info):  # walks the game's whole tree
            from league.exploitability import openspiel_game

            try:
                openspiel_game(self.game)
            except UsageError as e:
                raise ValueError(f"evaluation.exploitability_every: {e}; set it to 0") from None
        return self

    @model_validator(mode="after")
    def _conv_model_needs_a_board(self, info: ValidationInfo) -> "LeagueConfig":
        if self.training.model != "conv" or _stored_run(info):
            return self  # a stored run's game was checked when the run started
        import envs

        try:
            env = envs.make(self.game, **self.env_config)
        except Exception as e:  # each game's constructor raises its own errors for a bad env_config
            raise ValueError(f"training.model: 'conv' needs {self.game!r}'s observation shape, but the game does "
                             f"not build with env_config {self.env_config!r} ({type(e).__name__}: {e})") from None
        shape = tuple(env.observation_space["observation"].shape)
        env.close()
        if len(shape) != 3:
            raise ValueError(f"training.model: 'conv' needs a grid observation Box(H, W, C), but {self.game!r} "
                             f"observes shape {shape}; use model 'mlp'")
        return self

    @property
    def snapshot_uri(self) -> str:
        """Where snapshots are stored: ``snapshots.uri``, or ``<run_dir>/snapshots``."""
        return self.snapshots.uri or str(self.run_dir / "snapshots")

    @property
    def scripted_players(self) -> tuple[str, ...]:
        """Scripted players seeded into the league (explicit list, or every one the game supports but opt-in ones)."""
        from agents.heuristics import CHOOSERS, OPT_IN

        if self.roster.scripted is not None:
            return self.roster.scripted
        return tuple(name for name, (_, games) in CHOOSERS.items()
                     if name not in OPT_IN and (games is None or self.game in games))

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a URL starting with redis://, rediss:// or unix://")
        return value


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the non-table values in ``tree``."""
    paths: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            paths.extend(_leaves(value, (*prefix, key)))
        else:
            paths.append((*prefix, key))
    return paths


def _sources(loc: tuple[Any, ...], overrides: Mapping[str, Any], base: Mapping[str, Any], base_source: str,
             flags: Mapping[str, str] | None) -> list[str]:
    """Where the value an error is about came from: the flags that set it, else ``base_source`` (the file).

    A value set by a flag is blamed on the flag (``--iterations``), never on
    the file; an error about a whole table (a cross-field check) names every
    flag that set something in it, and the file if the file has the table.
    """
    def flag(path: tuple[str, ...]) -> str:
        dotted = ".".join(path)
        if flags is None:
            return "command line"
        return flags.get(dotted) or f"--{path[-1].replace('_', '-')}"

    path = tuple(str(p) for p in loc)
    node: Any = overrides
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping) or key not in node:
            node = None
            break
        node = node[key]
        if not isinstance(node, Mapping):
            return [flag(path[:depth + 1])]
    named = [flag((*path, *leaf)) for leaf in _leaves(node)] if isinstance(node, Mapping) else []
    in_base: Any = base
    for key in path:
        in_base = in_base.get(key) if isinstance(in_base, Mapping) else None
    if in_base is not None or not named:
        named.insert(0, base_source)
    return list(dict.fromkeys(named))


def _format_errors(error: ValidationError, base_source: str, *, overrides: Mapping[str, Any] | None = None,
                   base: Mapping[str, Any] | None = None, flags: Mapping[str, str] | None = None) -> str:
    groups: dict[str, list[str]] = {}
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "<root>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        value = item.get("input")
        if field == "redis_url" and isinstance(value, str):
            value = redact_url(value)  # a password is never printed
        got = "" if isinstance(value, dict) else f" (got {value!r})"
        source = ", ".join(_sources(tuple(item["loc"]), overrides or {}, base or {}, base_source, flags))
        groups.setdefault(source, []).append(f"{field}: {message}{got}")
    return "; ".join(f"invalid config ({source}): " + "; ".join(parts) for source, parts in groups.items())


def validate_config(base: Mapping[str, Any], overrides: Mapping[str, Any] | None = None, *,
                    base_source: str = "defaults", flags: Mapping[str, str] | None = None) -> LeagueConfig:
    """A :class:`LeagueConfig` from ``base`` (a TOML file's or ``run.json``'s values) with ``overrides`` over it.

    Args:
        base: Values from the file (or a stored config).
        overrides: Values that win over ``base`` (CLI flags); nested sections as
            nested mappings. ``None`` values are ignored.
        base_source: What ``base`` is, for error messages (the file's path).
        flags: The flag that set each override, by dotted field name
            (``{"snapshots.uri": "--snapshot-uri"}``); a field not listed is
            named ``--<field-name>``. Unset: errors blame the "command line".

    Raises:
        ConfigError: naming every invalid field, and where its value came from: the flag
            that set it, or ``base_source``.
    """
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return LeagueConfig.model_validate(deep_merge(dict(base), clean))
    except ValidationError as e:
        raise ConfigError(_format_errors(e, base_source, overrides=clean, base=base, flags=flags)) from None


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it; nested tables merge key by key (neither is changed).

    Example:
        >>> deep_merge({"training": {"lr": 0.1, "gamma": 0.9}}, {"training": {"lr": 0.2}})
        {'training': {'lr': 0.2, 'gamma': 0.9}}
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
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


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None, *,
                flags: Mapping[str, str] | None = None, recipe: bool = False) -> LeagueConfig:
    """Build a :class:`LeagueConfig` from an optional TOML file and overrides.

    Args:
        path: TOML file, or None for defaults only.
        overrides: Values that win over the file (CLI flags); nested sections
            as nested mappings. ``None`` values are ignored.
        flags: The CLI flag behind each override, by dotted field name (see
            :func:`validate_config`), so an error blames the flag, not the file.
        recipe: Lay the game's recipe (:mod:`league.recipes`) under the file and
            the overrides, field by field, as ``league run`` does; off: League's
            plain defaults under them.

    Raises:
        ConfigError: naming every invalid field and where its value came from.

    Example:
        >>> load_config(None, {"game": "connect_four"}).matchmaking.main.scripted
        0.0
        >>> load_config(None, {"game": "connect_four"}, recipe=True).matchmaking.main.scripted > 0
        True
    """
    data = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "command line"
    if recipe:
        found = recipe_for_config(data, overrides)
        if found is not None:
            data = deep_merge(found.tree(), data)
            source = f"{source} over the {found.name} recipe"
    return validate_config(data, overrides, base_source=source, flags=flags)


def recipe_for_config(data: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> "Recipe | None":
    """The recipe of the game a TOML file's ``data`` and its ``overrides`` name (the default game if neither).

    Example:
        >>> recipe_for_config({}, {"game": "tictactoe"}) is None
        True
        >>> recipe_for_config({"game": "connect_four"}).name
        'connect_four'
    """
    from league.recipes import recipe_for

    game = (overrides or {}).get("game") or data.get("game") or LeagueConfig.model_fields["game"].default
    return recipe_for(game) if isinstance(game, str) else None
