"""Which ledger backend serves a URL: ``open_ledger`` chooses it by the URL's scheme.

==============================  ==========================================================
``redis://``, ``rediss://``,    :class:`~league.ledger.redis_ledger.RedisLedger` (a real Redis
``unix://``                     server: external, or the run folder's embedded one)
``memory://NAME``               :class:`~league.ledger.memory_ledger.MemoryLedger` (this
                                process only: tests and one-process experiments)
==============================  ==========================================================

Each backend is imported only when a URL asks for it, so choosing one never
loads the other's dependencies (``redis`` for the memory ledger).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from league.errors import ConfigError
from league.redact import redact_url
from league.types import RunId

if TYPE_CHECKING:
    from league.ledger.base import Ledger

#: The URL schemes :func:`open_ledger` accepts, as they appear in its error message.
LEDGER_SCHEMES = ("redis://", "rediss://", "unix://", "memory://NAME")


def _open_redis(url: str, run_id: RunId, retry_timeout_s: float, write_batch: int) -> Ledger:
    from league.ledger.redis_ledger import RedisLedger

    return RedisLedger(url, run_id, retry_timeout_s=retry_timeout_s, write_batch=write_batch)


def _open_memory(url: str, run_id: RunId, retry_timeout_s: float, write_batch: int) -> Ledger:
    from league.ledger.memory_ledger import MemoryLedger

    name = url.split("://", 1)[1]
    if not name:
        raise ConfigError(f"ledger URL {redact_url(url)!r} names no memory ledger: expected memory://NAME")
    return MemoryLedger(name, run_id, retry_timeout_s=retry_timeout_s, write_batch=write_batch)


_BACKENDS: dict[str, Callable[[str, RunId, float, int], Ledger]] = {
    "redis": _open_redis,
    "rediss": _open_redis,
    "unix": _open_redis,
    "memory": _open_memory,
}


def open_ledger(url: str, run_id: RunId | str, *, retry_timeout_s: float = 120.0,
                write_batch: int = 1000) -> Ledger:
    """The ledger of ``run_id`` at ``url``, served by the backend its scheme names (see the module docstring).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` (a Redis server), or
            ``memory://NAME`` (this process's memory ledger ``NAME``).
        run_id: Namespace of the run's records.
        retry_timeout_s: How long one call keeps retrying while the server is unreachable.
        write_batch: Matches per atomic write when recording.

    Raises:
        ConfigError: if the URL's scheme is none of :data:`LEDGER_SCHEMES`.
        LedgerUnavailable: if a Redis server does not answer.

    Example:
        >>> ledger = open_ledger("memory://doc", "run-1")
        >>> type(ledger).__name__, ledger.match_count()
        ('MemoryLedger', 0)
    """
    scheme = urlsplit(url).scheme if "://" in url else ""
    backend = _BACKENDS.get(scheme)
    if backend is None:
        raise ConfigError(f"ledger URL {redact_url(url)!r} names no ledger backend: expected one of "
                          f"{', '.join(LEDGER_SCHEMES)}")
    return backend(url, RunId(run_id), retry_timeout_s, write_batch)
