"""The Redis ledger: match records written exactly once, counters moved once.

Keys, all under ``league:{run_id}:``:
    * ``match:{match_id}``: the match record as JSON (``SET NX``: the idempotence key);
    * ``matches``: match ids in the order they were first recorded;
    * ``pair:{a}|{b}``: hash ``win``/``draw``/``loss`` of ``a`` against ``b``;
    * ``pairs``: set of the ``{a}|{b}`` pairs that met;
    * ``window:{iteration}``: hash ``{a}|{b}|{outcome}`` -> count, for the matches
      that finished in that iteration (win rates over a player's generation);
    * ``ratings``: hash player id -> ratings (JSON), ``ratings_cursor``: matches folded in;
    * ``games``: hash player id -> matches played;
    * ``players``: hash player id -> roster entry (JSON), ``roster``: join order;
    * ``resident``: the players that are RLlib policies now (JSON list);
    * ``unusable``: hash snapshot id -> why it failed verification;
    * ``progress``: hash of the run's counters (:data:`~league.ledger.base.PROGRESS_FIELDS`);
    * ``evaluations``: hash ``{iteration}|{opponent}`` -> evaluation result (JSON).
    * ``exploitability``: hash ``{iteration}`` -> ``{"iteration", "values": {player: exploitability}}`` (JSON).

One Lua script stores a batch of matches and moves their counters atomically,
each only if its match id was new, so a retried or replayed write never double counts;
another takes the newest match back out (a resumed run rolls the ledger back
to its checkpoint). Every call is retried with exponential backoff while the
server is unreachable (a restart, a network blip), up to ``retry_timeout_s``;
the caller's records stay in memory meanwhile, and because every write is
idempotent a retried write that had in fact landed changes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from league.errors import LedgerAuthError, LedgerUnavailable
from league.faults import kill_point
from league.ledger import codec
from league.ledger.base import PROGRESS_FIELDS, Ledger, PairCounts, check_progress_fields
from league.ledger.codec import OUTCOME_FIELD, match_from_json, match_to_json
from league.redact import PASSWORD_SOURCES, password_of, redact_text, redact_url
from league.types import MatchId, MatchRecord, PlayerId, PlayerRecord, RunId, validate_id

if TYPE_CHECKING:
    from league.ratings import Rating

__all__ = ["RedisLedger", "connect", "match_from_json", "match_to_json"]  # the codec's, kept importable here

# KEYS[1] match list, KEYS[2] pair set; ARGV[1] a JSON array of matches, each
# [match key, record JSON, match id, ["a|b" pairs], [counter hash, field, counter hash, field, ...]].
# Each match is stored and its counters moved only if its key was new; returns how many were.
_RECORD_SCRIPT = """
local added = 0
for _, m in ipairs(cjson.decode(ARGV[1])) do
  if redis.call('SET', m[1], m[2], 'NX') then
    redis.call('RPUSH', KEYS[1], m[3])
    for _, pair in ipairs(m[4]) do
      redis.call('SADD', KEYS[2], pair)
    end
    local counters = m[5]
    for i = 1, #counters, 2 do
      redis.call('HINCRBY', counters[i], counters[i + 1], 1)
    end
    added = added + 1
  end
end
return added
"""

# KEYS[1] players hash, KEYS[2] roster list; ARGV[1] player id, ARGV[2] entry JSON.
# A player joins the roster list once, when its entry is first written.
_SAVE_PLAYER_SCRIPT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
"""

# The undo of _RECORD_SCRIPT for the newest match: only if KEYS[2]'s last id is ARGV[2].
# KEYS[1] match key, KEYS[2] match list, KEYS[3] pair set, KEYS[4..] counter hashes; ARGV[1] the key
# prefix of pair hashes, ARGV[2] match id, ARGV[3] space-separated "a|b" pairs, ARGV[4..] the field
# to decrement in each counter hash (RedisLedger._match_updates).
_TRUNCATE_SCRIPT = """
if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then
  return 0
end
if redis.call('DEL', KEYS[1]) == 1 then
  for i = 4, #KEYS do
    if redis.call('HINCRBY', KEYS[i], ARGV[i], -1) <= 0 then
      redis.call('HDEL', KEYS[i], ARGV[i])
    end
  end
  for pair in string.gmatch(ARGV[3], '%S+') do
    if redis.call('EXISTS', ARGV[1] .. pair) == 0 then
      redis.call('SREM', KEYS[3], pair)
    end
  end
end
redis.call('RPOP', KEYS[2])
return 1
"""

_RETRYABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.NoScriptError)

T = TypeVar("T")
_log = logging.getLogger(__name__)

def _counts(raw: Mapping[bytes, bytes]) -> PairCounts:
    return codec.counts_from_fields(lambda name: int(raw.get(name.encode(), 0)))


# The clients League opens never set decode_responses, so every reply is bytes; redis-py types replies
# bytes | str (it cannot know), hence the casts to bytes where a reply is read.
def connect(url: str, *, timeout_s: float = 5.0) -> redis.Redis:
    """A Redis client for ``url`` that fails fast instead of hanging.

    Raises:
        LedgerUnavailable: if the server does not answer a PING.
        LedgerAuthError: if it needs a password and none was given, or refused the one given.
    """
    try:
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=3),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        client.ping()
    except redis.AuthenticationError as e:
        if password_of(url) is None:
            raise LedgerAuthError(
                f"Redis ledger at {redact_url(url)!r} needs a password: {PASSWORD_SOURCES}") from None
        raise LedgerAuthError(f"Redis ledger at {redact_url(url)!r} refused the password "
                              f"({redact_text(str(e), url)}): {PASSWORD_SOURCES}") from None
    except (redis.RedisError, OSError, ValueError) as e:
        raise LedgerUnavailable(
            f"Redis ledger at {redact_url(url)!r} is unreachable ({redact_text(str(e), url)}); "
            "start the server or pass another --redis-url"
        ) from e
    return client


class RedisLedger(Ledger):
    """A :class:`Ledger` in a real Redis server (external or embedded).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        run_id: Namespace of the run's keys.
        retry_timeout_s: How long one call keeps retrying, with exponential
            backoff, while the server is unreachable before it gives up with
            :class:`~league.errors.LedgerUnavailable`.
        write_batch: Matches per pipeline when recording.

    Attributes:
        retries: Calls retried after a lost connection since this object was made.
    """

    def __init__(self, url: str, run_id: RunId, *, retry_timeout_s: float = 120.0,
                 write_batch: int = 1000) -> None:
        self.url = url
        self.run_id = RunId(validate_id(run_id, kind="run id"))
        self.retry_timeout_s = retry_timeout_s
        self.write_batch = write_batch
        self.retries = 0
        self._prefix = f"league:{self.run_id}:"
        self._client = connect(url)
        self._record = self._client.register_script(_RECORD_SCRIPT)
        self._truncate = self._client.register_script(_TRUNCATE_SCRIPT)
        self._save_player = self._client.register_script(_SAVE_PLAYER_SCRIPT)
        self._counters: dict[tuple, tuple[list[str], list[str]]] = {}

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """``fn()``, retried with exponential backoff (0.1 s doubling to 5 s) while Redis is unreachable."""
        deadline = time.monotonic() + self.retry_timeout_s
        delay = 0.1
        while True:
            try:
                return fn()
            except _RETRYABLE as e:
                if time.monotonic() + delay > deadline:
                    raise LedgerUnavailable(
                        f"lost the Redis ledger at {redact_url(self.url)!r} while trying to {action} and it "
                        f"did not come back within {self.retry_timeout_s:g} s "
                        f"({redact_text(str(e), self.url)}); "
                        "is the server still running?"
                    ) from e
                self.retries += 1
                _log.warning("Redis ledger unreachable (%s); retrying %s in %.1f s",
                             redact_text(str(e), self.url), action, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _pair_key(self, player: str, opponent: str) -> str:
        return self._key("pair", codec.pair_name(player, opponent))

    def _match_counters(self, match: MatchRecord) -> tuple[list[str], list[str]]:
        """The ``a|b`` pairs that met in ``match`` and its counters (hash key and field, alternating).

        They depend only on the seats, outcomes and iteration, which most of a
        sample call's matches share: each combination is worked out once.
        """
        key = (match.seats, match.outcomes, match.iteration)
        known = self._counters.get(key)
        if known is None:
            if len(self._counters) >= 4096:
                self._counters.clear()
            known = self._counters[key] = self._new_match_counters(match)
        return known

    def _new_match_counters(self, match: MatchRecord) -> tuple[list[str], list[str]]:
        pairs = []
        counters = []
        window = self._key("window", str(match.iteration))
        for i, player in enumerate(match.seats):
            outcome = OUTCOME_FIELD[match.outcomes[i]]
            for j, opponent in enumerate(match.seats):
                if i != j:
                    pair = codec.pair_name(player, opponent)
                    pairs.append(pair)
                    counters += [self._key("pair", pair), outcome, window, codec.window_field(pair, outcome)]
        games = self._key("games")
        for player in dict.fromkeys(match.seats):
            counters += [games, player]
        return list(dict.fromkeys(pairs)), counters

    def _match_updates(self, match: MatchRecord) -> tuple[list[str], list[str]]:
        """The keys and arguments of :data:`_TRUNCATE_SCRIPT` for ``match`` (ARGV[1] is the caller's)."""
        pairs, counters = self._match_counters(match)
        keys = [self._key("match", match.match_id), self._key("matches"), self._key("pairs"), *counters[0::2]]
        return keys, ["", match.match_id, " ".join(pairs), *counters[1::2]]

    def record(self, matches: Sequence[MatchRecord]) -> int:
        """Store matches idempotently, ``write_batch`` to one script call; return how many were new."""
        added = 0
        keys = [self._key("matches"), self._key("pairs")]
        for start in range(0, len(matches), self.write_batch):
            chunk = matches[start:start + self.write_batch]
            payload = json.dumps([[self._key("match", match.match_id), match_to_json(match, self.run_id),
                                   match.match_id, *self._match_counters(match)] for match in chunk])
            added += int(self._call("record matches", functools.partial(self._record, keys=keys, args=[payload])))
            if start + self.write_batch < len(matches):
                kill_point("ledger_write", chunk[0].iteration)
        return added

    def truncate(self, position: int) -> int:
        """Take back every match after the first ``position`` (newest first), with its counters.

        Each match goes in one atomic script that checks it is still the newest,
        so an interrupted truncation simply runs again.
        """
        removed = 0
        while True:
            def newest() -> list[bytes]:
                return cast(list[bytes], self._client.lrange(self._key("matches"), max(position, 0), -1))

            ids = self._call("list matches", newest)
            if not ids:
                return removed
            raws = self._call("read matches",
                              functools.partial(self._client.mget, [self._key("match", i.decode()) for i in ids]))
            for match_id, raw in zip(reversed(ids), reversed(raws), strict=True):
                if raw is None:  # a match key without its record cannot be written by _RECORD_SCRIPT
                    raise LedgerUnavailable(f"ledger {self.run_id!r} lists match {match_id.decode()!r} "
                                            "but holds no record of it")
                keys, fields = self._match_updates(match_from_json(raw))
                fields[0] = self._key("pair", "")
                removed += int(self._call("take back a match",
                                          functools.partial(self._truncate, keys=keys, args=fields)))

    def match_count(self) -> int:
        """Number of distinct matches stored."""
        return int(self._call("count matches", lambda: self._client.llen(self._key("matches"))))

    def get_match(self, match_id: MatchId) -> MatchRecord | None:
        """The stored record of ``match_id``, or None."""
        raw = self._call("read a match", lambda: self._client.get(self._key("match", match_id)))
        return None if raw is None else match_from_json(raw)

    def iter_matches(self, start: int = 0, batch: int = 1000) -> Iterable[MatchRecord]:
        """Every stored match from position ``start`` on, oldest first, fetched in batches."""
        def fetch(start: int) -> list[bytes]:
            ids = cast(list[bytes], self._client.lrange(self._key("matches"), start, start + batch - 1))
            return cast(list[bytes], self._client.mget([self._key("match", i.decode()) for i in ids])) if ids else []

        while True:
            raws = self._call("read matches", functools.partial(fetch, start))
            if not raws:
                return
            for raw in raws:
                yield match_from_json(raw)
            start += batch

    def pair_counts(self, player: PlayerId, opponent: PlayerId) -> PairCounts:
        """Counters of ``player``'s matches against ``opponent``."""
        return _counts(self._call("read a pair", lambda: cast(dict[bytes, bytes],
                                                               self._client.hgetall(self._pair_key(player, opponent)))))

    def payoff_counts(self) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of every ordered pair of players that met."""
        def read() -> tuple[list[str], list[Mapping[bytes, bytes]]]:
            pairs = sorted(p.decode() for p in cast(set[bytes], self._client.smembers(self._key("pairs"))))
            pipe = self._client.pipeline(transaction=False)
            for pair in pairs:
                pipe.hgetall(self._key("pair", pair))
            return pairs, pipe.execute()

        pairs, raws = self._call("read the payoff", read)
        out = {}
        for pair, raw in zip(pairs, raws, strict=True):
            out[codec.split_pair(pair)] = _counts(raw)
        return out

    def window_counts(self, players: Iterable[PlayerId], first_iteration: int,
                      last_iteration: int) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of ``players`` over the matches of iterations ``first..last``."""
        iterations = range(max(first_iteration, 0), last_iteration + 1)

        def read() -> list[Mapping[bytes, bytes]]:
            pipe = self._client.pipeline(transaction=False)
            for iteration in iterations:
                pipe.hgetall(self._key("window", str(iteration)))
            return pipe.execute()

        fields = [(name.decode(), int(value)) for raw in self._call("read results by iteration", read)
                  for name, value in raw.items()]
        return codec.fold_windows(fields, set(players))

    def save_ratings(self, ratings: Mapping[PlayerId, Rating], matches_rated: int) -> None:
        """Store ratings and the number of matches they fold in, in one transaction."""
        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._key("ratings"))
            if ratings:
                pipe.hset(self._key("ratings"), mapping={p: codec.rating_to_json(r) for p, r in ratings.items()})
            pipe.set(self._key("ratings_cursor"), matches_rated)
            pipe.execute()

        self._call("save ratings", write)

    def ratings(self) -> tuple[dict[PlayerId, Rating], int]:
        """Stored ratings and the number of ledger matches they fold in."""
        def read() -> list:
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(self._key("ratings"))
            pipe.get(self._key("ratings_cursor"))
            return pipe.execute()

        raw, cursor = self._call("read ratings", read)
        ratings = {PlayerId(k.decode()): codec.rating_from_json(v) for k, v in raw.items()}
        return ratings, int(cursor or 0)

    def games_played(self) -> dict[PlayerId, int]:
        """Matches each player took part in."""
        raw = self._call("read games played",
                         lambda: cast(dict[bytes, bytes], self._client.hgetall(self._key("games"))))
        return {PlayerId(k.decode()): int(v) for k, v in raw.items()}

    def save_player(self, player: PlayerRecord) -> None:
        """Add or update a roster entry."""
        entry = codec.player_to_json(player)
        self._call("save a roster entry", lambda: self._save_player(
            keys=[self._key("players"), self._key("roster")], args=[player.player_id, entry]))

    def players(self) -> list[PlayerRecord]:
        """The roster, in the order players joined."""
        def read() -> tuple[list[str], Mapping[bytes, bytes]]:
            order = [i.decode() for i in cast(list[bytes], self._client.lrange(self._key("roster"), 0, -1))]
            return order, cast(dict[bytes, bytes], self._client.hgetall(self._key("players")))

        order, raw = self._call("read the roster", read)
        return [codec.player_from_json(raw[player_id.encode()]) for player_id in order]

    def remove_player(self, player_id: PlayerId) -> None:
        """Take a player off the roster and drop its unusable mark (its matches, counters and ratings stay)."""
        validate_id(player_id, kind="player id")

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(self._key("players"), player_id)
            pipe.lrem(self._key("roster"), 0, player_id)
            pipe.hdel(self._key("unusable"), player_id)
            pipe.execute()

        self._call("remove a roster entry", write)

    def set_resident(self, player_ids: Sequence[PlayerId]) -> None:
        """Record the players that are RLlib policies now."""
        self._call("save the resident players",
                   lambda: self._client.set(self._key("resident"), codec.resident_to_json(player_ids)))

    def resident(self) -> list[PlayerId]:
        """The players last recorded as RLlib policies."""
        raw = self._call("read the resident players", lambda: self._client.get(self._key("resident")))
        return codec.resident_from_json(raw)

    def mark_unusable(self, player_id: PlayerId, reason: str) -> None:
        """Record that ``player_id`` failed verification."""
        validate_id(player_id, kind="player id")
        self._call("mark a snapshot unusable", lambda: self._client.hset(self._key("unusable"), player_id, reason))

    def unusable(self) -> dict[PlayerId, str]:
        """Players marked unusable, with the reason."""
        raw = self._call("read unusable snapshots",
                         lambda: cast(dict[bytes, bytes], self._client.hgetall(self._key("unusable"))))
        return {PlayerId(k.decode()): v.decode() for k, v in raw.items()}

    def set_progress(self, **counters: int) -> None:
        """Record how far the run got (any of :data:`~league.ledger.base.PROGRESS_FIELDS`)."""
        check_progress_fields(counters)
        # A fresh dict: redis-py types the mapping with its own key type (a dict's keys are invariant).
        self._call("save progress", lambda: self._client.hset(self._key("progress"),
                                                              mapping={k: v for k, v in counters.items()}))

    def progress(self) -> dict[str, int]:
        """Every counter of :data:`~league.ledger.base.PROGRESS_FIELDS` as last recorded (0 if never)."""
        raw = self._call("read progress", lambda: self._client.hgetall(self._key("progress")))
        return {k: int(raw.get(k.encode(), 0)) for k in PROGRESS_FIELDS}

    def add_evaluation(self, iteration: int, opponent: str, counts: PairCounts) -> None:
        """Store one evaluation result (again for the same iteration and opponent: replaced)."""
        data = codec.evaluation_to_json(iteration, opponent, counts)
        self._call("save an evaluation", lambda: self._client.hset(
            self._key("evaluations"), codec.evaluation_key(iteration, opponent), data))

    def evaluations(self) -> list[tuple[int, str, PairCounts]]:
        """Every stored evaluation, oldest first."""
        raw = self._call("read evaluations", lambda: self._client.hgetall(self._key("evaluations")))
        return [codec.evaluation_from_json(item) for _, item in sorted(raw.items())]

    def drop_evaluations_after(self, iteration: int) -> None:
        """Forget evaluations and exploitability measures of iterations after ``iteration``.

        A resumed run plays those iterations again.
        """
        def write() -> None:
            for key in (self._key("evaluations"), self._key("exploitability")):
                names = [n for n in cast(list[bytes], self._client.hkeys(key))
                         if codec.iteration_of_key(n.decode()) > iteration]
                if names:
                    self._client.hdel(key, *names)

        self._call("drop evaluations", write)

    def add_exploitability(self, iteration: int, values: Mapping[str, float]) -> None:
        """Store one exploitability measure (again for the same iteration: replaced)."""
        data = codec.exploitability_to_json(iteration, values)
        self._call("save exploitability", lambda: self._client.hset(
            self._key("exploitability"), codec.exploitability_key(iteration), data))

    def exploitability(self) -> list[tuple[int, dict[str, float]]]:
        """Every stored exploitability measure, oldest first."""
        raw = self._call("read exploitability", lambda: self._client.hgetall(self._key("exploitability")))
        return [codec.exploitability_from_json(item) for _, item in sorted(raw.items())]

    def server(self) -> str:
        """What serves the ledger, from Redis's ``INFO server``: e.g. ``"valkey 8.0.2"`` or ``"redis 6.2.12"``."""
        info = self._call("read the server's INFO", lambda: self._client.info("server"))
        name = info.get("server_name") or ("valkey" if "valkey_version" in info else "redis")
        version = info.get("valkey_version") or info.get("redis_version", "unknown")
        executable = info.get("executable")
        return f"{name} {version}" + (f" ({executable})" if executable else "")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
