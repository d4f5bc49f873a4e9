"""The league manager: orchestration of one run, no math.

Each iteration (see ``docs/architecture.md``):
    1. the matchmaker gives every trainable player its opponent distribution
       from a read-only :class:`~league.matchmaking.LeagueView` (roster, ledger
       results, ratings); the resulting :class:`~league.matchmaking.MatchPlan`
       goes to every env runner with a policy mapping that reads it, and each
       trainable player's mirror gets its current weights;
    2. RLlib samples and trains (only players in ``policies_to_train`` learn, and
       each only from the matches chosen for it);
    3. the runners' match records are drained and written to the ledger; ratings
       are folded forward from the ledger and stored back in it;
    4. trainable players whose snapshot trigger fired are frozen with
       ``Algorithm.add_policy``; exploiters may be reset to their initial weights;
    5. every ``evaluation.every`` iterations (and at the end) main plays evaluation
       games against a scripted player on a plain PettingZoo env;
    6. progress is written to the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import ray

import envs
from agents.heuristics import CHOOSERS
from league.config import LeagueConfig
from league.evaluation import ScriptedActor, head_to_head
from league.ledger.base import PairCounts
from league.ledger.embedded import EmbeddedRedis
from league.ledger.redis_ledger import RedisLedger
from league.matchmaking import LeagueView, MatchPlan, PlayerView, load_matchmaker, make_plan
from league.payoff import Payoff
from league.ratings import Rating, RatingBook
from league.rllib.actors import PolicyActor
from league.rllib.algorithm import (add_frozen_copy, build_algorithm, drain_runners, initial_state,
                                    install_mapping, reset_player)
from league.rllib.mapping import MatchMapping
from league.rllib.runtime import ensure_ray
from league.roles import initial_roster, resets_after_snapshot, snapshot_due, snapshot_id
from league.run_dir import RunInfo, new_run_id, prepare_run_dir
from league.types import PlayerId, PlayerRecord, Role

#: Policy id of the (first) main player.
MAIN = PlayerId("main")


@dataclass(frozen=True)
class IterationReport:
    """What happened in one league iteration.

    Attributes:
        iteration: 1-based iteration number.
        env_steps: Env steps sampled since the run started.
        env_steps_per_s: Sampled env steps per second of this iteration's wall time.
        episodes: Episodes RLlib completed this iteration.
        total_episodes: Episodes RLlib completed since the run started.
        matches_recorded: Matches in the ledger.
        league_size: Players on the roster.
        snapshots: Frozen snapshots on the roster.
        evaluation: Main's results against the evaluation opponent, if evaluated.
        train_time_s: Seconds in ``Algorithm.train`` (sampling and learning).
        league_time_s: Seconds of League's own bookkeeping (ledger, ratings, snapshots, mapping).
        evaluation_time_s: Seconds of evaluation games.
        ratings: Every rated player's ratings after this iteration.
        agent_steps: Agent steps each policy sampled this iteration (mirrors under their own id).
        new_snapshots: Snapshots taken after this iteration.
        resets: Players reset to their initial weights after this iteration.
    """

    iteration: int
    env_steps: int
    env_steps_per_s: float
    episodes: int
    total_episodes: int
    matches_recorded: int
    league_size: int
    snapshots: int
    evaluation: PairCounts | None
    train_time_s: float
    league_time_s: float
    evaluation_time_s: float
    ratings: dict[PlayerId, Rating] = field(default_factory=dict)
    agent_steps: dict[str, int] = field(default_factory=dict)
    new_snapshots: tuple[PlayerId, ...] = ()
    resets: tuple[PlayerId, ...] = ()


class LeagueManager:
    """Runs a league: trainable players by role, their frozen snapshots and scripted players.

    Also available as ``league.League``.

    Args:
        config: The run's configuration.
        overwrite: Replace a run already in ``config.run_dir``.

    Example:
        >>> with League(load_config(None, {"iterations": 2})) as league:  # doctest: +SKIP
        ...     league.run()
        ...     print(league.ratings()["main"].elo)
    """

    def __init__(self, config: LeagueConfig, *, overwrite: bool = False) -> None:
        self.config = config
        self.run_dir = config.run_dir
        self.matchmaker = load_matchmaker(config.matchmaking.matchmaker, config.matchmaking)
        prepare_run_dir(self.run_dir, overwrite=overwrite)
        self._embedded = EmbeddedRedis(self.run_dir) if config.redis_url is None else None
        self._owns_ray = False
        try:
            url = config.redis_url or self._embedded.url  # type: ignore[union-attr]
            self.run_id = new_run_id()
            self.ledger = RedisLedger(url, self.run_id)
            RunInfo(self.run_id, config.game, config.redis_url, time.time(),
                    config.model_dump(mode="json")).write(self.run_dir)
            self._owns_ray = ensure_ray(config.resources.num_cpus)
            probe = envs.make(config.game, **config.env_config)
            self.seat_agents: tuple[str, ...] = tuple(probe.possible_agents)
            probe.close()
            self.roster: list[PlayerRecord] = initial_roster(config)
            for player in self.roster:
                self.ledger.save_player(player)
            self._generation_start = {p.player_id: 0 for p in self.roster if p.trainable}
            self._ratings = RatingBook(elo_initial=config.ratings.elo_initial, elo_k=config.ratings.elo_k)
            self._rated = 0
            self.iteration = 0
            self.env_steps = 0
            self.total_episodes = 0
            self.plan = self._make_plan(1)
            self.algorithm = build_algorithm(
                config,
                env_name=envs.register_with_ray(config.game),
                trainable=self.trainable,
                scripted=[p.player_id for p in self.roster if p.role is Role.SCRIPTED],
                observation_space=probe.observation_space,
                action_space=probe.action_space,
                mapping=self._mapping(self.plan),
            )
            self._initial_states = {pid: initial_state(self.algorithm, pid) for pid in self.trainable}
        except BaseException:
            self._release()
            raise

    # -- queries -------------------------------------------------------------------

    @property
    def players(self) -> list[PlayerRecord]:
        """Every member of the league, in the order they joined."""
        return list(self.roster)

    @property
    def snapshots(self) -> list[PlayerId]:
        """Frozen snapshots on the roster, oldest first."""
        return [p.player_id for p in self.roster if p.role is Role.SNAPSHOT]

    @property
    def trainable(self) -> list[PlayerId]:
        """Players in ``policies_to_train``."""
        return [p.player_id for p in self.roster if p.trainable]

    def ratings(self) -> dict[PlayerId, Rating]:
        """Every rated player's Elo and OpenSkill ratings (as stored in the ledger)."""
        return self.ledger.ratings()[0]

    def payoff(self) -> Payoff:
        """The payoff matrix (win/draw/loss per ordered pair), read from the ledger."""
        return Payoff(tuple(p.player_id for p in self.roster), self.ledger.payoff_counts())

    def view(self, iteration: int) -> LeagueView:
        """The read-only league view matchmaking sees before ``iteration`` is played.

        Each trainable player's results cover its current generation: the
        iterations after its last snapshot or reset, up to ``iteration - 1``.
        """
        results: dict[tuple[PlayerId, PlayerId], PairCounts] = {}
        for pid, start in self._generation_start.items():
            results.update(self.ledger.window_counts([pid], start + 1, iteration - 1))
        players = tuple(
            PlayerView(p.player_id, p.role, p.parent, p.created_iteration,
                       self._generation_start.get(p.player_id, p.created_iteration))
            for p in self.roster
        )
        return LeagueView(iteration, players, results, self._ratings.ratings(),
                          self.config.matchmaking.pfsp_prior_games)

    def _make_plan(self, iteration: int) -> MatchPlan:
        return make_plan(self.matchmaker, self.view(iteration), num_seats=len(self.seat_agents),
                         seed=self.config.seed)

    def _mapping(self, plan: MatchPlan) -> MatchMapping:
        return MatchMapping(plan, self.seat_agents, set(self.trainable),
                            self_play_learns_both_seats=self.config.matchmaking.self_play_learns_both_seats)

    # -- actions -------------------------------------------------------------------

    def snapshot(self, player: PlayerId = MAIN) -> PlayerRecord:
        """Freeze ``player``'s current weights as a new snapshot player."""
        version = sum(1 for p in self.roster if p.role is Role.SNAPSHOT and p.parent == player) + 1
        record = PlayerRecord(snapshot_id(player, version), Role.SNAPSHOT,
                              parent=player, created_iteration=self.iteration)
        add_frozen_copy(self.algorithm, player, record.player_id, self.trainable)
        self.roster.append(record)
        self.ledger.save_player(record)
        self._generation_start[player] = self.iteration
        return record

    def reset(self, player: PlayerId) -> None:
        """Put a trainable player back to its initial weights and optimizer state."""
        reset_player(self.algorithm, player, self._initial_states[player])
        self._generation_start[player] = self.iteration

    def update_ratings(self) -> dict[PlayerId, Rating]:
        """Fold the ledger's unrated matches into the ratings and store them back, with the cursor."""
        new = 0
        for match in self.ledger.iter_matches(start=self._rated):
            self._ratings.update(match)
            new += 1
        self._rated += new
        ratings = self._ratings.ratings()
        self.ledger.save_ratings(ratings, self._rated)
        return ratings

    def evaluate(self, games: int | None = None, opponent: str | None = None,
                 player: PlayerId = MAIN) -> PairCounts:
        """``player`` (greedy unless ``evaluation.explore``) against a scripted player, seats alternating."""
        evaluation = self.config.evaluation
        opponent = opponent or evaluation.opponent
        rng = np.random.default_rng([self.config.seed, self.iteration, 1])
        actor = PolicyActor(self.algorithm.get_policy(player), explore=evaluation.explore, rng=rng)
        scripted = ScriptedActor(CHOOSERS[opponent][0], np.random.default_rng([self.config.seed, self.iteration, 2]))
        counts = head_to_head(self.config.game, actor, scripted, games=games or evaluation.games,
                              seed=int(rng.integers(2**31)), env_config=self.config.env_config)
        if player == MAIN:
            self.ledger.add_evaluation(self.iteration, opponent, counts)
        return counts

    def _freeze_and_reset(self, iteration: int) -> tuple[list[PlayerId], list[PlayerId]]:
        """Apply the snapshot triggers and reset rules after ``iteration``."""
        view = self.view(iteration + 1)
        frozen, reset = [], []
        rules = self.config.matchmaking.role_rules
        for index, learner in enumerate(p for p in view.players if p.trainable):
            distribution = self.plan.for_learner(learner.player_id).opponents
            if not snapshot_due(learner, view, distribution, self.config.snapshots, iteration):
                continue
            frozen.append(self.snapshot(learner.player_id).player_id)
            rng = np.random.default_rng([self.config.seed, iteration, index, 3])
            if resets_after_snapshot(rules(learner.role).reset_probability, rng):
                self.reset(learner.player_id)
                reset.append(learner.player_id)
        return frozen, reset

    def step(self) -> IterationReport:
        """Run one league iteration."""
        start = time.perf_counter()
        iteration = self.iteration + 1
        if self.plan.iteration != iteration:
            self.plan = self._make_plan(iteration)
        install_mapping(self.algorithm, self._mapping(self.plan), iteration)
        train_start = time.perf_counter()
        result = self.algorithm.train()
        train_time = time.perf_counter() - train_start
        self.iteration = iteration
        runners: dict[str, Any] = result["env_runners"]
        episodes = int(runners["num_episodes"])
        steps = int(result["num_env_steps_sampled_this_iter"])
        self.env_steps += steps
        self.total_episodes += episodes
        output = drain_runners(self.algorithm)
        self.ledger.record(output.matches)
        ratings = self.update_ratings()
        new_snapshots, resets = self._freeze_and_reset(iteration)
        evaluation, evaluation_time = None, 0.0
        if self.config.evaluation.games and (
            iteration % self.config.evaluation.every == 0 or iteration == self.config.iterations
        ):
            eval_start = time.perf_counter()
            evaluation = self.evaluate()
            evaluation_time = time.perf_counter() - eval_start
        self.ledger.set_progress(iteration=iteration, env_steps=self.env_steps, episodes=self.total_episodes)
        elapsed = time.perf_counter() - start
        return IterationReport(
            iteration=iteration,
            env_steps=self.env_steps,
            env_steps_per_s=steps / max(train_time, 1e-9),
            episodes=episodes,
            total_episodes=self.total_episodes,
            matches_recorded=self.ledger.match_count(),
            league_size=len(self.roster),
            snapshots=len(self.snapshots),
            evaluation=evaluation,
            train_time_s=train_time,
            league_time_s=elapsed - train_time - evaluation_time,
            evaluation_time_s=evaluation_time,
            ratings=ratings,
            agent_steps=dict(output.agent_steps),
            new_snapshots=tuple(new_snapshots),
            resets=tuple(resets),
        )

    def run(self, iterations: int | None = None, *,
            on_iteration: Callable[[IterationReport], None] | None = None) -> list[IterationReport]:
        """Run ``iterations`` more iterations (default: up to ``config.iterations``)."""
        target = self.config.iterations if iterations is None else self.iteration + iterations
        reports = []
        while self.iteration < target:
            report = self.step()
            reports.append(report)
            if on_iteration is not None:
                on_iteration(report)
        return reports

    # -- lifetime ------------------------------------------------------------------

    def _release(self) -> None:
        algorithm = getattr(self, "algorithm", None)
        if algorithm is not None:
            algorithm.stop()
            self.algorithm = None
        ledger = getattr(self, "ledger", None)
        if ledger is not None:
            ledger.close()
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False

    def close(self) -> None:
        """Stop the Algorithm, the embedded Redis and a Ray runtime this manager started."""
        self._release()

    def __enter__(self) -> LeagueManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The Python API's name for a league run (``from league import League``).
League = LeagueManager
