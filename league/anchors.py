"""Anchor games: a new snapshot's rated games against every scripted player.

Scripted players never learn, so they are the fixed points of the rating
scale; each new snapshot (still its source's weights) plays
``ratings.anchor_games`` games against each of them, recorded as ledger
matches with no learner (they train nobody and PFSP does not count them).

Example:
    >>> from league.arena import GameResult
    >>> records = anchor_records(PlayerId("main_v1"), "random", [GameResult(1.0, -1.0, 1, 9)],
    ...                          num_seats=2, iteration=3)
    >>> records[0].match_id, records[0].seats, records[0].returns, records[0].learner
    ('anchor-main_v1-random-0', ('random', 'main_v1'), (-1.0, 1.0), None)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from agents.heuristics import CHOOSERS
from league.arena import Actor, GameResult, ScriptedActor, play_games
from league.streams import Purpose, stream
from league.types import MatchId, MatchRecord, PlayerId


def anchor_records(snapshot: PlayerId, opponent: str, results: Sequence[GameResult], *, num_seats: int,
                   iteration: int) -> list[MatchRecord]:
    """The ledger records of ``snapshot``'s games against scripted ``opponent`` (no learner)."""
    records = []
    for k, game in enumerate(results):
        seats = [PlayerId(opponent)] * num_seats
        seats[game.a_seat] = snapshot
        returns = [game.b] * num_seats
        returns[game.a_seat] = game.a
        records.append(MatchRecord(MatchId(f"anchor-{snapshot}-{opponent}-{k}"), tuple(seats), tuple(returns),
                                   game.length, time.time(), 0.0, iteration=iteration, learner=None))
    return records


def play_anchor_games(snapshot: PlayerId, actor_for: Callable[[np.random.Generator], Actor], *,
                      scripted: Sequence[str], games: int, game: str, env_config: Mapping[str, Any],
                      seed: int, iteration: int, num_seats: int) -> list[MatchRecord]:
    """``games`` games of ``snapshot`` against each of ``scripted``, as ledger records.

    Args:
        snapshot: The new snapshot's id.
        actor_for: The snapshot's actor, sampling with the generator given (its source's weights).
        scripted: The scripted players, in roster order (the k-th uses stream index k).
        games: Games against each.
        game: The game's registered name.
        env_config: The game's keyword arguments.
        seed: The run's seed (:mod:`league.streams`).
        iteration: The iteration that froze the snapshot.
        num_seats: Seats of a match.
    """
    records: list[MatchRecord] = []
    for index, opponent in enumerate(scripted):
        rng = stream(seed, Purpose.ANCHOR_PLAYER, iteration, index)
        chooser = ScriptedActor(CHOOSERS[opponent][0], stream(seed, Purpose.ANCHOR_SCRIPTED, iteration, index))
        results = play_games(game, actor_for(rng), chooser, games=games, seed=int(rng.integers(2**31)),
                             env_config=env_config)
        records += anchor_records(snapshot, opponent, results, num_seats=num_seats, iteration=iteration)
    return records
