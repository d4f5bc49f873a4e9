"""The league loop: one run's iterations, each a sequence of named steps (``docs/architecture.md``).

:meth:`LeagueManager.step` plays one iteration, in this order:

1. **plan**: the matchmaker gives every trainable player its opponent distribution
   from a read-only :class:`~league.matchmaking.LeagueView` (roster, ledger results,
   ratings);
2. **residents**: at most ``max_resident_opponents`` frozen players are made resident
   for the plan, restored from the snapshot store (:mod:`league.residents`);
3. **train**: the plan goes to every sampler and the trainer samples and learns
   (:mod:`league.trainer`; RLlib in :mod:`league.rllib.trainer`);
4. **drain and record**: the samplers' match records reach the ledger, once
   (:mod:`league.recording`);
5. **rate**: the ratings fold in the new matches (:class:`~league.recording.Rater`);
6. **snapshot and anchor**: triggered learners are frozen, their snapshots play anchor
   games against the scripted players, exploiters may be reset, retention prunes
   (:mod:`league.freezing`);
7. **evaluate**: every ``evaluation.every`` iterations main plays the scripted
   references, and OpenSpiel games measure exploitability (:mod:`league.evaluating`);
8. **commit**: progress goes to the ledger, and every ``checkpoint_every`` iterations
   a checkpoint commits the league (:mod:`league.committing`).

Opening a run (lock, ``run.json``, ledger, stores) is :mod:`league.opening`; a
resume first rolls the ledger, roster and store back to the last checkpoint
(:mod:`league.rollback`), so the iterations after it are played again and count once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from league.budget import StopReason, TimeBudget, stop_reason
from league.checkpoint import CommittedIteration
from league.committing import commit, write_progress
from league.config import LeagueConfig
from league.errors import ConfigError, LeagueError, UsageError
from league.evaluating import Evaluator
from league.exploitability import LeagueMeasure
from league.faults import set_iteration
from league.freezing import Freezer
from league.iteration import MAIN, IterationReport  # re-exported: `from league.manager import MAIN` still works
from league.matchmaking import LeagueView, MatchPlan, load_matchmaker, make_plan
from league.opening import OpenRun, check_cluster_services, open_run, open_standing, release_all, resumed_config
from league.opponents import add_exported_opponent
from league.payoff import Payoff
from league.planning import league_view
from league.ratings import Rating
from league.recording import drain_and_record
from league.reporting import IterationParts, Trained, build_report
from league.residents import Prepared, Residents
from league.snapshots import SnapshotInfo
from league.tensorboard import TensorBoardLog
from league.trainer import LedgerSpec, Trainer
from league.types import PairCounts, PlayerId, PlayerRecord, Role

_log = logging.getLogger(__name__)

#: Builds a run's trainer: ``(config, trainable=, seat_agents=, observation_space=, action_space=, plan=,
#: ledger=)``; the default is :class:`league.rllib.trainer.RLlibTrainer`.
TrainerFactory = Callable[..., Trainer]


class LeagueManager:
    """Runs a league: trainable players by role, their frozen snapshots and scripted players.

    Also available as ``league.League``.

    Args:
        config: The run's configuration.
        overwrite: Replace a run already in ``config.run_dir``.
        resume: Continue the run in ``config.run_dir`` from its last checkpoint (:meth:`resume`).
        trainer: Builds the trainer (default: Ray RLlib); tests pass a fake one.

    Example:
        >>> with League(load_config(None, {"iterations": 2})) as league:  # doctest: +SKIP
        ...     league.run()
        ...     print(league.ratings()["main"].elo)
    """

    def __init__(self, config: LeagueConfig, *, overwrite: bool = False, resume: bool = False,
                 trainer: TrainerFactory | None = None) -> None:
        if overwrite and resume:
            raise UsageError("--resume continues the run in --run-dir and --overwrite replaces it: pass one of them")
        self.matchmaker = load_matchmaker(config.matchmaking.matchmaker, config.matchmaking)
        if self.matchmaker.needs_meta_nash and not config.evaluation.exploitability_every:
            raise ConfigError(f"matchmaking.matchmaker: {config.matchmaking.matchmaker!r} plays the meta-game Nash "
                              "of the snapshots, which only the exploitability measure computes: set "
                              "evaluation.exploitability_every (1: every iteration) on an OpenSpiel game")
        if trainer is None:
            from league.rllib.algorithm import check_training
            from league.rllib.trainer import RLlibTrainer

            check_training(config.training)  # [training.rllib] against the algorithm's own settings, before any file
            trainer = RLlibTrainer
        self._mid_iteration = False
        self._budget: TimeBudget | None = None  # the time budget of the run() in progress
        self.stop_reason: StopReason | None = None
        self.trainer: Trainer | None = None
        self._tensorboard: TensorBoardLog | None = None
        opened = open_run(config, overwrite=overwrite, resume=resume)
        self._opened, self.config, self.run_dir, self.run_id = opened, opened.config, config.run_dir, opened.run_id
        self.ledger, self.store, self.players_store = opened.ledger, opened.store, opened.players_store
        self._embedded = opened.embedded
        self.seat_agents = opened.seat_agents
        self.observation_space, self.action_space = opened.observation_space, opened.action_space
        try:
            self._open_league(opened, resumed=resume, trainer=trainer)
        except BaseException:
            self._release()
            raise

    def _open_league(self, opened: OpenRun, *, resumed: bool, trainer: TrainerFactory) -> None:
        """Set the league's state from the checkpoint (rolling back to it), then build the trainer."""
        checkpoint = opened.checkpoint
        state = checkpoint.state if checkpoint is not None else None
        self.standing, self.rater = open_standing(self.config, self.run_id, self.ledger, self.store, state,
                                                  resumed=resumed)
        self.plan = self._make_plan(self.iteration + 1)
        config = self.config
        self.trainer = trainer(config, trainable=self.trainable, seat_agents=self.seat_agents,
                               observation_space=self.observation_space, action_space=self.action_space,
                               plan=self.plan, ledger=LedgerSpec(opened.url, self.run_id, config.ledger.retry_timeout_s,
                                                                 config.ledger.write_batch))
        check_cluster_services(self._trainer().remote_runner_nodes(), embedded=self._embedded is not None,
                               ledger_url=opened.url, snapshot_uri=config.snapshot_uri)
        self.residents = Residents(config.snapshots.max_resident_opponents, self.trainer, self.store, self.ledger,
                                   observation_space=self.observation_space, action_space=self.action_space,
                                   game=config.game)
        self.freezer = Freezer(config, self.run_id, trainer=self.trainer, store=self.store,
                               players_store=self.players_store, ledger=self.ledger, residents=self.residents,
                               observation_space=self.observation_space, action_space=self.action_space,
                               ratings=self.rater.ratings, num_seats=len(self.seat_agents))
        self.evaluator = Evaluator(config, self.trainer, self.ledger, self.store)
        if config.tensorboard:
            self._tensorboard = TensorBoardLog(self.run_dir, config.evaluation.opponent,
                                               purge_step=self.iteration + 1 if resumed else None)
        if checkpoint is not None:
            for pid in self.trainable:
                self.trainer.load_learner_state(pid, checkpoint.players[pid])
            self.freezer.initial_states = {PlayerId(p): state for p, state in checkpoint.initial.items()}
            self.residents.restore_pool(checkpoint.state.resident, self.standing)
        else:
            self.freezer.initial_states = {pid: self.trainer.initial_state(pid) for pid in self.trainable}
            self.checkpoint()

    @classmethod
    def resume(cls, run_dir: str | Path, *, iterations: int | None = None, minutes: float | None = None,
               num_env_runners: int | None = None, address: str | None = None, redis_url: str | None = None,
               from_scratch: bool = False) -> LeagueManager:
        """Continue the run in ``run_dir`` from its last checkpoint, with the configuration it was started with.

        Args:
            run_dir: The run's folder.
            iterations: A new target iteration count (default: the run's own).
            minutes: A new time budget for each invocation (default: the run's own ``minutes``); the
                resumed run's budget starts afresh (:mod:`league.budget`).
            num_env_runners: Another number of remote env runners (default: the run's own).
            address: A Ray cluster to continue on (default: the run's own setting).
            redis_url: The run's Redis URL with its password (``run.json`` keeps it redacted); else
                ``LEAGUE_REDIS_URL`` or ``REDIS_PASSWORD`` from the environment
                (:func:`~league.redact.resolve_redis_url`).
            from_scratch: Start the run over from iteration 0 with its own configuration, replacing
                its folder, ledger and snapshots (the only way on when no checkpoint explains the ledger).
        """
        changed = resumed_config(run_dir, iterations=iterations, minutes=minutes, num_env_runners=num_env_runners,
                                 address=address, redis_url=redis_url)
        if from_scratch:
            return cls(changed, overwrite=True)
        return cls(changed, resume=True)


    # -- the loop ------------------------------------------------------------------

    def step(self) -> IterationReport:
        """Run one league iteration (committed by a checkpoint every ``checkpoint_every`` iterations)."""
        it = self._begin()
        it.prepared = self._plan_and_load_residents(it)                           # 1. plan, 2. residents
        it.trained = self._train(it.prepared.plan, it.iteration)                  # 3. train
        it.output, it.episodes = drain_and_record(self._trainer(), self.ledger, self.standing,
                                                  self.run_id)                    # 4. drain and record
        it.ratings = self.rater.update(self.standing)                             # 5. rate
        self._snapshot_and_anchor(it)                                             # 6. snapshot and anchor
        self._evaluate(it)                                                        # 7. evaluate
        self._commit(it)                                                          # 8. commit
        report = build_report(it, self.standing, matches_recorded=self.ledger.match_count(),
                              resident=self.residents.pool.resident, now=self._totals())
        if self._tensorboard is not None:
            self._tensorboard.write(report)
        return report

    def _totals(self) -> dict[str, int]:
        """The run's counters an iteration's report gives its own share of."""
        return {"abandoned": self.abandoned_episodes, "runner_restarts": self.env_runner_restarts,
                "env_restarts": self.env_restarts, "ledger_retries": self.ledger_retries,
                "anchor_matches": self.anchor_matches}

    def _begin(self) -> IterationParts:
        if self._mid_iteration:
            raise LeagueError(f"iteration {self.iteration + 1} failed part-way; close this league and continue "
                              "with `league run --resume` (LeagueManager.resume), which rolls back to the last "
                              "checkpoint")
        iteration = self.iteration + 1
        set_iteration(iteration)
        self._mid_iteration = True
        return IterationParts(iteration, time.perf_counter(), self._totals())

    def _plan_and_load_residents(self, it: IterationParts) -> Prepared:
        prepared = self.residents.prepare(it.iteration, self.standing, lambda: self._make_plan(it.iteration),
                                          self.config.seed)
        self.standing.abandoned_episodes += prepared.abandoned
        self.plan = prepared.plan
        it.restore_s = time.perf_counter() - it.start
        return prepared

    def _train(self, plan: MatchPlan, iteration: int) -> Trained:
        trainer = self._trainer()
        trainer.install_plan(plan, iteration)
        start = time.perf_counter()
        sample_before, learn_before = trainer.phase_seconds()
        outcome = trainer.train()
        sample_after, learn_after = trainer.phase_seconds()
        self.standing.iteration = iteration
        self.standing.env_steps += outcome.env_steps
        return Trained(outcome, time.perf_counter() - start, sample_after - sample_before, learn_after - learn_before)

    def _snapshot_and_anchor(self, it: IterationParts) -> None:
        it.frozen, it.resets = self.freezer.freeze_and_reset(self.standing, it.iteration, self.view(it.iteration + 1),
                                                             self.plan)
        if self.anchor_matches > it.before["anchor_matches"]:
            it.ratings = self.rater.update(self.standing)  # the anchor games' results
        self.save_players()
        if it.frozen and self.config.snapshots.retention:
            it.pruned = self.prune(self.config.snapshots.keep_last, self.config.snapshots.keep_top)

    def _evaluate(self, it: IterationParts) -> None:
        if self.config.evaluation.games and self._due(self.config.evaluation.every, it.iteration):
            start = time.perf_counter()
            it.references = self.evaluate_all()
            it.evaluation = it.references.pop(self.config.evaluation.opponent)
            it.evaluation_s = time.perf_counter() - start
        if self._due(self.config.evaluation.exploitability_every, it.iteration):
            start = time.perf_counter()
            it.exploitability = self.measure_exploitability().values
            it.evaluation_s += time.perf_counter() - start

    def _commit(self, it: IterationParts) -> None:
        assert it.trained is not None
        self.standing.history.append(CommittedIteration(
            iteration=it.iteration, matches=it.episodes,
            anchor_matches=self.anchor_matches - it.before["anchor_matches"], env_steps=it.trained.outcome.env_steps))
        self.standing.counters.wall_seconds += time.perf_counter() - it.start
        write_progress(self.ledger, self.standing, self._counters())
        it.checkpointed = self._due(self.config.checkpoint_every, it.iteration)
        if it.checkpointed:
            self.checkpoint()
        self._mid_iteration = False

    def _due(self, every: int, iteration: int) -> bool:
        """Whether something done every ``every`` iterations (0: never) and at the last one is due now.

        The last one is the run's target iteration, or the one that finds the time budget of the
        ``run()`` in progress spent (:mod:`league.budget`): that iteration is evaluated and checkpointed.
        """
        budget_spent = self._budget is not None and self._budget.spent()
        return bool(every) and (iteration % every == 0 or iteration == self.config.iterations or budget_spent)

    def run(self, iterations: int | None = None, *, minutes: float | None = None,
            on_iteration: Callable[[IterationReport], None] | None = None) -> list[IterationReport]:
        """Run ``iterations`` more iterations (default: up to ``config.iterations``) within a time budget.

        Args:
            iterations: Iterations to run now (default: until ``config.iterations``; None there: no limit).
            minutes: Wall-time budget of this call (default: ``config.minutes``; None: none). The run
                stops after the first iteration that ends with it spent, evaluated and checkpointed
                (:mod:`league.budget`); whichever of the two limits comes first stops it.
            on_iteration: Called with each iteration's report as it ends.

        After it returns, :attr:`stop_reason` says which limit stopped the run.
        """
        target = self.config.iterations if iterations is None else self.iteration + iterations
        budget = TimeBudget.of_minutes(self.config.minutes if minutes is None else minutes)
        if target is None and budget.seconds is None:
            raise UsageError("run() needs a limit: iterations, or minutes (config.iterations is unset)")
        reports = []
        self._budget, self.stop_reason = budget, None
        try:
            while (reason := stop_reason(iteration=self.iteration, target=target, elapsed_s=budget.elapsed(),
                                         budget_s=budget.seconds)) is None:
                report = self.step()
                reports.append(report)
                if on_iteration is not None:
                    on_iteration(report)
        finally:
            self._budget = None
        self.stop_reason = reason
        if reason is StopReason.TIME_BUDGET and self.standing.last_checkpoint < self.iteration:
            self.checkpoint()  # the budget ran out after the iteration's own checkpoint was decided
        return reports

    def checkpoint(self) -> Path:
        """Commit the league now: a checkpoint of the trainable players and the league state (atomic).

        Snapshots pruned since the previous checkpoint are deleted from the
        store afterwards, so the newest checkpoint's roster stays loadable.
        Returns the checkpoint's folder.
        """
        return commit(self.run_dir, self.standing, run_id=self.run_id, resident=self.residents.pool.resident,
                      ratings=self.rater.ratings(), counters=self._counters(), trainer=self._trainer(),
                      initial_states=self.freezer.initial_states, keep=self.config.keep_checkpoints,
                      ledger=self.ledger, store=self.store)

    # -- state and queries ---------------------------------------------------------

    def _trainer(self) -> Trainer:
        if self.trainer is None:
            raise LeagueError("this league was closed")
        return self.trainer

    @property
    def algorithm(self) -> Any:
        """The RLlib Algorithm of the default trainer (None once closed, or with another trainer)."""
        return getattr(self.trainer, "algorithm", None)

    @property
    def pool(self) -> Any:
        """The resident pool's LRU bookkeeping (:class:`~league.pool.ResidentPool`)."""
        return self.residents.pool

    iteration = property(lambda self: self.standing.iteration, doc="Iterations played.")
    env_steps = property(lambda self: self.standing.env_steps, doc="Env steps sampled since the run started.")
    total_episodes = property(lambda self: self.standing.total_episodes, doc="Matches of committed iterations.")
    abandoned_episodes = property(lambda self: self.standing.abandoned_episodes, doc="Episodes abandoned.")
    anchor_matches = property(lambda self: self.standing.anchor_matches, doc="Anchor games recorded.")
    roster = property(lambda self: self.standing.roster, doc="Every member of the league (the live list).")
    resumes = property(lambda self: self.standing.counters.resumes, doc="Times the run was resumed.")
    env_restarts = property(lambda self: self.standing.counters.env_restarts, doc="Sub-env restarts.")
    wall_seconds = property(lambda self: self.standing.counters.wall_seconds, doc="Seconds in iterations.")

    @property
    def env_runner_restarts(self) -> int:
        """Remote env runners restarted since the run started (resumes included)."""
        live = self.trainer.env_runner_restarts() if self.trainer is not None else 0
        return self.standing.counters.env_runner_restarts(live)

    @property
    def ledger_retries(self) -> int:
        """Ledger calls retried while Redis was unreachable, since the run started (resumes included)."""
        return self.standing.counters.ledger_retries(self.ledger.retries)

    def _counters(self) -> dict[str, int]:
        live = self.trainer.env_runner_restarts() if self.trainer is not None else 0
        return self.standing.counters.stored(runner_restarts_live=live, ledger_retries_live=self.ledger.retries)

    @property
    def history(self) -> list[CommittedIteration]:
        """What each iteration since the start added (matches, anchor games, env steps), oldest first."""
        return list(self.standing.history)

    @property
    def players(self) -> list[PlayerRecord]:
        """Every member of the league, in the order they joined."""
        return list(self.standing.roster)

    @property
    def snapshots(self) -> list[PlayerId]:
        """Frozen snapshots on the roster, oldest first."""
        return self.standing.snapshots

    @property
    def trainable(self) -> list[PlayerId]:
        """Players in ``policies_to_train``."""
        return self.standing.trainable

    @property
    def frozen(self) -> list[PlayerId]:
        """Frozen players matchmaking may schedule (snapshots and scripted players, minus unusable ones)."""
        return self.standing.frozen

    @property
    def resident(self) -> list[PlayerId]:
        """Frozen players that are resident policies now, least recently used first."""
        return self.residents.pool.resident

    def ratings(self) -> dict[PlayerId, Rating]:
        """Every rated player's Elo and OpenSkill ratings (as stored in the ledger)."""
        return self.ledger.ratings()[0]

    def payoff(self) -> Payoff:
        """The payoff matrix (win/draw/loss per ordered pair), read from the ledger."""
        return Payoff(tuple(p.player_id for p in self.roster), self.ledger.payoff_counts())

    def view(self, iteration: int) -> LeagueView:
        """The read-only league view matchmaking sees before ``iteration`` is played (:mod:`league.planning`)."""
        return league_view(self.standing, self.ledger, self.rater.ratings(), iteration=iteration,
                           pfsp_prior_games=self.config.matchmaking.pfsp_prior_games)

    def _make_plan(self, iteration: int) -> MatchPlan:
        return make_plan(self.matchmaker, self.view(iteration), num_seats=len(self.seat_agents),
                         seed=self.config.seed)

    # -- actions -------------------------------------------------------------------

    def _snapshot_info(self, player_id: PlayerId, role: Role, parent: PlayerId | None) -> SnapshotInfo:
        return self.freezer.info(self.standing, player_id, role, parent)

    def _restore(self, player: PlayerId) -> None:
        self.residents.restore(self.standing.record(player))

    def snapshot(self, player: PlayerId = MAIN) -> PlayerRecord:
        """Freeze ``player``'s current weights as a new snapshot player (:meth:`league.freezing.Freezer.snapshot`)."""
        return self.freezer.snapshot(self.standing, player)

    def save_players(self) -> None:
        """Write every trainable player's current weights to ``<run_dir>/players`` (for ``league export``)."""
        self.freezer.save_players(self.standing)

    def prune(self, keep_last: int | None, keep_top: int | None) -> list[PlayerId]:
        """Remove the snapshots ``keep_last`` / ``keep_top`` do not keep (:meth:`league.freezing.Freezer.prune`)."""
        return self.freezer.prune(self.standing, keep_last, keep_top)

    def reset(self, player: PlayerId) -> None:
        """Put a trainable player back to its initial weights and optimizer state."""
        self.freezer.reset(self.standing, player)

    def update_ratings(self) -> dict[PlayerId, Rating]:
        """Fold the ledger's unrated matches into the ratings and store them back, with the cursor."""
        return self.rater.update(self.standing)

    def add_opponent(self, out: str | Path, player_id: str | None = None) -> PlayerRecord:
        """Add an exported agent (``league export``) as a frozen, rated member of this league."""
        record = add_exported_opponent(
            Path(out), store=self.store, ledger=self.ledger, game=self.config.game, run_id=self.run_id,
            observation_space=self.observation_space, action_space=self.action_space,
            iteration=self.iteration, env_steps=self.env_steps, player_id=player_id)
        self.standing.roster.append(record)
        return record

    def evaluate(self, games: int | None = None, opponent: str | None = None,
                 player: PlayerId = MAIN, *, stream: int = 0) -> PairCounts:
        """``player`` (greedy unless ``evaluation.explore``) against a scripted player, seats alternating.

        ``stream`` is the opponent's position in ``evaluation.opponents`` (its seeded streams, see
        :meth:`league.evaluating.Evaluator.evaluate`); only main's results are stored.
        """
        return self.evaluator.evaluate(self.iteration, games=games, opponent=opponent, player=player, index=stream)

    def evaluate_all(self) -> dict[str, PairCounts]:
        """Main against ``evaluation.opponent`` and then each of ``evaluation.references``, each stored."""
        return self.evaluator.evaluate_all(self.iteration)

    def measure_exploitability(self) -> LeagueMeasure:
        """Exact exploitability of every trainable player and of the snapshots' Nash mixture, stored in the ledger.

        OpenSpiel games only (see :mod:`league.exploitability`).
        """
        usable = [p for p in self.snapshots if p not in self.standing.unusable]
        measure = self.evaluator.measure_exploitability(self.iteration, self.trainable, usable)
        weights = measure.mixture.weights if measure.mixture is not None else {}
        self.standing.meta_nash = {PlayerId(p): w for p, w in weights.items()}
        return measure

    # -- lifetime ------------------------------------------------------------------

    def _release(self) -> None:
        """Stop everything this manager started; each step runs even if an earlier one raised."""
        standing = getattr(self, "standing", None)
        if (self.trainer is not None and standing is not None and not self._mid_iteration
                and standing.last_checkpoint < standing.iteration):
            try:  # at exit, between iterations: the ones since the last checkpoint are complete
                self.checkpoint()
            except Exception as e:  # noqa: BLE001 - the run still stops; the previous checkpoint stands
                _log.warning("could not write the checkpoint at exit: %s", e)
        trainer, tensorboard = self.trainer, self._tensorboard
        self.trainer, self._tensorboard, self._embedded = None, None, None
        release_all(trainer.stop if trainer else None, tensorboard.close if tensorboard else None,
                    self._opened.close)

    def close(self) -> None:
        """Stop the trainer (Ray), the embedded Redis and everything else this manager started."""
        self._release()

    def __enter__(self) -> LeagueManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The Python API's name for a league run (``from league import League``).
League = LeagueManager
