"""Opening a run: the composition of everything a league iteration works with, in one place.

:func:`open_run` takes the run folder's lock, creates or reads ``run.json``,
starts the embedded Redis (when no ``redis_url`` is given), opens the ledger
and the snapshot stores, checks that a resume would not roll committed work
back, and probes the game for its seats and spaces. The trainer (Ray RLlib)
is built afterwards by the loop, once the first iteration's plan exists.
Whatever it opened, :meth:`OpenRun.close` releases, also when opening fails
part-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym

import envs
from league.checkpoint import Checkpoint, LeagueState, latest_checkpoint
from league.committing import write_progress
from league.config import LeagueConfig, validate_config
from league.errors import ConfigError, RunDirError
from league.export import players_store
from league.ledger import open_ledger
from league.ledger.base import Ledger
from league.ledger.embedded import EmbeddedRedis
from league.ratings import RatingBook
from league.recording import Rater, checked_position
from league.redact import is_node_local_url, redact_url, resolve_redis_url
from league.resume import refuse_resume
from league.roles import initial_roster
from league.rollback import apply_rollback, plan_rollback
from league.run_dir import RunInfo, RunLock, new_run_id, prepare_run_dir, read_run_info
from league.snapshots import SnapshotStore, open_store
from league.standing import Standing, start_ratings


@dataclass
class OpenRun:
    """What :func:`open_run` opened; :meth:`close` releases it.

    Attributes:
        config: The run's configuration (snapshot folder made absolute).
        run_id: The run's id (the ledger's namespace).
        url: The ledger's URL (may hold a password: never printed).
        ledger: The run's ledger.
        store: The snapshot store.
        players_store: ``<run_dir>/players``.
        checkpoint: The checkpoint a resume continues from (None: a new run, or none written yet).
        seat_agents: The game's agents, in seat order.
        observation_space: Per-agent observation space.
        action_space: Per-agent action space.
        embedded: The embedded Redis, when the run has no ``redis_url``.
    """

    config: LeagueConfig
    run_id: str
    url: str = field(repr=False)
    ledger: Ledger
    store: SnapshotStore
    players_store: SnapshotStore
    checkpoint: Checkpoint | None
    seat_agents: tuple[str, ...]
    observation_space: gym.Space
    action_space: gym.Space
    embedded: EmbeddedRedis | None
    lock: RunLock

    def close(self) -> None:
        """Close the ledger, stop the embedded Redis, release the lock (each even if one before raised)."""
        release_all(self.ledger.close, self.embedded.stop if self.embedded else None, self.lock.release)



def release_all(*steps: Callable[[], object] | None) -> None:
    """Run every release step (None: nothing to release); the first error is raised once all were tried."""
    error: BaseException | None = None
    for release in steps:
        if release is None:
            continue
        try:
            release()
        except Exception as e:  # noqa: BLE001 - go on releasing; re-raised below
            error = error or e
    if error is not None:
        raise error


def absolute_snapshot_folder(config: LeagueConfig) -> LeagueConfig:
    """``config`` with a relative local ``snapshots.uri`` made absolute.

    run.json must name the same folder whatever the working directory of a later resume.
    """
    uri = config.snapshots.uri
    if uri is None or "://" in uri or Path(uri).is_absolute():
        return config
    snapshots = config.snapshots.model_copy(update={"uri": str(Path(uri).resolve())})
    return config.model_copy(update={"snapshots": snapshots})


def open_run(config: LeagueConfig, *, overwrite: bool, resume: bool) -> OpenRun:
    """Open ``config.run_dir`` as a new run (replacing one only with ``overwrite``) or to resume it."""
    config = absolute_snapshot_folder(config)
    run_dir = config.run_dir
    lock = RunLock(run_dir)
    embedded: EmbeddedRedis | None = None
    ledger: Ledger | None = None
    try:
        if resume:
            info = read_run_info(run_dir)
            run_id = info.run_id
        else:
            prepare_run_dir(run_dir, overwrite=overwrite)
            run_id = new_run_id()
        if config.redis_url is None:
            embedded = EmbeddedRedis(run_dir, exclusive=True)
        url = config.redis_url or embedded.url  # type: ignore[union-attr]
        store = open_store(config.snapshot_uri, endpoint_url=config.snapshots.endpoint_url)
        if not resume:
            clear_store(store, config.snapshot_uri, overwrite=overwrite)
        ledger = open_ledger(url, run_id, retry_timeout_s=config.ledger.retry_timeout_s,
                             write_batch=config.ledger.write_batch)
        checkpoint = None
        if resume:
            checkpoint = latest_checkpoint(run_dir)
            refusal = refuse_resume(
                checkpoint_iteration=None if checkpoint is None else checkpoint.state.iteration,
                progress=ledger.progress(), checkpoint_every=config.checkpoint_every,
                matches=ledger.match_count(), snapshots=len(store.ids()))
            if refusal is not None:
                raise RunDirError(refusal.message(str(run_dir)))
            RunInfo(info.run_id, info.game, info.redis_url, info.created,
                    config.model_dump(mode="json")).write(run_dir)
        else:
            RunInfo(run_id, config.game, config.redis_url, time.time(), config.model_dump(mode="json")).write(run_dir)
        probe = envs.make(config.game, **config.env_config)
        seat_agents = tuple(str(agent) for agent in probe.possible_agents)
        observation_space, action_space = probe.observation_space, probe.action_space
        probe.close()
        if config.snapshots.max_resident_opponents < len(seat_agents) - 1:
            raise ConfigError(
                f"snapshots.max_resident_opponents={config.snapshots.max_resident_opponents} is too small "
                f"for {config.game!r}: a match needs up to {len(seat_agents) - 1} frozen opponents")
        return OpenRun(config=config, run_id=run_id, url=url, ledger=ledger, store=store,
                       players_store=players_store(run_dir), checkpoint=checkpoint, seat_agents=seat_agents,
                       observation_space=observation_space, action_space=action_space, embedded=embedded, lock=lock)
    except BaseException:
        release_all(ledger.close if ledger else None, embedded.stop if embedded else None, lock.release)
        raise


def clear_store(store: SnapshotStore, uri: str, *, overwrite: bool) -> None:
    """Empty a new run's snapshot store, refusing one that holds another run's snapshots without ``overwrite``."""
    existing = store.ids()
    if existing and not overwrite:
        raise RunDirError(
            f"snapshot store {uri!r} already holds {len(existing)} snapshots of another "
            "run; pass --overwrite to delete them or choose another --snapshot-uri")
    for snapshot in existing:
        store.delete(snapshot)


def resumed_config(run_dir: str | Path, *, iterations: int | None = None, minutes: float | None = None,
                   num_env_runners: int | None = None, address: str | None = None,
                   redis_url: str | None = None) -> LeagueConfig:
    """The configuration a resume of ``run_dir`` continues with: its ``run.json``, with the flags' changes.

    The changes are validated like a fresh config (a bad value is blamed on its flag); the run then
    records them in run.json for later resumes. ``redis_url`` (else ``LEAGUE_REDIS_URL`` or
    ``REDIS_PASSWORD``) gives back the password run.json keeps redacted.
    """
    from league.offline import run_config

    info = read_run_info(Path(run_dir))
    data = run_config(info).model_dump(mode="json")
    data["run_dir"] = str(run_dir)
    data["redis_url"] = resolve_redis_url(info.redis_url, redis_url)
    changes = {"iterations": iterations, "minutes": minutes,
               "resources": {k: v for k, v in {"num_env_runners": num_env_runners, "address": address}.items()
                             if v is not None} or None}
    flags = {"iterations": "--iterations", "minutes": "--minutes",
             "resources.num_env_runners": "--num-env-runners", "resources.address": "--address"}
    return validate_config(data, changes, base_source=str(Path(run_dir) / "run.json"), flags=flags)


def check_cluster_services(elsewhere: list[str], *, embedded: bool, ledger_url: str, snapshot_uri: str) -> None:
    """Refuse node-local services when env runners live on ``elsewhere``, nodes other than the driver's.

    Runners on other nodes write to the ledger themselves, and a resumed or
    restarted driver may land on another node: the ledger must be a Redis
    server every node reaches and the snapshot store shared (``s3://``, or a
    ``file://`` URI on a filesystem every node mounts).

    Example:
        >>> check_cluster_services([], embedded=True, ledger_url="unix:///tmp/r.sock", snapshot_uri="/tmp/s")
        >>> check_cluster_services(["n2"], embedded=False, ledger_url="redis://10.0.0.5:6379",
        ...                        snapshot_uri="s3://bucket/run")
    """
    if not elsewhere:
        return
    problems = []
    if embedded:
        problems.append("the ledger is the embedded Redis in the run folder: pass --redis-url "
                        "redis://HOST:PORT of a server every node reaches")
    elif is_node_local_url(ledger_url):
        problems.append(f"redis_url {redact_url(ledger_url)!r} only reaches this node: use the server's "
                        "network address")
    if "://" not in snapshot_uri:
        problems.append(f"snapshots go to the local folder {snapshot_uri!r}: pass --snapshot-uri "
                        "s3://bucket/prefix, or a file:// URI on a filesystem every node mounts")
    if problems:
        raise ConfigError(f"{len(elsewhere)} env runner(s) run on other nodes than the driver, but "
                          + "; and ".join(problems))


def open_standing(config: LeagueConfig, run_id: str, ledger: Ledger, store: SnapshotStore,
                  state: LeagueState | None, *, resumed: bool) -> tuple[Standing, Rater]:
    """The league's state from a checkpoint's (None: a new run), and its ratings.

    A resume first rolls the ledger and the store back to the checkpoint (:mod:`league.rollback`).
    Afterwards the ledger holds the roster, the ratings refold its pair counts, and progress is written.
    """
    standing = Standing.fresh(initial_roster(config)) if state is None else Standing.from_state(state, resumed=resumed)
    if resumed:
        rollback = plan_rollback(standing.roster, ledger_position=standing.rated, in_store=store.ids(),
                                 on_ledger=ledger.players(), snapshot_uri=config.snapshot_uri,
                                 iteration=standing.iteration)
        ledger.truncate(rollback.truncate_to)
        checked_position(ledger, standing, run_id)
        standing.roster = list(rollback.roster)
        apply_rollback(rollback, ledger=ledger, store=store)
        ledger.drop_evaluations_after(standing.iteration)
    else:
        for player in standing.roster:
            ledger.save_player(player)
    # After the truncation above, the payoff counters hold exactly the matches the stored ratings fold in.
    pairs = {pair: counts for pair, counts in ledger.payoff_counts().items() if pair[0] != pair[1]}
    rater = Rater(RatingBook(**config.ratings.book_kwargs(), start=start_ratings(state), pairs=pairs), ledger, run_id)
    ledger.save_ratings(rater.ratings(), standing.rated)
    on_roster = {p.player_id for p in standing.roster}
    standing.unusable = {p: why for p, why in ledger.unusable().items() if p in on_roster}
    write_progress(ledger, standing, standing.counters.stored(runner_restarts_live=0,
                                                              ledger_retries_live=ledger.retries))
    return standing, rater
