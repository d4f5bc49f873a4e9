"""The ledger interface: the run's durable record of matches and roster.

A ledger stores every match exactly once (keyed by match id), the win/draw/loss
counters of every ordered pair of players, games per player, the roster and the
run's progress. Payoff, ratings and matchmaking weights are derived from it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from league.types import MatchId, MatchRecord, PairCounts, PlayerId, PlayerRecord

if TYPE_CHECKING:
    from league.ratings import Rating


#: The run's counters kept in the ledger's progress record.
PROGRESS_FIELDS = (
    "iteration",            # last committed iteration
    "env_steps",            # env steps sampled by committed iterations
    "episodes",             # matches recorded by committed iterations (RLlib episodes that finished)
    "anchor_matches",       # rated games of new snapshots against scripted players
    "env_runner_restarts",  # remote env runners RLlib restarted after they died
    "env_restarts",         # sub-environments restarted after raising (their episodes dropped)
    "ledger_retries",       # ledger calls retried while Redis was unreachable
    "resumes",              # times the run was resumed from a checkpoint
    "checkpoint",           # iteration of the newest checkpoint written (recorded once it is on disk)
    "wall_seconds",         # wall time of the committed iterations, resumes included (rounded seconds)
)


def check_progress_fields(counters: Mapping[str, int]) -> None:
    """Refuse counter names outside :data:`PROGRESS_FIELDS` (a typo would be silently lost)."""
    unknown = sorted(set(counters) - set(PROGRESS_FIELDS))
    if unknown:
        raise ValueError(f"unknown progress counters {unknown}: expected some of {PROGRESS_FIELDS}")


class Ledger(abc.ABC):
    """Where a run's matches, roster and progress live.

    Attributes:
        retries: Calls retried while the backend was unreachable, since this object was made.
    """

    retries: int = 0

    @abc.abstractmethod
    def record(self, matches: Sequence[MatchRecord]) -> int:
        """Store matches idempotently; return how many were new.

        Recording a match id that is already stored changes nothing.
        """

    @abc.abstractmethod
    def truncate(self, position: int) -> int:
        """Take back every match after the first ``position``, newest first, with its counters.

        Returns how many were removed. Safe to run again after an interruption.
        """

    @abc.abstractmethod
    def match_count(self) -> int:
        """Number of distinct matches stored."""

    @abc.abstractmethod
    def get_match(self, match_id: MatchId) -> MatchRecord | None:
        """The stored record of ``match_id``, or None."""

    @abc.abstractmethod
    def iter_matches(self, start: int = 0) -> Iterable[MatchRecord]:
        """Every stored match from position ``start`` on, in the order first recorded."""

    @abc.abstractmethod
    def pair_counts(self, player: PlayerId, opponent: PlayerId) -> PairCounts:
        """Counters of ``player``'s matches against ``opponent``."""

    @abc.abstractmethod
    def payoff_counts(self) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of every ordered pair of players that met (the payoff matrix)."""

    @abc.abstractmethod
    def window_counts(self, players: Iterable[PlayerId], first_iteration: int,
                      last_iteration: int) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of ``players`` against every opponent over matches that
        finished in iterations ``first_iteration..last_iteration`` (inclusive)."""

    @abc.abstractmethod
    def save_ratings(self, ratings: Mapping[PlayerId, Rating], matches_rated: int) -> None:
        """Store every player's ratings and how many ledger matches they fold in, atomically."""

    @abc.abstractmethod
    def ratings(self) -> tuple[dict[PlayerId, Rating], int]:
        """Stored ratings and the number of ledger matches they fold in (0 if never saved)."""

    @abc.abstractmethod
    def games_played(self) -> dict[PlayerId, int]:
        """Matches each player took part in."""

    @abc.abstractmethod
    def save_player(self, player: PlayerRecord) -> None:
        """Add or update a roster entry."""

    @abc.abstractmethod
    def players(self) -> list[PlayerRecord]:
        """The roster, in the order players joined."""

    @abc.abstractmethod
    def remove_player(self, player_id: PlayerId) -> None:
        """Take a player off the roster (a pruned or rolled-back snapshot) and forget any unusable mark;
        its past matches stay in the ledger."""

    @abc.abstractmethod
    def set_resident(self, player_ids: Sequence[PlayerId]) -> None:
        """Record which players are RLlib policies right now (trainable and resident frozen)."""

    @abc.abstractmethod
    def resident(self) -> list[PlayerId]:
        """The players last recorded by :meth:`set_resident` (empty if never)."""

    @abc.abstractmethod
    def mark_unusable(self, player_id: PlayerId, reason: str) -> None:
        """Record that a snapshot failed verification and must not be scheduled."""

    @abc.abstractmethod
    def unusable(self) -> dict[PlayerId, str]:
        """Players marked unusable, with the reason."""

    @abc.abstractmethod
    def set_progress(self, **counters: int) -> None:
        """Record how far the run got: any of :data:`PROGRESS_FIELDS` (others are refused)."""

    @abc.abstractmethod
    def progress(self) -> dict[str, int]:
        """Every counter of :data:`PROGRESS_FIELDS` as last recorded (0 if never)."""

    @abc.abstractmethod
    def add_evaluation(self, iteration: int, opponent: str, counts: PairCounts) -> None:
        """Store the result of an evaluation of main against a scripted opponent."""

    @abc.abstractmethod
    def evaluations(self) -> list[tuple[int, str, PairCounts]]:
        """Every stored evaluation, oldest first."""

    @abc.abstractmethod
    def drop_evaluations_after(self, iteration: int) -> None:
        """Forget evaluations (and exploitability measures) of iterations after ``iteration``."""

    @abc.abstractmethod
    def add_exploitability(self, iteration: int, values: Mapping[str, float]) -> None:
        """Store the exploitability measured after ``iteration``, by player (and ``mixture``)."""

    @abc.abstractmethod
    def exploitability(self) -> list[tuple[int, dict[str, float]]]:
        """Every stored exploitability measure, oldest first."""

    @abc.abstractmethod
    def server(self) -> str:
        """What serves the ledger, for status output (e.g. ``"redis 6.2.12"``)."""

    def close(self) -> None:  # noqa: B027 - a no-op default on purpose: only some backends hold connections
        """Release connections (no-op unless a backend holds some)."""
