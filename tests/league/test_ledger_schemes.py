"""``open_ledger``: the backend chosen by the URL's scheme, and the error for any other URL."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from league.errors import ConfigError, LedgerUnavailable
from league.ledger import Ledger, MemoryLedger, RedisLedger, open_ledger

EXPECTED = "expected one of redis://, rediss://, unix://, memory://NAME"


def test_a_memory_url_opens_the_memory_ledger_of_that_name():
    ledger = open_ledger("memory://schemes-a", "run-1", retry_timeout_s=3.0, write_batch=7)
    assert isinstance(ledger, MemoryLedger) and isinstance(ledger, Ledger)
    assert (ledger.name, ledger.run_id, ledger.write_batch, ledger.retry_timeout_s) == ("schemes-a", "run-1", 7, 3.0)


def test_a_redis_url_opens_the_redis_ledger_with_its_settings(redis_url):
    ledger = open_ledger(redis_url, "run-1", retry_timeout_s=3.0, write_batch=7)
    try:
        assert isinstance(ledger, RedisLedger)
        assert (ledger.url, ledger.run_id, ledger.write_batch, ledger.retry_timeout_s) == (redis_url, "run-1", 7, 3.0)
    finally:
        ledger.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0", "unix:///nonexistent/redis.sock"])
def test_every_redis_scheme_goes_to_the_redis_ledger(url):
    with pytest.raises(LedgerUnavailable, match=re.escape(f"Redis ledger at {url!r} is unreachable")):
        open_ledger(url, "run-1")


@pytest.mark.parametrize("url", ["http://:secret@host/0", "localhost:6379", "redis:/host", "file:///tmp/ledger"])
def test_an_unknown_scheme_is_one_line_naming_the_redacted_url_and_the_schemes(url):
    shown = url.replace("secret", "***")
    with pytest.raises(ConfigError, match=re.escape(f"ledger URL {shown!r} names no ledger backend: {EXPECTED}")) as e:
        open_ledger(url, "run-1")
    assert "secret" not in str(e.value) and "\n" not in str(e.value)


def test_a_memory_url_without_a_name_is_refused():
    with pytest.raises(ConfigError, match=re.escape("ledger URL 'memory://' names no memory ledger: "
                                                    "expected memory://NAME")):
        open_ledger("memory://", "run-1")


def test_importing_the_ledger_package_and_its_interface_does_not_import_redis():
    code = ("import sys, league.ledger.base, league.ledger; from league.ledger import open_ledger, MemoryLedger; "
            "open_ledger('memory://light', 'run-1').record([]); print(sorted(m for m in sys.modules "
            "if m == 'redis' or m.startswith('redis.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
