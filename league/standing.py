"""The league's own state between iterations, and its conversion to and from a checkpoint.

:class:`Standing` is what the league loop carries from one iteration to the
next (roster, counts, generations, the ledger position the ratings cover);
:class:`RunCounters` are the fault counters a run accumulates across resumes.
A checkpoint stores both as a :class:`~league.checkpoint.LeagueState`; these
are the only two conversions between them (:meth:`Standing.to_state`,
:meth:`Standing.from_state`).

Example:
    >>> from league.types import PlayerRecord, Role
    >>> standing = Standing.fresh([PlayerRecord(PlayerId("main"), Role.MAIN)])
    >>> standing.iteration, standing.trainable
    (0, ['main'])
    >>> again = Standing.from_state(standing.to_state("run-1", resident=[], ratings={}), resumed=True)
    >>> again.roster == standing.roster, again.counters.resumes
    (True, 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from league.checkpoint import CommittedIteration, LeagueState, RatingEntry, RosterEntry
from league.ratings import Rating
from league.types import PlayerId, PlayerRecord, Role


@dataclass
class RunCounters:
    """Fault and lifetime counters since the run started, resumes included.

    The live parts of two of them are read from elsewhere when stored
    (:meth:`stored`): env runner restarts from the trainer, ledger retries from
    the driver's ledger client.

    Attributes:
        runner_restarts_before: Env runner restarts of earlier invocations of the run.
        env_restarts: Sub-environments restarted after raising.
        ledger_retries_before: Ledger retries of earlier invocations.
        runner_ledger_retries: Ledger retries the env runners reported in this invocation.
        resumes: Times the run was resumed.
        wall_seconds: Wall seconds spent in iterations.
    """

    runner_restarts_before: int = 0
    env_restarts: int = 0
    ledger_retries_before: int = 0
    runner_ledger_retries: int = 0
    resumes: int = 0
    wall_seconds: float = 0.0

    @classmethod
    def from_stored(cls, counters: Mapping[str, int], *, resumed: bool) -> RunCounters:
        """The counters a checkpoint stored (:meth:`stored`), with one more resume if ``resumed``.

        Example:
            >>> RunCounters.from_stored({"resumes": 2, "env_restarts": 1}, resumed=True).resumes
            3
        """
        return cls(runner_restarts_before=counters.get("env_runner_restarts", 0),
                   env_restarts=counters.get("env_restarts", 0),
                   ledger_retries_before=counters.get("ledger_retries", 0),
                   resumes=counters.get("resumes", 0) + (1 if resumed else 0),
                   wall_seconds=float(counters.get("wall_seconds", 0)))

    def env_runner_restarts(self, live: int) -> int:
        """Runner restarts since the run started, given this invocation's ``live`` count."""
        return self.runner_restarts_before + live

    def ledger_retries(self, driver_live: int) -> int:
        """Ledger retries since the run started, given the driver client's ``driver_live`` count."""
        return self.ledger_retries_before + driver_live + self.runner_ledger_retries

    def stored(self, *, runner_restarts_live: int, ledger_retries_live: int) -> dict[str, int]:
        """The counters as a checkpoint and the ledger's progress store them.

        Example:
            >>> counters = RunCounters(runner_restarts_before=1, runner_ledger_retries=2, wall_seconds=9.6)
            >>> counters.stored(runner_restarts_live=1, ledger_retries_live=3)
            {'env_runner_restarts': 2, 'env_restarts': 0, 'ledger_retries': 5, 'resumes': 0, 'wall_seconds': 10}
        """
        return {"env_runner_restarts": self.env_runner_restarts(runner_restarts_live),
                "env_restarts": self.env_restarts,
                "ledger_retries": self.ledger_retries(ledger_retries_live),
                "resumes": self.resumes, "wall_seconds": round(self.wall_seconds)}


@dataclass
class Standing:
    """The league's state between iterations.

    Attributes:
        iteration: Iterations played (the last one complete).
        env_steps: Env steps sampled by those iterations.
        total_episodes: Matches (RLlib episodes) they recorded.
        abandoned_episodes: Episodes in flight dropped when their frozen player left the pool.
        anchor_matches: Anchor games of new snapshots against the scripted players.
        roster: Every member of the league, in the order they joined.
        generation_start: Each trainable player's iteration of its last snapshot or reset.
        snapshot_versions: Each trainable player's last snapshot version.
        history: What each iteration added, oldest first.
        meta_nash: The snapshots' meta-game Nash at the last exploitability measure.
        rated: Ledger matches (in recording order) the ratings fold in.
        last_checkpoint: The iteration of the last checkpoint.
        counters: Fault counters.
        unusable: Players found unusable, with the reason; matchmaking leaves them out.
        pending_deletes: Pruned snapshots to delete from the store after the next checkpoint.
    """

    iteration: int = 0
    env_steps: int = 0
    total_episodes: int = 0
    abandoned_episodes: int = 0
    anchor_matches: int = 0
    roster: list[PlayerRecord] = field(default_factory=list)
    generation_start: dict[PlayerId, int] = field(default_factory=dict)
    snapshot_versions: dict[PlayerId, int] = field(default_factory=dict)
    history: list[CommittedIteration] = field(default_factory=list)
    meta_nash: dict[PlayerId, float] = field(default_factory=dict)
    rated: int = 0
    last_checkpoint: int = 0
    counters: RunCounters = field(default_factory=RunCounters)
    unusable: dict[PlayerId, str] = field(default_factory=dict)
    pending_deletes: list[PlayerId] = field(default_factory=list)

    @classmethod
    def fresh(cls, roster: list[PlayerRecord]) -> Standing:
        """A new run's standing: its initial roster, nothing played."""
        return cls(roster=list(roster), generation_start={p.player_id: 0 for p in roster if p.trainable})

    @classmethod
    def from_state(cls, state: LeagueState, *, resumed: bool) -> Standing:
        """The standing a checkpoint stored (one more resume when ``resumed``)."""
        return cls(
            iteration=state.iteration, env_steps=state.env_steps, total_episodes=state.total_episodes,
            abandoned_episodes=state.abandoned_episodes, anchor_matches=state.anchor_matches,
            roster=[PlayerRecord(PlayerId(e.player_id), Role(e.role), PlayerId(e.parent) if e.parent else None,
                                 e.created_iteration) for e in state.roster],
            generation_start={PlayerId(k): v for k, v in state.generation_start.items()},
            snapshot_versions={PlayerId(k): v for k, v in state.snapshot_versions.items()},
            history=list(state.history), meta_nash={PlayerId(k): w for k, w in state.meta_nash.items()},
            rated=state.ledger_position, last_checkpoint=state.iteration,
            counters=RunCounters.from_stored(state.counters, resumed=resumed))

    def to_state(self, run_id: str, *, resident: list[PlayerId], ratings: Mapping[PlayerId, Rating],
                 counters: Mapping[str, int] | None = None) -> LeagueState:
        """The checkpoint's league state; ``counters`` as :meth:`RunCounters.stored` gives them."""
        return LeagueState(
            run_id=run_id, iteration=self.iteration, env_steps=self.env_steps,
            total_episodes=self.total_episodes, abandoned_episodes=self.abandoned_episodes,
            anchor_matches=self.anchor_matches, ledger_position=self.rated,
            roster=[RosterEntry(player_id=p.player_id, role=p.role.value, parent=p.parent,
                                created_iteration=p.created_iteration) for p in self.roster],
            generation_start=dict(self.generation_start), snapshot_versions=dict(self.snapshot_versions),
            resident=list(resident),
            ratings={p: RatingEntry(elo=r.elo, mu=r.mu, sigma=r.sigma, games=r.games) for p, r in ratings.items()},
            history=list(self.history),
            counters=dict(counters) if counters is not None
            else self.counters.stored(runner_restarts_live=0, ledger_retries_live=0),
            meta_nash=dict(self.meta_nash))

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
        return [p.player_id for p in self.roster if not p.trainable and p.player_id not in self.unusable]

    def record(self, player: PlayerId) -> PlayerRecord:
        """The roster's record of ``player``."""
        return next(p for p in self.roster if p.player_id == player)


def start_ratings(state: LeagueState | None) -> dict[PlayerId, Rating]:
    """The ratings a checkpoint stored (none for a new run)."""
    if state is None:
        return {}
    return {PlayerId(p): Rating(r.elo, r.mu, r.sigma, r.games) for p, r in state.ratings.items()}
