"""The JSON form of every record a ledger stores, shared by all backends.

One encoder and one decoder per record: match (:class:`~league.types.MatchRecord`),
roster entry (:class:`~league.types.PlayerRecord`), rating
(:class:`~league.ratings.Rating`), evaluation result, exploitability measure and
the resident list; plus the names of the hash fields that hold win/draw/loss
counters (:class:`~league.types.PairCounts`) and of the keys evaluations and
exploitability measures are filed under.

The text is exactly what the Redis backend has always written (runs started by
an older League read back unchanged), so nothing here may change its output:
key order, separators and number formats included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING

from league.types import MatchId, MatchRecord, Outcome, PairCounts, PlayerId, PlayerRecord, Role

if TYPE_CHECKING:
    from league.ratings import Rating

#: Counter field of each outcome, in a pair's (and an iteration window's) counters.
OUTCOME_FIELD = {Outcome.WIN: "win", Outcome.DRAW: "draw", Outcome.LOSS: "loss"}


def match_to_json(match: MatchRecord, run_id: str) -> str:
    """Serialise a match record with its run id (outcomes included, for readers of the raw key).

    The fields are read shallowly (``asdict`` deep-copies each one: a tenth of a
    millisecond per match, paid by every env runner for every match it records).

    Example:
        >>> from league.types import MatchRecord
        >>> match_to_json(MatchRecord("m1", ("a", "b"), (1.0, -1.0), 9, 5.0, 0.5, 2, "a"), "run")[:60]
        '{"duration_s": 0.5, "iteration": 2, "learner": "a", "length"'
    """
    data = {f.name: getattr(match, f.name) for f in fields(match)}
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


def player_to_json(player: PlayerRecord) -> str:
    """Serialise a roster entry.

    Example:
        >>> from league.types import PlayerRecord, Role
        >>> player_to_json(PlayerRecord("main_v1", Role.SNAPSHOT, "main", 5))
        '{"player_id": "main_v1", "role": "snapshot", "parent": "main", "created_iteration": 5}'
    """
    data = {"player_id": player.player_id, "role": player.role.value,
            "parent": player.parent, "created_iteration": player.created_iteration}
    return json.dumps(data)


def player_from_json(text: str | bytes) -> PlayerRecord:
    """Parse a roster entry written by :func:`player_to_json`."""
    data = json.loads(text)
    return PlayerRecord(PlayerId(data["player_id"]), Role(data["role"]),
                        data["parent"], int(data["created_iteration"]))


def rating_to_json(rating: Rating) -> str:
    """Serialise one player's ratings (every field of :class:`~league.ratings.Rating`)."""
    return json.dumps(asdict(rating))


def rating_from_json(text: str | bytes) -> Rating:
    """Parse one player's ratings written by :func:`rating_to_json`."""
    from league.ratings import Rating  # numpy and openskill: only for a reader of ratings

    return Rating(**json.loads(text))


def counts_from_fields(get: Callable[[str], int]) -> PairCounts:
    """The :class:`PairCounts` whose ``win``/``draw``/``loss`` counters ``get`` returns (0 if absent)."""
    return PairCounts(wins=get("win"), draws=get("draw"), losses=get("loss"))


def pair_name(player: str, opponent: str) -> str:
    """The name of an ordered pair of players in both backends' counters: ``player|opponent``."""
    return f"{player}|{opponent}"


def split_pair(name: str) -> tuple[PlayerId, PlayerId]:
    """The two players of a :func:`pair_name`."""
    player, opponent = name.split("|")
    return PlayerId(player), PlayerId(opponent)


def window_field(pair: str, outcome: str) -> str:
    """The per-iteration counter of ``outcome`` (``win``, ``draw``, ``loss``) for a :func:`pair_name`."""
    return f"{pair}|{outcome}"


def fold_windows(fields: Iterable[tuple[str, int]],
                 players: Collection[str]) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
    """Sum per-iteration :func:`window_field` counters into each pair's counts, for pairs led by ``players``.

    Example:
        >>> fold_windows([("a|b|win", 2), ("a|b|loss", 1), ("a|b|win", 1), ("b|a|loss", 3)], {"a"})
        {('a', 'b'): PairCounts(wins=3, draws=0, losses=1)}
    """
    totals: dict[tuple[PlayerId, PlayerId], dict[str, int]] = {}
    for name, value in fields:
        player, opponent, outcome = name.split("|")
        if player in players:
            entry = totals.setdefault((PlayerId(player), PlayerId(opponent)), {})
            entry[outcome] = entry.get(outcome, 0) + int(value)
    return {pair: PairCounts(wins=c.get("win", 0), draws=c.get("draw", 0), losses=c.get("loss", 0))
            for pair, c in totals.items()}


def evaluation_key(iteration: int, opponent: str) -> str:
    """Where the evaluation of ``iteration`` against ``opponent`` is filed (keys sort oldest first)."""
    return f"{iteration:09d}|{opponent}"


def evaluation_to_json(iteration: int, opponent: str, counts: PairCounts) -> str:
    """Serialise one evaluation result.

    Example:
        >>> evaluation_to_json(3, "random", PairCounts(wins=2, losses=1))
        '{"iteration": 3, "opponent": "random", "wins": 2, "draws": 0, "losses": 1}'
    """
    return json.dumps({"iteration": iteration, "opponent": opponent, **asdict(counts)})


def evaluation_from_json(text: str | bytes) -> tuple[int, str, PairCounts]:
    """Parse one evaluation result written by :func:`evaluation_to_json`."""
    data = json.loads(text)
    return (int(data["iteration"]), str(data["opponent"]),
            PairCounts(data["wins"], data["draws"], data["losses"]))


def exploitability_key(iteration: int) -> str:
    """Where the exploitability measured after ``iteration`` is filed (keys sort oldest first)."""
    return f"{iteration:09d}"


def iteration_of_key(key: str) -> int:
    """The iteration an :func:`evaluation_key` or :func:`exploitability_key` names."""
    return int(key.split("|")[0])


def exploitability_to_json(iteration: int, values: Mapping[str, float]) -> str:
    """Serialise one exploitability measure (values by player, and ``mixture``)."""
    return json.dumps({"iteration": iteration, "values": {k: float(v) for k, v in values.items()}})


def exploitability_from_json(text: str | bytes) -> tuple[int, dict[str, float]]:
    """Parse one exploitability measure written by :func:`exploitability_to_json`."""
    data = json.loads(text)
    return int(data["iteration"]), {str(k): float(v) for k, v in data["values"].items()}


def resident_to_json(player_ids: Sequence[PlayerId]) -> str:
    """Serialise the list of resident players."""
    return json.dumps(list(player_ids))


def resident_from_json(text: str | bytes | None) -> list[PlayerId]:
    """Parse a list written by :func:`resident_to_json` (nothing stored: empty)."""
    return [PlayerId(p) for p in json.loads(text)] if text else []
