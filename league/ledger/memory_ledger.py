"""The in-memory ledger: the Redis ledger's behaviour in this process's memory.

For tests and one-process experiments: every :class:`MemoryLedger` opened with
the same name and run id in one process shares one set of tables (so a test can
close a ledger and open it again), and the data is gone when the process ends.
It lives in one process only: a run whose env runners are other processes (Ray
workers) cannot share it, so such runs need the Redis ledger.

Every record is kept as the text :mod:`league.ledger.codec` gives, as Redis
keeps it, and every counter moves as the Redis backend's scripts move it
(a match id is recorded once, counters that fall to zero disappear, the pairs
that met are those with a counter left), so the two backends pass the same
contract suite (``tests/contracts/ledger_contract.py``). One lock per set of
tables makes every call atomic across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from league.faults import kill_point
from league.ledger import codec
from league.ledger.base import PROGRESS_FIELDS, Ledger, check_progress_fields
from league.types import MatchId, MatchRecord, PairCounts, PlayerId, PlayerRecord, RunId, validate_id

if TYPE_CHECKING:
    from league.ratings import Rating

#: URL scheme of the in-memory ledger: ``memory://NAME``.
MEMORY_SCHEME = "memory"

K = TypeVar("K")


@dataclass
class _Tables:
    """One run's data, laid out as the Redis backend's keys (see :mod:`league.ledger.redis_ledger`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    matches: dict[str, str] = field(default_factory=dict)           # match id -> record JSON
    order: list[str] = field(default_factory=list)                  # match ids, first recorded first
    pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # "a|b" -> outcome -> count
    windows: dict[int, dict[str, int]] = field(default_factory=dict)  # iteration -> "a|b|outcome" -> count
    games: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, str] = field(default_factory=dict)           # player id -> rating JSON
    ratings_cursor: int = 0
    players: dict[str, str] = field(default_factory=dict)           # player id -> roster entry JSON
    roster: list[str] = field(default_factory=list)                 # join order
    resident: str | None = None                                     # JSON list
    unusable: dict[str, str] = field(default_factory=dict)
    progress: dict[str, str] = field(default_factory=dict)          # counter -> its decimal text
    evaluations: dict[str, str] = field(default_factory=dict)       # evaluation key -> JSON
    exploitability: dict[str, str] = field(default_factory=dict)    # exploitability key -> JSON


_shared: dict[tuple[str, str], _Tables] = {}
_shared_lock = threading.Lock()


def _tables(name: str, run_id: str) -> _Tables:
    """The tables of ``run_id`` in the memory ledger ``name``, made on first use."""
    with _shared_lock:
        return _shared.setdefault((name, run_id), _Tables())


def _lrange(items: Sequence[str], start: int, stop: int) -> list[str]:
    """``items[start..stop]``, both ends inclusive and counted from the end when negative (Redis ``LRANGE``)."""
    size = len(items)
    start = max(size + start, 0) if start < 0 else start
    stop = size + stop if stop < 0 else stop
    return list(items[start:stop + 1]) if start <= stop else []


def _move(counters: dict[str, int], name: str, delta: int) -> None:
    """Move counter ``name`` by ``delta`` (Redis ``HINCRBY``); a counter taken back to zero is dropped
    (the truncation script's ``HDEL``)."""
    value = counters.get(name, 0) + delta
    if delta < 0 and value <= 0:
        counters.pop(name, None)
    else:
        counters[name] = value


def _move_in(hashes: dict[K, dict[str, int]], key: K, name: str, delta: int) -> None:
    """:func:`_move` on ``hashes[key]``, which disappears once empty (as an empty Redis hash does)."""
    counters = hashes.setdefault(key, {})
    _move(counters, name, delta)
    if not counters:
        del hashes[key]


def _counts(counters: Mapping[str, int]) -> PairCounts:
    return codec.counts_from_fields(lambda name: counters.get(name, 0))


def _progress_text(name: str, value: int) -> str:
    """A progress counter as Redis stores it (redis-py refuses booleans and anything not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"progress counter {name}={value!r}: expected a number")
    return repr(value)


class MemoryLedger(Ledger):
    """A :class:`Ledger` kept in this process's memory (one process only; see the module docstring).

    Args:
        name: Which memory ledger (the ``NAME`` of ``memory://NAME``); ledgers of
            the same name and run id in one process share their data.
        run_id: Namespace of the run's data.
        retry_timeout_s: Accepted for the same signature as the Redis ledger; memory never needs a retry.
        write_batch: Matches recorded per atomic step (the Redis ledger's script call).

    Attributes:
        retries: Always 0: memory is never unreachable.

    Example:
        >>> ledger = MemoryLedger("doc", "run-1")
        >>> MemoryLedger("doc", "run-1").match_count() == ledger.match_count()
        True
    """

    def __init__(self, name: str, run_id: RunId, *, retry_timeout_s: float = 120.0,
                 write_batch: int = 1000) -> None:
        if not name:
            raise ValueError("a memory ledger needs a name: memory://NAME")
        self.name = name
        self.url = f"{MEMORY_SCHEME}://{name}"
        self.run_id = RunId(validate_id(run_id, kind="run id"))
        self.retry_timeout_s = retry_timeout_s
        self.write_batch = write_batch
        self.retries = 0
        self._data = _tables(name, self.run_id)

    def _move_counters(self, match: MatchRecord, delta: int) -> None:
        """Move every counter ``match`` touches by ``delta`` (the caller holds the lock)."""
        data = self._data
        for i, player in enumerate(match.seats):
            outcome = codec.OUTCOME_FIELD[match.outcomes[i]]
            for j, opponent in enumerate(match.seats):
                if i != j:
                    pair = codec.pair_name(player, opponent)
                    _move_in(data.pairs, pair, outcome, delta)
                    _move_in(data.windows, match.iteration, codec.window_field(pair, outcome), delta)
        for player in dict.fromkeys(match.seats):
            _move(data.games, player, delta)

    def record(self, matches: Sequence[MatchRecord]) -> int:
        """Store matches idempotently, ``write_batch`` at a time; return how many were new."""
        added = 0
        for start in range(0, len(matches), self.write_batch):
            chunk = matches[start:start + self.write_batch]
            with self._data.lock:
                for match in chunk:
                    if match.match_id not in self._data.matches:
                        self._data.matches[match.match_id] = codec.match_to_json(match, self.run_id)
                        self._data.order.append(match.match_id)
                        self._move_counters(match, 1)
                        added += 1
            if start + self.write_batch < len(matches):
                kill_point("ledger_write", chunk[0].iteration)
        return added

    def truncate(self, position: int) -> int:
        """Take back every match after the first ``position`` (newest first), with its counters."""
        removed = 0
        with self._data.lock:
            while len(self._data.order) > max(position, 0):
                match_id = self._data.order.pop()
                self._move_counters(codec.match_from_json(self._data.matches.pop(match_id)), -1)
                removed += 1
        return removed

    def match_count(self) -> int:
        """Number of distinct matches stored."""
        with self._data.lock:
            return len(self._data.order)

    def get_match(self, match_id: MatchId) -> MatchRecord | None:
        """The stored record of ``match_id``, or None."""
        with self._data.lock:
            raw = self._data.matches.get(match_id)
        return None if raw is None else codec.match_from_json(raw)

    def iter_matches(self, start: int = 0, batch: int = 1000) -> Iterator[MatchRecord]:
        """Every stored match from position ``start`` on, oldest first, read ``batch`` at a time."""
        while True:
            with self._data.lock:
                raws = [self._data.matches[i] for i in _lrange(self._data.order, start, start + batch - 1)]
            if not raws:
                return
            for raw in raws:
                yield codec.match_from_json(raw)
            start += batch

    def pair_counts(self, player: PlayerId, opponent: PlayerId) -> PairCounts:
        """Counters of ``player``'s matches against ``opponent``."""
        with self._data.lock:
            return _counts(self._data.pairs.get(codec.pair_name(player, opponent), {}))

    def payoff_counts(self) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of every ordered pair of players that met."""
        out = {}
        with self._data.lock:
            for pair, counters in sorted(self._data.pairs.items()):
                out[codec.split_pair(pair)] = _counts(counters)
        return out

    def window_counts(self, players: Iterable[PlayerId], first_iteration: int,
                      last_iteration: int) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of ``players`` over the matches of iterations ``first..last``."""
        with self._data.lock:
            fields = [item for iteration in range(max(first_iteration, 0), last_iteration + 1)
                      for item in self._data.windows.get(iteration, {}).items()]
        return codec.fold_windows(fields, set(players))

    def save_ratings(self, ratings: Mapping[PlayerId, Rating], matches_rated: int) -> None:
        """Store ratings and the number of matches they fold in, together."""
        encoded: dict[str, str] = {player: codec.rating_to_json(rating) for player, rating in ratings.items()}
        with self._data.lock:
            self._data.ratings = encoded
            self._data.ratings_cursor = int(matches_rated)

    def ratings(self) -> tuple[dict[PlayerId, Rating], int]:
        """Stored ratings and the number of ledger matches they fold in."""
        with self._data.lock:
            raw, cursor = dict(self._data.ratings), self._data.ratings_cursor
        return {PlayerId(k): codec.rating_from_json(v) for k, v in raw.items()}, cursor

    def games_played(self) -> dict[PlayerId, int]:
        """Matches each player took part in."""
        with self._data.lock:
            return {PlayerId(k): v for k, v in self._data.games.items()}

    def save_player(self, player: PlayerRecord) -> None:
        """Add or update a roster entry (a new player joins the end of the roster)."""
        entry = codec.player_to_json(player)
        with self._data.lock:
            if player.player_id not in self._data.players:
                self._data.roster.append(player.player_id)
            self._data.players[player.player_id] = entry

    def players(self) -> list[PlayerRecord]:
        """The roster, in the order players joined."""
        with self._data.lock:
            raws = [self._data.players[player_id] for player_id in self._data.roster]
        return [codec.player_from_json(raw) for raw in raws]

    def remove_player(self, player_id: PlayerId) -> None:
        """Take a player off the roster and drop its unusable mark (its matches, counters and ratings stay)."""
        validate_id(player_id, kind="player id")
        with self._data.lock:
            self._data.players.pop(player_id, None)
            self._data.roster[:] = [p for p in self._data.roster if p != player_id]
            self._data.unusable.pop(player_id, None)

    def set_resident(self, player_ids: Sequence[PlayerId]) -> None:
        """Record the players that are RLlib policies now."""
        encoded = codec.resident_to_json(player_ids)
        with self._data.lock:
            self._data.resident = encoded

    def resident(self) -> list[PlayerId]:
        """The players last recorded as RLlib policies."""
        with self._data.lock:
            raw = self._data.resident
        return codec.resident_from_json(raw)

    def mark_unusable(self, player_id: PlayerId, reason: str) -> None:
        """Record that ``player_id`` failed verification."""
        validate_id(player_id, kind="player id")
        with self._data.lock:
            self._data.unusable[player_id] = str(reason)

    def unusable(self) -> dict[PlayerId, str]:
        """Players marked unusable, with the reason."""
        with self._data.lock:
            return {PlayerId(k): v for k, v in self._data.unusable.items()}

    def set_progress(self, **counters: int) -> None:
        """Record how far the run got (any of :data:`~league.ledger.base.PROGRESS_FIELDS`)."""
        check_progress_fields(counters)
        encoded = {name: _progress_text(name, value) for name, value in counters.items()}
        with self._data.lock:
            self._data.progress.update(encoded)

    def progress(self) -> dict[str, int]:
        """Every counter of :data:`~league.ledger.base.PROGRESS_FIELDS` as last recorded (0 if never)."""
        with self._data.lock:
            raw = dict(self._data.progress)
        return {k: int(raw.get(k, 0)) for k in PROGRESS_FIELDS}

    def add_evaluation(self, iteration: int, opponent: str, counts: PairCounts) -> None:
        """Store one evaluation result (again for the same iteration and opponent: replaced)."""
        encoded = codec.evaluation_to_json(iteration, opponent, counts)
        with self._data.lock:
            self._data.evaluations[codec.evaluation_key(iteration, opponent)] = encoded

    def evaluations(self) -> list[tuple[int, str, PairCounts]]:
        """Every stored evaluation, oldest first."""
        with self._data.lock:
            raws = [raw for _, raw in sorted(self._data.evaluations.items())]
        return [codec.evaluation_from_json(raw) for raw in raws]

    def drop_evaluations_after(self, iteration: int) -> None:
        """Forget evaluations and exploitability measures of iterations after ``iteration``."""
        with self._data.lock:
            for table in (self._data.evaluations, self._data.exploitability):
                for key in [k for k in table if codec.iteration_of_key(k) > iteration]:
                    del table[key]

    def add_exploitability(self, iteration: int, values: Mapping[str, float]) -> None:
        """Store one exploitability measure (again for the same iteration: replaced)."""
        encoded = codec.exploitability_to_json(iteration, values)
        with self._data.lock:
            self._data.exploitability[codec.exploitability_key(iteration)] = encoded

    def exploitability(self) -> list[tuple[int, dict[str, float]]]:
        """Every stored exploitability measure, oldest first."""
        with self._data.lock:
            raws = [raw for _, raw in sorted(self._data.exploitability.items())]
        return [codec.exploitability_from_json(raw) for raw in raws]

    def server(self) -> str:
        """What serves the ledger: this process's memory."""
        return f"memory ({self.name!r}, this process only)"

    def close(self) -> None:
        """Nothing to release: the data stays for the next ledger of the same name and run id."""
