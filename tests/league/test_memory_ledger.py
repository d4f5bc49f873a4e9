"""The in-memory ledger: the ledger contract, and the same answers as the Redis ledger."""

from __future__ import annotations

import random
import threading
import uuid

import pytest

from league.ledger import MemoryLedger, open_ledger
from league.ledger.base import Ledger, PairCounts
from league.ledger.redis_ledger import RedisLedger
from league.ratings import Rating
from league.types import MatchId, MatchRecord, PlayerId, PlayerRecord, Role
from tests.contracts.ledger_contract import MAIN, SNAP, LedgerContract, fresh_run_id, match


@pytest.fixture
def ledger_url() -> str:
    return f"memory://test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ledger(ledger_url):
    ledger = open_ledger(ledger_url, fresh_run_id("test"))
    yield ledger
    ledger.close()


class TestMemoryLedger(LedgerContract):
    """The ledger contract in memory."""


def test_ledgers_of_another_name_do_not_share_data(ledger_url):
    open_ledger(ledger_url, "run-n").record([match("m-1")])
    assert open_ledger(ledger_url + "-other", "run-n").match_count() == 0
    assert open_ledger(ledger_url, "run-n").match_count() == 1


def test_the_memory_ledger_never_retries_and_says_it_lives_in_this_process(ledger):
    ledger.record([match("m-1")])
    assert isinstance(ledger, MemoryLedger) and ledger.retries == 0
    assert "this process only" in ledger.server()


def test_records_are_kept_as_the_codec_text(ledger):
    from league.ledger.codec import match_to_json

    record = match("m-json")
    ledger.record([record])
    assert ledger._data.matches["m-json"] == match_to_json(record, ledger.run_id)


def test_threads_recording_the_same_matches_count_each_once(ledger):
    records = [match(f"m-{i}", iteration=i % 3) for i in range(200)]
    added = []

    def write() -> None:
        added.append(sum(ledger.record([r]) for r in records))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(added) == 200 and ledger.match_count() == 200
    assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=200)
    assert ledger.games_played() == {MAIN: 200, SNAP: 200}


def _random_session(ledger: Ledger, seed: int) -> list:
    """A seeded mix of every write, with what each read returns after it."""
    rng = random.Random(seed)
    players = [MAIN, SNAP, PlayerId("random"), PlayerId("main_v2")]
    seen = []
    for step in range(120):
        action = rng.randrange(8)
        if action <= 2:
            seats = tuple(rng.choice(players) for _ in range(rng.choice((2, 2, 3))))
            returns = tuple(float(rng.choice((-1, 0, 1))) for _ in seats)
            ledger.record([MatchRecord(MatchId(f"m-{rng.randrange(60)}"), seats, returns, 12, 1000.0 + step, 0.5,
                                       iteration=rng.randrange(5), learner=rng.choice([None, seats[0]]))
                           for _ in range(rng.randrange(1, 6))])
        elif action == 3:
            ledger.truncate(rng.randrange(-1, ledger.match_count() + 2))
        elif action == 4:
            player = rng.choice(players)
            if rng.random() < 0.7:
                ledger.save_player(PlayerRecord(player, rng.choice(list(Role)), rng.choice([None, MAIN]), step))
            else:
                ledger.remove_player(player)
            ledger.mark_unusable(rng.choice(players), f"reason {step}")
        elif action == 5:
            ledger.save_ratings({p: Rating(1200.0 + step, 25.0, 8.0 - step / 100, step) for p in
                                 rng.sample(players, rng.randrange(len(players)))}, ledger.match_count())
        elif action == 6:
            ledger.add_evaluation(rng.randrange(12), rng.choice(["random", "heuristic"]),
                                  PairCounts(rng.randrange(4), rng.randrange(4), rng.randrange(4)))
            ledger.add_exploitability(rng.randrange(12), {"main": rng.random(), "mixture": 0.5})
        else:
            ledger.drop_evaluations_after(rng.randrange(12))
            ledger.set_progress(iteration=step, env_steps=rng.randrange(1000))
            ledger.set_resident(rng.sample(players, 2))
        seen.append((
            [m for m in ledger.iter_matches(rng.randrange(-3, 5))], ledger.match_count(),
            ledger.payoff_counts(), ledger.games_played(), ledger.pair_counts(MAIN, SNAP),
            ledger.window_counts(rng.sample(players, 2), rng.randrange(-1, 3), rng.randrange(5)),
            ledger.ratings(), ledger.players(), ledger.resident(), ledger.unusable(), ledger.progress(),
            ledger.evaluations(), ledger.exploitability(),
        ))
    return seen


def test_memory_and_redis_answer_every_read_alike_after_the_same_writes(redis_url):
    """The memory ledger is a stand-in for Redis: the same seeded session gives the same answers."""
    redis_ledger = RedisLedger(redis_url, fresh_run_id("same"))
    try:
        expected = _random_session(redis_ledger, seed=7)
    finally:
        redis_ledger.close()
    assert _random_session(MemoryLedger(f"same-{uuid.uuid4().hex[:8]}", "run-same"), seed=7) == expected
