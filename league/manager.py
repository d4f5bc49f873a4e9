"""The league manager: orchestration of one run, no math.

Each iteration (see ``docs/architecture.md``):
    1. matchmaking makes the iteration's :class:`~league.matchmaking.MatchPlan`
       and every env runner gets a policy mapping that reads it;
    2. RLlib samples and trains (only players in ``policies_to_train`` learn);
    3. the runners' match records are drained and written to the ledger;
    4. every ``snapshot_every`` iterations main is frozen with ``Algorithm.add_policy``;
    5. every ``evaluation.every`` iterations (and at the end) main plays evaluation
       games against a scripted player on a plain PettingZoo env;
    6. progress is written to the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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
from league.matchmaking import MatchPlan, self_play_plan
from league.rllib.actors import PolicyActor
from league.rllib.algorithm import add_frozen_copy, build_algorithm, drain_matches, install_mapping
from league.rllib.mapping import MatchMapping
from league.rllib.runtime import ensure_ray
from league.run_dir import RunInfo, new_run_id, prepare_run_dir
from league.types import PlayerId, PlayerRecord, Role

#: Policy id of the main player.
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
        league_time_s: Seconds of League's own bookkeeping (ledger, snapshots, mapping).
        evaluation_time_s: Seconds of evaluation games.
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


class LeagueManager:
    """Runs a self-play league: one trainable main player and its frozen snapshots.

    Args:
        config: The run's configuration.
        overwrite: Replace a run already in ``config.run_dir``.

    Example:
        >>> manager = LeagueManager(load_config(None, {"iterations": 2}))  # doctest: +SKIP
        >>> for report in manager.run(): print(report.iteration)            # doctest: +SKIP
    """

    def __init__(self, config: LeagueConfig, *, overwrite: bool = False) -> None:
        self.config = config
        self.run_dir = config.run_dir
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
            self.roster: list[PlayerRecord] = [PlayerRecord(MAIN, Role.MAIN)]
            self.ledger.save_player(self.roster[0])
            self.iteration = 0
            self.env_steps = 0
            self.total_episodes = 0
            self.algorithm = build_algorithm(
                config,
                env_name=envs.register_with_ray(config.game),
                trainable=[MAIN],
                observation_space=probe.observation_space,
                action_space=probe.action_space,
                mapping=MatchMapping(self._plan(1), self.seat_agents),
            )
        except BaseException:
            self._release()
            raise

    # -- queries -------------------------------------------------------------------

    @property
    def snapshots(self) -> list[PlayerId]:
        """Frozen snapshots on the roster, oldest first."""
        return [p.player_id for p in self.roster if p.role is Role.SNAPSHOT]

    @property
    def trainable(self) -> list[PlayerId]:
        """Players in ``policies_to_train``."""
        return [p.player_id for p in self.roster if p.trainable]

    def _plan(self, iteration: int) -> MatchPlan:
        return self_play_plan(
            MAIN, self.snapshots,
            self_play_fraction=self.config.matchmaking.self_play_fraction,
            seed=self.config.seed, iteration=iteration,
        )

    # -- actions -------------------------------------------------------------------

    def snapshot(self) -> PlayerRecord:
        """Freeze main's current weights as a new snapshot player."""
        player = PlayerRecord(PlayerId(f"{MAIN}_v{len(self.snapshots) + 1}"), Role.SNAPSHOT,
                              parent=MAIN, created_iteration=self.iteration)
        add_frozen_copy(self.algorithm, MAIN, player.player_id, self.trainable)
        self.roster.append(player)
        self.ledger.save_player(player)
        return player

    def evaluate(self, games: int | None = None, opponent: str | None = None) -> PairCounts:
        """Main (greedy unless ``evaluation.explore``) against a scripted player, seats alternating."""
        evaluation = self.config.evaluation
        opponent = opponent or evaluation.opponent
        rng = np.random.default_rng([self.config.seed, self.iteration, 1])
        main = PolicyActor(self.algorithm.get_policy(MAIN), explore=evaluation.explore, rng=rng)
        scripted = ScriptedActor(CHOOSERS[opponent][0], np.random.default_rng([self.config.seed, self.iteration, 2]))
        counts = head_to_head(self.config.game, main, scripted, games=games or evaluation.games,
                              seed=int(rng.integers(2**31)), env_config=self.config.env_config)
        self.ledger.add_evaluation(self.iteration, opponent, counts)
        return counts

    def step(self) -> IterationReport:
        """Run one league iteration."""
        start = time.perf_counter()
        iteration = self.iteration + 1
        install_mapping(self.algorithm, MatchMapping(self._plan(iteration), self.seat_agents), iteration)
        train_start = time.perf_counter()
        result = self.algorithm.train()
        train_time = time.perf_counter() - train_start
        self.iteration = iteration
        runners: dict[str, Any] = result["env_runners"]
        episodes = int(runners["num_episodes"])
        steps = int(result["num_env_steps_sampled_this_iter"])
        self.env_steps += steps
        self.total_episodes += episodes
        self.ledger.record(drain_matches(self.algorithm))
        if iteration % self.config.snapshots.snapshot_every == 0:
            self.snapshot()
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
        )

    def run(self, on_iteration: Callable[[IterationReport], None] | None = None) -> list[IterationReport]:
        """Run the remaining iterations up to ``config.iterations``."""
        reports = []
        while self.iteration < self.config.iterations:
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
