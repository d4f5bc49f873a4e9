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
    * ``progress``: hash ``iteration``/``env_steps``/``episodes``;
    * ``evaluations``: list of evaluation results (JSON).

One Lua script stores a match and moves its counters atomically, and only if
the match id was new, so a retried or replayed write never double counts.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from typing import Iterable, Iterator, Mapping, Sequence

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from league.errors import LedgerUnavailable
from league.ledger.base import Ledger, PairCounts
from league.ratings import Rating
from league.types import MatchId, MatchRecord, Outcome, PlayerId, PlayerRecord, Role, RunId, validate_id

# KEYS[1] match key, KEYS[2] match list, KEYS[3] pair set, KEYS[4..] counter hashes;
# ARGV[1] record JSON, ARGV[2] match id, ARGV[3] space-separated "a|b" pairs,
# ARGV[4..] the field to increment in each counter hash.
_RECORD_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  for pair in string.gmatch(ARGV[3], '%S+') do
    redis.call('SADD', KEYS[3], pair)
  end
  for i = 4, #KEYS do
    redis.call('HINCRBY', KEYS[i], ARGV[i], 1)
  end
  return 1
end
return 0
"""

# KEYS[1] players hash, KEYS[2] roster list; ARGV[1] player id, ARGV[2] entry JSON.
# A player joins the roster list once, when its entry is first written.
_SAVE_PLAYER_SCRIPT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
"""

_OUTCOME_FIELD = {Outcome.WIN: "win", Outcome.DRAW: "draw", Outcome.LOSS: "loss"}


def _counts(raw: Mapping[bytes, bytes]) -> PairCounts:
    get = lambda name: int(raw.get(name.encode(), 0))  # noqa: E731
    return PairCounts(wins=get("win"), draws=get("draw"), losses=get("loss"))


def match_to_json(match: MatchRecord, run_id: str) -> str:
    """Serialise a match record with its run id (outcomes included, for readers of the raw key)."""
    data = asdict(match)
    data["run_id"] = run_id
    data["outcomes"] = [o.value for o in match.outcomes]
    return json.dumps(data, sort_keys=True)


def match_from_json(text: str | bytes) -> MatchRecord:
    """Parse a match record written by :func:`match_to_json`."""
    data = json.loads(text)
    data.pop("outcomes", None)
    data.pop("run_id", None)
    data["seats"] = tuple(PlayerId(s) for s in data["seats"])
    data["returns"] = tuple(float(r) for r in data["returns"])
    data["match_id"] = MatchId(data["match_id"])
    data["learner"] = None if data.get("learner") is None else PlayerId(data["learner"])
    return MatchRecord(**data)


def connect(url: str, *, timeout_s: float = 5.0) -> redis.Redis:
    """A Redis client for ``url`` that fails fast instead of hanging.

    Raises:
        LedgerUnavailable: if the server does not answer a PING.
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
    except (redis.RedisError, OSError, ValueError) as e:
        raise LedgerUnavailable(
            f"Redis ledger at {url!r} is unreachable ({e}); start the server or pass another --redis-url"
        ) from e
    return client


class RedisLedger(Ledger):
    """A :class:`Ledger` in a real Redis server (external or embedded).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        run_id: Namespace of the run's keys.
    """

    def __init__(self, url: str, run_id: RunId) -> None:
        self.url = url
        self.run_id = RunId(validate_id(run_id, kind="run id"))
        self._prefix = f"league:{self.run_id}:"
        self._client = connect(url)
        self._record = self._client.register_script(_RECORD_SCRIPT)
        self._save_player = self._client.register_script(_SAVE_PLAYER_SCRIPT)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise LedgerUnavailable(
                f"lost the Redis ledger at {self.url!r} ({e}); is the server still running?"
            ) from e

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _pair_key(self, player: str, opponent: str) -> str:
        return self._key("pair", f"{player}|{opponent}")

    def record(self, matches: Sequence[MatchRecord]) -> int:
        """Store matches idempotently in one pipeline; return how many were new."""
        if not matches:
            return 0
        with self._guard():
            pipe = self._client.pipeline(transaction=False)
            for match in matches:
                keys = [self._key("match", match.match_id), self._key("matches"), self._key("pairs")]
                fields = [match_to_json(match, self.run_id), match.match_id, ""]
                pairs = []
                window = self._key("window", str(match.iteration))
                for i, player in enumerate(match.seats):
                    for j, opponent in enumerate(match.seats):
                        if i != j:
                            outcome = _OUTCOME_FIELD[match.outcomes[i]]
                            pairs.append(f"{player}|{opponent}")
                            keys += [self._pair_key(player, opponent), window]
                            fields += [outcome, f"{player}|{opponent}|{outcome}"]
                fields[2] = " ".join(dict.fromkeys(pairs))
                for player in dict.fromkeys(match.seats):
                    keys.append(self._key("games"))
                    fields.append(player)
                self._record(keys=keys, args=fields, client=pipe)
            return int(sum(pipe.execute()))

    def match_count(self) -> int:
        """Number of distinct matches stored."""
        with self._guard():
            return int(self._client.llen(self._key("matches")))

    def get_match(self, match_id: MatchId) -> MatchRecord | None:
        """The stored record of ``match_id``, or None."""
        with self._guard():
            raw = self._client.get(self._key("match", match_id))
        return None if raw is None else match_from_json(raw)

    def iter_matches(self, start: int = 0, batch: int = 1000) -> Iterable[MatchRecord]:
        """Every stored match from position ``start`` on, oldest first, fetched in batches."""
        while True:
            with self._guard():
                ids = self._client.lrange(self._key("matches"), start, start + batch - 1)
                if not ids:
                    return
                raws = self._client.mget([self._key("match", i.decode()) for i in ids])
            for raw in raws:
                yield match_from_json(raw)
            start += batch

    def pair_counts(self, player: PlayerId, opponent: PlayerId) -> PairCounts:
        """Counters of ``player``'s matches against ``opponent``."""
        with self._guard():
            return _counts(self._client.hgetall(self._pair_key(player, opponent)))

    def payoff_counts(self) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of every ordered pair of players that met."""
        with self._guard():
            pairs = sorted(p.decode() for p in self._client.smembers(self._key("pairs")))
            pipe = self._client.pipeline(transaction=False)
            for pair in pairs:
                pipe.hgetall(self._key("pair", pair))
            raws = pipe.execute()
        out = {}
        for pair, raw in zip(pairs, raws):
            player, opponent = pair.split("|")
            out[(PlayerId(player), PlayerId(opponent))] = _counts(raw)
        return out

    def window_counts(self, players: Iterable[PlayerId], first_iteration: int,
                      last_iteration: int) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Counters of ``players`` over the matches of iterations ``first..last``."""
        wanted = set(players)
        iterations = range(max(first_iteration, 0), last_iteration + 1)
        with self._guard():
            pipe = self._client.pipeline(transaction=False)
            for iteration in iterations:
                pipe.hgetall(self._key("window", str(iteration)))
            raws = pipe.execute()
        totals: dict[tuple[PlayerId, PlayerId], dict[str, int]] = {}
        for raw in raws:
            for name, value in raw.items():
                player, opponent, outcome = name.decode().split("|")
                if player in wanted:
                    entry = totals.setdefault((PlayerId(player), PlayerId(opponent)), {})
                    entry[outcome] = entry.get(outcome, 0) + int(value)
        return {pair: PairCounts(c.get("win", 0), c.get("draw", 0), c.get("loss", 0))
                for pair, c in totals.items()}

    def save_ratings(self, ratings: Mapping[PlayerId, Rating], matches_rated: int) -> None:
        """Store ratings and the number of matches they fold in, in one transaction."""
        with self._guard():
            pipe = self._client.pipeline(transaction=True)
            if ratings:
                pipe.hset(self._key("ratings"), mapping={p: json.dumps(asdict(r)) for p, r in ratings.items()})
            pipe.set(self._key("ratings_cursor"), matches_rated)
            pipe.execute()

    def ratings(self) -> tuple[dict[PlayerId, Rating], int]:
        """Stored ratings and the number of ledger matches they fold in."""
        with self._guard():
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(self._key("ratings"))
            pipe.get(self._key("ratings_cursor"))
            raw, cursor = pipe.execute()
        ratings = {PlayerId(k.decode()): Rating(**json.loads(v)) for k, v in raw.items()}
        return ratings, int(cursor or 0)

    def games_played(self) -> dict[PlayerId, int]:
        """Matches each player took part in."""
        with self._guard():
            raw = self._client.hgetall(self._key("games"))
        return {PlayerId(k.decode()): int(v) for k, v in raw.items()}

    def save_player(self, player: PlayerRecord) -> None:
        """Add or update a roster entry."""
        data = {"player_id": player.player_id, "role": player.role.value,
                "parent": player.parent, "created_iteration": player.created_iteration}
        with self._guard():
            self._save_player(keys=[self._key("players"), self._key("roster")],
                              args=[player.player_id, json.dumps(data)])

    def players(self) -> list[PlayerRecord]:
        """The roster, in the order players joined."""
        with self._guard():
            order = [i.decode() for i in self._client.lrange(self._key("roster"), 0, -1)]
            raw = self._client.hgetall(self._key("players"))
        records = []
        for player_id in order:
            data = json.loads(raw[player_id.encode()])
            records.append(PlayerRecord(PlayerId(data["player_id"]), Role(data["role"]),
                                        data["parent"], int(data["created_iteration"])))
        return records

    def remove_player(self, player_id: PlayerId) -> None:
        """Take a player off the roster (its matches, counters and ratings stay)."""
        validate_id(player_id, kind="player id")
        with self._guard():
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(self._key("players"), player_id)
            pipe.lrem(self._key("roster"), 0, player_id)
            pipe.execute()

    def set_resident(self, player_ids: Sequence[PlayerId]) -> None:
        """Record the players that are RLlib policies now."""
        with self._guard():
            self._client.set(self._key("resident"), json.dumps(list(player_ids)))

    def resident(self) -> list[PlayerId]:
        """The players last recorded as RLlib policies."""
        with self._guard():
            raw = self._client.get(self._key("resident"))
        return [PlayerId(p) for p in json.loads(raw)] if raw else []

    def mark_unusable(self, player_id: PlayerId, reason: str) -> None:
        """Record that ``player_id`` failed verification."""
        validate_id(player_id, kind="player id")
        with self._guard():
            self._client.hset(self._key("unusable"), player_id, reason)

    def unusable(self) -> dict[PlayerId, str]:
        """Players marked unusable, with the reason."""
        with self._guard():
            raw = self._client.hgetall(self._key("unusable"))
        return {PlayerId(k.decode()): v.decode() for k, v in raw.items()}

    def set_progress(self, *, iteration: int, env_steps: int, episodes: int,
                     anchor_matches: int = 0) -> None:
        """Record how far the run got."""
        with self._guard():
            self._client.hset(self._key("progress"), mapping={
                "iteration": iteration, "env_steps": env_steps, "episodes": episodes,
                "anchor_matches": anchor_matches})

    def progress(self) -> dict[str, int]:
        """``iteration``, ``env_steps``, ``episodes`` and ``anchor_matches`` as last recorded."""
        with self._guard():
            raw = self._client.hgetall(self._key("progress"))
        return {k: int(raw.get(k.encode(), 0)) for k in ("iteration", "env_steps", "episodes", "anchor_matches")}

    def add_evaluation(self, iteration: int, opponent: str, counts: PairCounts) -> None:
        """Store one evaluation result."""
        data = {"iteration": iteration, "opponent": opponent, **asdict(counts)}
        with self._guard():
            self._client.rpush(self._key("evaluations"), json.dumps(data))

    def evaluations(self) -> list[tuple[int, str, PairCounts]]:
        """Every stored evaluation, oldest first."""
        with self._guard():
            raw = self._client.lrange(self._key("evaluations"), 0, -1)
        out = []
        for item in raw:
            data = json.loads(item)
            out.append((int(data["iteration"]), str(data["opponent"]),
                        PairCounts(data["wins"], data["draws"], data["losses"])))
        return out

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
