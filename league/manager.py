"""The league manager: orchestration of one run, no math.

Each iteration (see ``docs/architecture.md``):
    1. the matchmaker gives every trainable player its opponent distribution
       from a read-only :class:`~league.matchmaking.LeagueView` (roster, ledger
       results, ratings); at most ``max_resident_opponents`` frozen players are
       chosen for the iteration (:mod:`league.pool`), missing ones are restored
       from the snapshot store with ``Algorithm.add_policy`` and the least
       recently used dropped with ``Algorithm.remove_policy``; the plan,
       restricted to resident players, goes to every env runner with a policy
       mapping that reads it, and each trainable player's mirror gets its
       current weights;
    2. RLlib samples and trains (only players in ``policies_to_train`` learn, and
       each only from the matches chosen for it);
    3. the runners' match records are drained and written to the ledger; ratings
       are folded forward from the ledger and stored back in it;
    4. trainable players whose snapshot trigger fired are frozen: their weights
       and manifest go to the snapshot store; exploiters may be reset to their
       initial weights; a retention policy, if set, prunes old snapshots;
       each new snapshot plays ``ratings.anchor_games`` rated games against every
       scripted player (fixed anchors of the rating scale; no learner);
    5. every ``evaluation.every`` iterations (and at the end) main plays evaluation
       games against a scripted player, then against each of ``evaluation.references``,
       on a plain PettingZoo env;
    6. progress is written to the ledger;
    7. every ``checkpoint_every`` iterations (and at the end) a league checkpoint
       commits the iteration (:mod:`league.checkpoint`); snapshots pruned since
       the last checkpoint leave the store only now.

A resumed run (``resume=True``) rolls the ledger, roster and snapshot store back
to its last checkpoint: matches recorded after it are taken back, so the
iterations after the checkpoint are played again and count once.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

import envs
from agents.heuristics import CHOOSERS
from agents.models import ACTION_MASK_MODEL
from league.budget import StopReason, TimeBudget, stop_reason
from league.checkpoint import (
    Checkpoint,
    CommittedIteration,
    LeagueState,
    RatingEntry,
    RosterEntry,
    latest_checkpoint,
    write_checkpoint,
)
from league.config import LeagueConfig, validate_config
from league.errors import (
    ConfigError,
    LeagueError,
    LedgerUnavailable,
    RunDirError,
    SnapshotCorrupt,
    SnapshotExists,
    SnapshotNotFound,
    SnapshotStoreUnavailable,
    UsageError,
)
from league.arena import ScriptedActor, head_to_head, play_games
from league.exploitability import LeagueExploitability, LeagueMeasure, ProbsFn
from league.export import players_store
from league.faults import kill_point, set_iteration
from league.iteration import MAIN, IterationReport  # re-exported: `from league.manager import MAIN` still works
from league.ledger.embedded import EmbeddedRedis
from league.ledger.redis_ledger import RedisLedger
from league.matchmaking import LeagueView, MatchPlan, PlayerView, load_matchmaker, make_plan
from league.measure import stored_probs
from league.opponents import add_exported_opponent
from league.payoff import Payoff, learner_scores
from league.pool import ResidentPool, choose_residents, restrict_plan
from league.ratings import Rating, RatingBook
from league.redact import redact_url, resolve_redis_url
from league.resume import refuse_resume
from league.retention import prunable
from league.rllib.actors import PolicyActor
from league.rllib.algorithm import (
    build_algorithm,
    check_training,
    checkpoint_state,
    current_weights,
    drain_runners,
    env_runner_restarts,
    initial_state,
    install_mapping,
    load_checkpoint_state,
    phase_seconds,
    remove_frozen,
    reset_player,
    restore_frozen,
    runner_nodes,
    train,
)
from league.rllib.callbacks import LedgerSpec
from league.rllib.mapping import MatchMapping
from league.rllib.runtime import driver_node_id, ensure_ray, is_node_local_url, shutdown_ray
from league.player_ids import allocate_snapshot_id
from league.roles import initial_roster, resets_after_snapshot, snapshot_due
from league.run_dir import RunInfo, RunLock, new_run_id, prepare_run_dir, read_run_info
from league.snapshots import SnapshotInfo, SnapshotStore, describe_space, open_store
from league.snapshots.manifest import RatingAtFreeze
from league.tensorboard import TensorBoardLog
from league.types import MatchId, MatchRecord, PairCounts, PlayerId, PlayerRecord, Role

_log = logging.getLogger(__name__)


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

    def __init__(self, config: LeagueConfig, *, overwrite: bool = False, resume: bool = False) -> None:
        if overwrite and resume:
            raise UsageError("--resume continues the run in --run-dir and --overwrite replaces it: pass one of them")
        uri = config.snapshots.uri
        if uri is not None and "://" not in uri and not Path(uri).is_absolute():
            # run.json must name the same folder whatever the working directory of a later resume.
            config = config.model_copy(update={"snapshots": config.snapshots.model_copy(
                update={"uri": str(Path(uri).resolve())})})
        self.config = config
        self.run_dir = config.run_dir
        self.matchmaker = load_matchmaker(config.matchmaking.matchmaker, config.matchmaking)
        if self.matchmaker.needs_meta_nash and not config.evaluation.exploitability_every:
            raise ConfigError(f"matchmaking.matchmaker: {config.matchmaking.matchmaker!r} plays the meta-game Nash "
                              "of the snapshots, which only the exploitability measure computes: set "
                              "evaluation.exploitability_every (1: every iteration) on an OpenSpiel game")
        check_training(config.training)  # [training.rllib] against the algorithm's own settings, before any file
        self._lock = RunLock(self.run_dir)
        self._embedded: EmbeddedRedis | None = None
        self._owns_ray = False
        self._exploitability: LeagueExploitability | None = None
        self._meta_nash: dict[PlayerId, float] = {}
        try:
            if resume:
                info = read_run_info(self.run_dir)
                self.run_id = info.run_id
            else:
                prepare_run_dir(self.run_dir, overwrite=overwrite)
                self.run_id = new_run_id()
            if config.redis_url is None:
                self._embedded = EmbeddedRedis(self.run_dir, exclusive=True)
            url = config.redis_url or self._embedded.url  # type: ignore[union-attr]
            self.store: SnapshotStore = open_store(config.snapshot_uri, endpoint_url=config.snapshots.endpoint_url)
            if not resume:
                self._clear_store(overwrite)
            self.players_store = players_store(self.run_dir)
            self.ledger = RedisLedger(url, self.run_id, retry_timeout_s=config.ledger.retry_timeout_s,
                                      write_batch=config.ledger.write_batch)
            checkpoint = None
            if resume:
                checkpoint = latest_checkpoint(self.run_dir)
                self._refuse_destructive_resume(checkpoint)
                RunInfo(info.run_id, info.game, info.redis_url, info.created,
                        config.model_dump(mode="json")).write(self.run_dir)
            else:
                RunInfo(self.run_id, config.game, config.redis_url, time.time(),
                        config.model_dump(mode="json")).write(self.run_dir)
            self._owns_ray = ensure_ray(config.resources.num_cpus, config.resources.address)
            probe = envs.make(config.game, **config.env_config)
            self.seat_agents: tuple[str, ...] = tuple(probe.possible_agents)
            self.observation_space, self.action_space = probe.observation_space, probe.action_space
            probe.close()
            if config.snapshots.max_resident_opponents < len(self.seat_agents) - 1:
                raise ConfigError(
                    f"snapshots.max_resident_opponents={config.snapshots.max_resident_opponents} is too small "
                    f"for {config.game!r}: a match needs up to {len(self.seat_agents) - 1} frozen opponents")
            self.pool = ResidentPool(config.snapshots.max_resident_opponents)
            self._mid_iteration = False
            self._budget: TimeBudget | None = None  # the time budget of the run() in progress
            self.stop_reason: StopReason | None = None
            self._pending_deletes: list[PlayerId] = []
            state = checkpoint.state if checkpoint is not None else None
            self._restore_league_state(state, resumed=resume)
            self.plan = self._make_plan(self.iteration + 1)
            self._ledger_spec = LedgerSpec(url, self.run_id, config.ledger.retry_timeout_s,
                                           config.ledger.write_batch)
            self.algorithm = build_algorithm(
                config,
                env_name=envs.register_with_ray(config.game),
                trainable=self.trainable,
                observation_space=self.observation_space,
                action_space=self.action_space,
                mapping=self._mapping(self.plan),
            )
            self._check_cluster_services(url)
            self._tensorboard = TensorBoardLog(self.run_dir, config.evaluation.opponent,
                                               purge_step=self.iteration + 1 if resume else None) \
                if config.tensorboard else None
            if checkpoint is not None:
                for pid in self.trainable:
                    load_checkpoint_state(self.algorithm, pid, checkpoint.players[pid])
                self._initial_states = checkpoint.initial
                self._restore_pool(checkpoint.state.resident)
            else:
                self._initial_states = {pid: initial_state(self.algorithm, pid) for pid in self.trainable}
                self.checkpoint()
        except BaseException:
            self._release()
            raise

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
        from league.offline import run_config

        info = read_run_info(Path(run_dir))
        config = run_config(info)
        data = config.model_dump(mode="json")
        data["run_dir"] = str(run_dir)
        data["redis_url"] = resolve_redis_url(info.redis_url, redis_url)
        changes = {"iterations": iterations, "minutes": minutes,
                   "resources": {k: v for k, v in {"num_env_runners": num_env_runners, "address": address}.items()
                                 if v is not None} or None}
        # Validated like a fresh config (a bad value is blamed on its flag); the run then records it in
        # run.json for later resumes.
        flags = {"iterations": "--iterations", "minutes": "--minutes",
                 "resources.num_env_runners": "--num-env-runners", "resources.address": "--address"}
        changed = validate_config(data, changes, base_source=str(Path(run_dir) / "run.json"), flags=flags)
        if from_scratch:
            return cls(changed, overwrite=True)
        return cls(changed, resume=True)

    def _refuse_destructive_resume(self, checkpoint: Checkpoint | None) -> None:
        """Refuse, before anything changes, a resume whose checkpoint is older than what the run committed."""
        refusal = refuse_resume(
            checkpoint_iteration=None if checkpoint is None else checkpoint.state.iteration,
            progress=self.ledger.progress(), checkpoint_every=self.config.checkpoint_every,
            matches=self.ledger.match_count(), snapshots=len(self.store.ids()))
        if refusal is not None:
            raise RunDirError(refusal.message(str(self.run_dir)))

    def _check_cluster_services(self, ledger_url: str) -> None:
        """Refuse node-local services when env runners live on other nodes than the driver.

        Runners on other nodes write to the ledger themselves, and a resumed or
        restarted driver may land on another node: the ledger must be a Redis
        server every node reaches and the snapshot store shared (``s3://``, or a
        ``file://`` URI on a filesystem every node mounts).
        """
        driver = driver_node_id()
        elsewhere = [node for node in runner_nodes(self.algorithm) if node != driver]
        if not elsewhere:
            return
        problems = []
        if self._embedded is not None:
            problems.append("the ledger is the embedded Redis in the run folder: pass --redis-url "
                            "redis://HOST:PORT of a server every node reaches")
        elif is_node_local_url(ledger_url):
            problems.append(f"redis_url {redact_url(ledger_url)!r} only reaches this node: use the server's "
                            "network address")
        if "://" not in self.config.snapshot_uri:
            problems.append(f"snapshots go to the local folder {self.config.snapshot_uri!r}: pass --snapshot-uri "
                            "s3://bucket/prefix, or a file:// URI on a filesystem every node mounts")
        if problems:
            raise ConfigError(f"{len(elsewhere)} env runner(s) run on other nodes than the driver, but "
                              + "; and ".join(problems))

    def _clear_store(self, overwrite: bool) -> None:
        config = self.config
        existing = self.store.ids()
        if existing and not overwrite:
            raise RunDirError(
                f"snapshot store {config.snapshot_uri!r} already holds {len(existing)} snapshots of another "
                "run; pass --overwrite to delete them or choose another --snapshot-uri")
        for snapshot in existing:
            self.store.delete(snapshot)

    def _restore_league_state(self, state: LeagueState | None, *, resumed: bool) -> None:
        """Set the league's own state from a checkpoint (None: a new run), and roll the ledger and store back to it.

        Matches the ledger holds past the checkpoint's position are taken back;
        snapshots this run froze after it leave the roster and the store (they
        are frozen again when their iterations are played again); snapshots
        pruned after it come back (their deletion waits for the next
        checkpoint); snapshots missing from the store leave the roster when
        pruned offline (``league prune`` took them off the ledger's roster
        too), and stay on it, marked unusable with a warning, when their
        files were deleted behind League's back. Snapshots added from outside
        (``league add-opponent``) stay.
        """
        config = self.config
        if state is None:
            self.roster: list[PlayerRecord] = initial_roster(config)
            state = LeagueState(run_id=self.run_id, iteration=0, env_steps=0, total_episodes=0,
                                abandoned_episodes=0, anchor_matches=0, ledger_position=0,
                                roster=[], generation_start={}, snapshot_versions={}, resident=[], ratings={},
                                history=[])
            self._generation_start = {p.player_id: 0 for p in self.roster if p.trainable}
        else:
            self.roster = [PlayerRecord(PlayerId(e.player_id), Role(e.role),
                                        PlayerId(e.parent) if e.parent else None, e.created_iteration)
                           for e in state.roster]
            self._generation_start = {PlayerId(k): v for k, v in state.generation_start.items()}
        self.iteration = state.iteration
        self.env_steps = state.env_steps
        self.total_episodes = state.total_episodes
        self.abandoned_episodes = state.abandoned_episodes
        self.anchor_matches = state.anchor_matches
        self._snapshot_versions = {PlayerId(k): v for k, v in state.snapshot_versions.items()}
        self._history = list(state.history)
        self._meta_nash = {PlayerId(k): w for k, w in state.meta_nash.items()}
        counters = state.counters
        self._runner_restarts_before = counters.get("env_runner_restarts", 0)
        self.env_restarts = counters.get("env_restarts", 0)
        self._ledger_retries_before = counters.get("ledger_retries", 0)
        self._runner_ledger_retries = 0
        self.resumes = counters.get("resumes", 0) + (1 if resumed else 0)
        self.wall_seconds = float(counters.get("wall_seconds", 0))
        start = {PlayerId(p): Rating(r.elo, r.mu, r.sigma, r.games) for p, r in state.ratings.items()}
        self._rated = state.ledger_position
        self._last_checkpoint = state.iteration

        ledger = self.ledger
        if resumed:
            in_store = set(self.store.ids())
            listed = [e.player_id for e in state.roster if e.role == Role.SNAPSHOT.value]
            if listed and not in_store & set(listed):
                raise RunDirError(
                    f"none of the {len(listed)} snapshots of checkpoint iteration {state.iteration} is in the "
                    f"snapshot store {self.config.snapshot_uri!r}: is that the run's store (endpoint, prefix, "
                    "folder)? Nothing was changed")
            ledger.truncate(state.ledger_position)
            self._check_ledger_position()
            # A snapshot the ledger still lists but the store lacks was deleted behind League's back (a
            # pruned one is off the ledger's roster too): it stays on the roster, reported and unusable.
            on_ledger = {p.player_id for p in ledger.players()}
            deleted = {p.player_id for p in self.roster
                       if p.role is Role.SNAPSHOT and p.player_id not in in_store and p.player_id in on_ledger}
            for player in sorted(deleted):
                reason = (f"snapshot {player!r} is missing from the snapshot store {self.config.snapshot_uri!r} "
                          "(deleted outside League); it stays on the roster but is never played")
                _log.warning("%s", reason)
                ledger.mark_unusable(player, reason)
            self.roster = [p for p in self.roster
                           if p.role is not Role.SNAPSHOT or p.player_id in in_store or p.player_id in deleted]
            kept = {p.player_id for p in self.roster}
            trainable = {p.player_id for p in self.roster if p.trainable}
            for entry in ledger.players():
                later_snapshot = entry.parent in trainable
                if entry.player_id not in kept and (later_snapshot or entry.player_id not in in_store):
                    ledger.remove_player(entry.player_id)
        for player in self.roster:
            ledger.save_player(player)
        if resumed:
            listed = {p.player_id for p in ledger.players()}
            for orphan in set(self.store.ids()) - listed:
                self.store.delete(orphan)
            ledger.drop_evaluations_after(state.iteration)
        # After the truncation above, the payoff counters hold exactly the matches the stored ratings fold in.
        pairs = {pair: counts for pair, counts in ledger.payoff_counts().items() if pair[0] != pair[1]}
        self._ratings = RatingBook(**config.ratings.book_kwargs(), start=start, pairs=pairs)
        ledger.save_ratings(self._ratings.ratings(), self._rated)
        on_roster = {p.player_id for p in self.roster}
        self._unusable: dict[PlayerId, str] = {p: why for p, why in ledger.unusable().items() if p in on_roster}
        self._write_progress()

    def _restore_pool(self, resident: list[str]) -> None:
        """Make the checkpoint's resident frozen players resident again, in their LRU order."""
        frozen = set(self.frozen)
        for player in (PlayerId(p) for p in resident):
            if player not in frozen:
                continue
            try:
                self._restore(player)
            except (SnapshotCorrupt, SnapshotNotFound) as e:  # failed verification, or its files were deleted
                _log.warning("leaving out unusable snapshot %s: %s", player, e)
                self._unusable[player] = str(e)
                self.ledger.mark_unusable(player, str(e))
                continue
            self.pool.add(player)

    @property
    def env_runner_restarts(self) -> int:
        """Remote env runners restarted since the run started (resumes included)."""
        algorithm = getattr(self, "algorithm", None)
        return self._runner_restarts_before + (env_runner_restarts(algorithm) if algorithm is not None else 0)

    @property
    def ledger_retries(self) -> int:
        """Ledger calls retried while Redis was unreachable, since the run started (resumes included)."""
        return self._ledger_retries_before + self.ledger.retries + self._runner_ledger_retries

    def _counters(self) -> dict[str, int]:
        return {"env_runner_restarts": self.env_runner_restarts, "env_restarts": self.env_restarts,
                "ledger_retries": self.ledger_retries, "resumes": self.resumes,
                "wall_seconds": round(self.wall_seconds)}

    def _write_progress(self) -> None:
        self.ledger.set_progress(iteration=self.iteration, env_steps=self.env_steps, episodes=self.total_episodes,
                                 anchor_matches=self.anchor_matches, **self._counters())

    def _check_ledger_position(self) -> int:
        """The ledger's match count, refusing a ledger that lost matches this run already consumed."""
        count = self.ledger.match_count()
        if count < self._rated:
            raise LedgerUnavailable(
                f"the Redis ledger holds {count} matches of run {self.run_id!r} but this run already consumed "
                f"{self._rated}: the server lost data (restarted without persistence?). Run Redis with "
                "appendonly yes, then `league run --resume` from a checkpoint that matches its data")
        return count

    def checkpoint(self) -> Path:
        """Commit the league now: a checkpoint of the trainable players and the league state (atomic).

        Snapshots pruned since the previous checkpoint are deleted from the
        store afterwards, so the newest checkpoint's roster stays loadable.
        Returns the checkpoint's folder.
        """
        state = LeagueState(
            run_id=self.run_id, iteration=self.iteration, env_steps=self.env_steps,
            total_episodes=self.total_episodes, abandoned_episodes=self.abandoned_episodes,
            anchor_matches=self.anchor_matches, ledger_position=self._rated,
            roster=[RosterEntry(player_id=p.player_id, role=p.role.value, parent=p.parent,
                                created_iteration=p.created_iteration) for p in self.roster],
            generation_start=dict(self._generation_start), snapshot_versions=dict(self._snapshot_versions),
            resident=list(self.pool.resident),
            ratings={p: RatingEntry(elo=r.elo, mu=r.mu, sigma=r.sigma, games=r.games)
                     for p, r in self._ratings.ratings().items()},
            history=list(self._history), counters=self._counters(), meta_nash=dict(self._meta_nash),
        )
        players = {pid: checkpoint_state(self.algorithm, pid) for pid in self.trainable}
        path = write_checkpoint(self.run_dir, state, players, self._initial_states,
                                keep=self.config.keep_checkpoints)
        # Once it is on disk: a later resume from anything older would roll committed work back (league.resume).
        self.ledger.set_progress(checkpoint=self.iteration)
        self._last_checkpoint = self.iteration
        for snapshot in list(self._pending_deletes):
            try:
                self.store.delete(snapshot)
            except SnapshotStoreUnavailable as e:  # the checkpoint stands; try again after the next one
                _log.warning("could not delete pruned snapshot %s yet: %s", snapshot, e)
                continue
            self._pending_deletes.remove(snapshot)
        return path

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

    @property
    def frozen(self) -> list[PlayerId]:
        """Frozen players matchmaking may schedule (snapshots and scripted players, minus unusable ones)."""
        return [p.player_id for p in self.roster if not p.trainable and p.player_id not in self._unusable]

    @property
    def resident(self) -> list[PlayerId]:
        """Frozen players that are RLlib policies now, least recently used first."""
        return self.pool.resident

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
            for p in self.roster if p.player_id not in self._unusable
        )
        return LeagueView(iteration, players, results, self._ratings.ratings(),
                          self.config.matchmaking.pfsp_prior_games, dict(self._meta_nash))

    def _make_plan(self, iteration: int) -> MatchPlan:
        return make_plan(self.matchmaker, self.view(iteration), num_seats=len(self.seat_agents),
                         seed=self.config.seed)

    def _mapping(self, plan: MatchPlan) -> MatchMapping:
        return MatchMapping(plan, self.seat_agents, set(self.trainable),
                            self_play_learns_both_seats=self.config.matchmaking.self_play_learns_both_seats)

    # -- actions -------------------------------------------------------------------

    def _snapshot_info(self, player_id: PlayerId, role: Role, parent: PlayerId | None) -> SnapshotInfo:
        rated = parent or player_id
        rating = self._ratings.ratings().get(rated)
        return SnapshotInfo(
            player_id=player_id, role=role.value, parent=parent, iteration=self.iteration,
            env_steps=self.env_steps,
            ratings=RatingAtFreeze(elo=rating.elo, mu=rating.mu, sigma=rating.sigma, games=rating.games)
            if rating is not None else None,
            game=self.config.game, run_id=self.run_id, framework=self.config.training.framework,
            model_config={"custom_model": ACTION_MASK_MODEL,
                          "custom_model_config": self.config.training.custom_model_config()},
            observation_space=describe_space(self.observation_space),
            action_space=describe_space(self.action_space),
        )

    def snapshot(self, player: PlayerId = MAIN) -> PlayerRecord:
        """Freeze ``player``'s current weights as a new snapshot player, written to the snapshot store.

        The snapshot is not resident until matchmaking picks it.
        """
        # Versions only grow (a pruned snapshot's id is never given to a new one), and an id already
        # in use (an outside player's, one written by a racing writer) is skipped: the store refuses
        # to overwrite it (issue 20).
        taken = ({p.player_id for p in self.roster} | {p.player_id for p in self.ledger.players()}
                 | set(self.store.ids()))
        weights = current_weights(self.algorithm, player)
        while True:
            new_id, version = allocate_snapshot_id(player, self._snapshot_versions.get(player, 0),
                                                   lambda pid: pid in taken)
            try:
                self.store.put(self._snapshot_info(new_id, Role.SNAPSHOT, player), weights,
                               progress=lambda written, total: kill_point("snapshot_upload"))
            except SnapshotExists:
                taken.add(new_id)
                continue
            break
        self._snapshot_versions[player] = version
        record = PlayerRecord(new_id, Role.SNAPSHOT, parent=player, created_iteration=self.iteration)
        self.roster.append(record)
        self.ledger.save_player(record)
        self._generation_start[player] = self.iteration
        return record

    def save_players(self) -> None:
        """Write every trainable player's current weights to ``<run_dir>/players`` (for ``league export``)."""
        for player in self.roster:
            if player.trainable:
                self.players_store.put(self._snapshot_info(player.player_id, player.role, None),
                                       current_weights(self.algorithm, player.player_id), replace=True)

    def prune(self, keep_last: int | None, keep_top: int | None) -> list[PlayerId]:
        """Remove the snapshots ``keep_last`` / ``keep_top`` do not keep (see :mod:`league.retention`).

        Each is dropped from the Algorithm if resident and from the ledger's
        roster; its past matches stay in the ledger. Its objects leave the
        snapshot store after the next checkpoint (the last one still lists it).
        """
        pruned = prunable(self.roster, self._ratings.ratings(), keep_last=keep_last, keep_top=keep_top)
        resident = [p for p in pruned if p in self.pool]
        self.abandoned_episodes += remove_frozen(self.algorithm, resident, self.trainable)
        for player in pruned:
            self.pool.discard(player)
            self._pending_deletes.append(player)
            self.ledger.remove_player(player)
        gone = set(pruned)
        self.roster = [p for p in self.roster if p.player_id not in gone]
        if pruned:
            self.ledger.set_resident(self.trainable + self.pool.resident)
        return pruned

    def add_opponent(self, out: str | Path, player_id: str | None = None) -> PlayerRecord:
        """Add an exported agent (``league export``) as a frozen, rated member of this league."""
        record = add_exported_opponent(
            Path(out), store=self.store, ledger=self.ledger, game=self.config.game, run_id=self.run_id,
            observation_space=self.observation_space, action_space=self.action_space,
            iteration=self.iteration, env_steps=self.env_steps, player_id=player_id)
        self.roster.append(record)
        return record

    def _adopt_new_players(self) -> None:
        """Take in frozen players added to the ledger from outside (``league add-opponent``)."""
        known = {p.player_id for p in self.roster}
        for record in self.ledger.players():
            if record.player_id not in known and record.role is Role.SNAPSHOT:
                self.roster.append(record)

    def _restore(self, player: PlayerId) -> None:
        record = next(p for p in self.roster if p.player_id == player)
        weights, model_config = None, None
        if record.role is Role.SNAPSHOT:
            snapshot = self.store.load(player)
            model_config = snapshot.manifest.model_config_
            expected = (describe_space(self.observation_space), describe_space(self.action_space))
            if (snapshot.manifest.observation_space, snapshot.manifest.action_space) != expected:
                reason = (f"snapshot {player!r} was frozen for other observation/action spaces than "
                          f"{self.config.game!r} has")
                self.store.mark_unusable(player, reason)
                raise SnapshotCorrupt(reason)
            weights = snapshot.weights
        restore_frozen(self.algorithm, player, template=self.trainable[0], weights=weights,
                       model_config=model_config, scripted=player if record.role is Role.SCRIPTED else None,
                       observation_space=self.observation_space, trainable=self.trainable)

    def _prepare(self, iteration: int) -> tuple[MatchPlan, tuple[PlayerId, ...], tuple[PlayerId, ...]]:
        """The iteration's plan over resident players, after making its frozen players resident.

        Returns the plan, the players restored and the snapshots found unusable
        (each is marked in the store and the ledger and left out of matchmaking).
        """
        restored: list[PlayerId] = []
        unusable: list[PlayerId] = []
        abandoned = 0
        capacity = self.config.snapshots.max_resident_opponents
        rng = np.random.default_rng([self.config.seed, iteration, 4])
        self._adopt_new_players()
        while True:
            plan = self._make_plan(iteration)
            frozen = self.frozen
            wanted = choose_residents(plan, frozen, capacity, rng)
            change = self.pool.change(wanted)
            abandoned += remove_frozen(self.algorithm, change.evict, self.trainable)
            for player in change.evict:
                self.pool.discard(player)
            try:
                for player in change.restore:
                    self._restore(player)
                    self.pool.add(player)
                    restored.append(player)
            except (SnapshotCorrupt, SnapshotNotFound) as e:  # failed verification, or its files were deleted
                _log.warning("leaving out unusable snapshot %s: %s", player, e)
                self._unusable[player] = str(e)
                self.ledger.mark_unusable(player, str(e))
                unusable.append(player)
                continue  # plan again without it
            self.pool.use(wanted)
            self.ledger.set_resident(self.trainable + self.pool.resident)
            self.abandoned_episodes += abandoned
            return restrict_plan(plan, frozen, self.pool.resident), tuple(restored), tuple(unusable)

    def reset(self, player: PlayerId) -> None:
        """Put a trainable player back to its initial weights and optimizer state."""
        reset_player(self.algorithm, player, self._initial_states[player])
        self._generation_start[player] = self.iteration

    def update_ratings(self) -> dict[PlayerId, Rating]:
        """Fold the ledger's unrated matches into the ratings and store them back, with the cursor.

        Raises:
            LedgerUnavailable: if the ledger holds fewer matches than were already
                rated (a Redis restarted without its data: enable AOF persistence).
        """
        self._check_ledger_position()
        new = 0
        for match in self.ledger.iter_matches(start=self._rated):
            self._ratings.update(match)
            new += 1
        self._rated += new
        ratings = self._ratings.ratings()
        self.ledger.save_ratings(ratings, self._rated)
        return ratings

    def evaluate(self, games: int | None = None, opponent: str | None = None,
                 player: PlayerId = MAIN, *, stream: int = 0) -> PairCounts:
        """``player`` (greedy unless ``evaluation.explore``) against a scripted player, seats alternating.

        Args:
            games: Games to play (default: ``evaluation.games``).
            opponent: The scripted player (default: ``evaluation.opponent``).
            player: Who plays it; only main's results are stored in the ledger.
            stream: Which seeded random streams the games use: 0 (the evaluation opponent's)
                ``default_rng([seed, iteration, 1])`` for the player and the env seeds and
                ``[seed, iteration, 2]`` for the scripted side; k >= 1 (the k-th reference) the same
                with ``k`` appended, ``[seed, iteration, 1, k]`` and ``[seed, iteration, 2, k]``: each
                evaluation replays exactly, and no two draw the same numbers.
        """
        evaluation = self.config.evaluation
        opponent = opponent or evaluation.opponent
        suffix = [stream] if stream else []  # stream 0 keeps the streams evaluations always had
        rng = np.random.default_rng([self.config.seed, self.iteration, 1, *suffix])
        actor = PolicyActor(self.algorithm.get_policy(player), explore=evaluation.explore, rng=rng)
        scripted = ScriptedActor(CHOOSERS[opponent][0],
                                 np.random.default_rng([self.config.seed, self.iteration, 2, *suffix]))
        counts = head_to_head(self.config.game, actor, scripted, games=games or evaluation.games,
                              seed=int(rng.integers(2**31)), env_config=self.config.env_config)
        if player == MAIN:
            self.ledger.add_evaluation(self.iteration, opponent, counts)
        return counts

    def evaluate_all(self) -> dict[str, PairCounts]:
        """Main against ``evaluation.opponent`` and then each of ``evaluation.references``, each stored.

        Returns each scripted player's results, in that order: ``evaluation.opponents``, where the
        opponent plays on random stream 0 and the k-th reference after it on stream k (:meth:`evaluate`).
        """
        return {opponent: self.evaluate(opponent=opponent, stream=k)
                for k, opponent in enumerate(self.config.evaluation.opponents)}

    def measure_exploitability(self) -> LeagueMeasure:
        """Exact exploitability of every trainable player and of the snapshots' Nash mixture, stored in the ledger.

        OpenSpiel games only (see :mod:`league.exploitability`); players are
        measured as they sample in training (stochastic policies).
        """
        if self._exploitability is None:
            self._exploitability = LeagueExploitability(self.config.game)
        rng = np.random.default_rng(self.config.seed)
        players: dict[str, ProbsFn] = {
            player: PolicyActor(self.algorithm.get_policy(player), explore=True, rng=rng).action_probs
            for player in self.trainable}
        config = self.config
        loaders = {player: functools.partial(stored_probs, self.store, player, config.game, config.env_config,
                                             config.training.framework)
                   for player in self.snapshots if player not in self._unusable}
        measure = self._exploitability.measure(players, loaders)
        self._meta_nash = measure.mixture.weights if measure.mixture is not None else {}
        self.ledger.add_exploitability(self.iteration, measure.values)
        return measure

    def _freeze_and_reset(self, iteration: int) -> tuple[list[PlayerId], list[PlayerId]]:
        """Apply the snapshot triggers and reset rules after ``iteration``."""
        view = self.view(iteration + 1)
        frozen, reset = [], []
        rules = self.config.matchmaking.role_rules
        for index, learner in enumerate(p for p in view.players if p.trainable):
            distribution = self.plan.for_learner(learner.player_id).opponents
            if not snapshot_due(learner, view, distribution, self.config.snapshots, iteration):
                continue
            record = self.snapshot(learner.player_id)
            frozen.append(record.player_id)
            self._anchor(record, learner.player_id, iteration)
            rng = np.random.default_rng([self.config.seed, iteration, index, 3])
            if resets_after_snapshot(rules(learner.role).reset_probability, rng):
                self.reset(learner.player_id)
                reset.append(learner.player_id)
        return frozen, reset

    def _anchor(self, snapshot: PlayerRecord, source: PlayerId, iteration: int) -> int:
        """Rated games of a new snapshot (still ``source``'s weights) against every scripted player.

        Recorded as ledger matches with no learner; returns how many.
        """
        games = self.config.ratings.anchor_games
        scripted = [p.player_id for p in self.roster if p.role is Role.SCRIPTED and p.player_id not in self._unusable]
        if not games or not scripted:
            return 0
        policy = self.algorithm.get_policy(source)
        records = []
        for index, opponent in enumerate(scripted):
            rng = np.random.default_rng([self.config.seed, iteration, index, 5])
            actor = PolicyActor(policy, explore=True, rng=rng)
            chooser = ScriptedActor(CHOOSERS[opponent][0], np.random.default_rng([self.config.seed, iteration, index, 6]))
            results = play_games(self.config.game, actor, chooser, games=games, seed=int(rng.integers(2**31)),
                                 env_config=self.config.env_config)
            for k, game in enumerate(results):
                seats = [PlayerId(opponent)] * len(self.seat_agents)
                seats[game.a_seat] = snapshot.player_id
                returns = [game.b] * len(self.seat_agents)
                returns[game.a_seat] = game.a
                records.append(MatchRecord(MatchId(f"anchor-{snapshot.player_id}-{opponent}-{k}"), tuple(seats),
                                           tuple(returns), game.length, time.time(), 0.0, iteration=iteration,
                                           learner=None))
        before = self.ledger.match_count()
        self.ledger.record(records)
        added = self.ledger.match_count() - before  # from the ledger: a retried write may report 0 new
        self.anchor_matches += added
        return added

    def _due(self, every: int, iteration: int) -> bool:
        """Whether something done every ``every`` iterations (0: never) and at the last one is due now.

        The last one is the run's target iteration, or the one that finds the time budget of the
        ``run()`` in progress spent (:mod:`league.budget`): that iteration is evaluated and checkpointed.
        """
        budget_spent = self._budget is not None and self._budget.spent()
        return bool(every) and (iteration % every == 0 or iteration == self.config.iterations or budget_spent)

    def step(self) -> IterationReport:
        """Run one league iteration (committed by a checkpoint every ``checkpoint_every`` iterations)."""
        if self._mid_iteration:
            raise LeagueError(f"iteration {self.iteration + 1} failed part-way; close this league and continue "
                              "with `league run --resume` (LeagueManager.resume), which rolls back to the last checkpoint")
        start = time.perf_counter()
        iteration = self.iteration + 1
        set_iteration(iteration)
        self._mid_iteration = True
        abandoned_before = self.abandoned_episodes
        restarts_before, env_restarts_before = self.env_runner_restarts, self.env_restarts
        retries_before = self.ledger_retries
        self.plan, restored, unusable = self._prepare(iteration)
        resident = tuple(self.pool.resident)
        restore_time = time.perf_counter() - start
        install_mapping(self.algorithm, self._mapping(self.plan), iteration, self._ledger_spec)
        train_start = time.perf_counter()
        sample_before, learn_before = phase_seconds(self.algorithm)
        trained = train(self.algorithm)
        sample_after, learn_after = phase_seconds(self.algorithm)
        train_time = time.perf_counter() - train_start
        self.iteration = iteration
        steps = trained.env_steps
        self.env_steps += steps
        output = drain_runners(self.algorithm)
        self.env_restarts += output.env_restarts
        self._runner_ledger_retries += output.ledger_retries
        # Runners wrote their records themselves; the driver writes what they could not. The count
        # comes from the ledger itself: a write whose reply was lost and retried returns 0 new.
        self.ledger.record(output.matches)
        episodes = recorded = self._check_ledger_position() - self._rated
        self.total_episodes += episodes
        ratings = self.update_ratings()
        anchors_before = self.anchor_matches
        new_snapshots, resets = self._freeze_and_reset(iteration)
        if self.anchor_matches > anchors_before:
            ratings = self.update_ratings()
        self.save_players()
        pruned: list[PlayerId] = []
        if new_snapshots and self.config.snapshots.retention:
            pruned = self.prune(self.config.snapshots.keep_last, self.config.snapshots.keep_top)
        evaluation, evaluation_time = None, 0.0
        references: dict[str, PairCounts] = {}
        if self.config.evaluation.games and self._due(self.config.evaluation.every, iteration):
            eval_start = time.perf_counter()
            references = self.evaluate_all()
            evaluation = references.pop(self.config.evaluation.opponent)
            evaluation_time = time.perf_counter() - eval_start
        exploitability: dict[str, float] = {}
        if self._due(self.config.evaluation.exploitability_every, iteration):
            eval_start = time.perf_counter()
            exploitability = self.measure_exploitability().values
            evaluation_time += time.perf_counter() - eval_start
        self._history.append(CommittedIteration(iteration=iteration, matches=recorded,
                                                anchor_matches=self.anchor_matches - anchors_before,
                                                env_steps=steps))
        self.wall_seconds += time.perf_counter() - start
        self._write_progress()
        checkpointed = self._due(self.config.checkpoint_every, iteration)
        if checkpointed:
            self.checkpoint()
        self._mid_iteration = False
        elapsed = time.perf_counter() - start
        report = IterationReport(
            iteration=iteration,
            env_steps=self.env_steps,
            env_steps_per_s=steps / max(train_time, 1e-9),
            episodes=episodes,
            total_episodes=self.total_episodes,
            matches_recorded=self.ledger.match_count(),
            league_size=len(self.roster),
            snapshots=len(self.snapshots),
            evaluation=evaluation,
            reference_evaluations=references,
            train_time_s=train_time,
            league_time_s=elapsed - train_time - evaluation_time,
            evaluation_time_s=evaluation_time,
            ratings=ratings,
            agent_steps=dict(output.agent_steps),
            new_snapshots=tuple(new_snapshots),
            resets=tuple(resets),
            resident=resident,
            restored=restored,
            restore_time_s=restore_time,
            pruned=tuple(pruned),
            unusable=unusable,
            abandoned=self.abandoned_episodes - abandoned_before,
            anchor_matches=self.anchor_matches - anchors_before,
            env_runner_restarts=self.env_runner_restarts - restarts_before,
            env_restarts=self.env_restarts - env_restarts_before,
            ledger_retries=self.ledger_retries - retries_before,
            checkpointed=checkpointed,
            sample_time_s=sample_after - sample_before,
            learn_time_s=learn_after - learn_before,
            players=tuple(self.roster),
            learner_scores=learner_scores(output.tallies),
            written_by_runners=output.written,
            exploitability=exploitability,
            learner_stats=trained.learner_stats,
        )
        if self._tensorboard is not None:
            self._tensorboard.write(report)
        return report

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
        if reason is StopReason.TIME_BUDGET and self._last_checkpoint < self.iteration:
            self.checkpoint()  # the budget ran out after the iteration's own checkpoint was decided
        return reports

    # -- lifetime ------------------------------------------------------------------

    @property
    def history(self) -> list[CommittedIteration]:
        """What each iteration since the start added (matches, anchor games, env steps), oldest first."""
        return list(self._history)

    def _release(self) -> None:
        """Stop everything this manager started; each step runs even if an earlier one raised."""
        algorithm = getattr(self, "algorithm", None)
        iteration = getattr(self, "iteration", 0)
        if (algorithm is not None and not getattr(self, "_mid_iteration", True)
                and getattr(self, "_last_checkpoint", iteration) < iteration):
            try:  # at exit, between iterations: the ones since the last checkpoint are complete
                self.checkpoint()
            except Exception as e:  # noqa: BLE001 - the run still stops; the previous checkpoint stands
                _log.warning("could not write the checkpoint at exit: %s", e)
        tensorboard = getattr(self, "_tensorboard", None)
        ledger = getattr(self, "ledger", None)
        steps = [
            lambda: algorithm.stop() if algorithm is not None else None,
            lambda: tensorboard.close() if tensorboard is not None else None,
            lambda: ledger.close() if ledger is not None else None,
            lambda: self._embedded.stop() if self._embedded is not None else None,
            lambda: shutdown_ray() if self._owns_ray else None,
        ]
        error: BaseException | None = None
        for step in steps:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - go on releasing; re-raised below
                error = error or e
        self.algorithm = None
        self._tensorboard = None
        self._embedded = None
        self._owns_ray = False
        self._lock.release()
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop the Algorithm, the embedded Redis and a Ray runtime this manager started."""
        self._release()

    def __enter__(self) -> LeagueManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The Python API's name for a league run (``from league import League``).
League = LeagueManager
