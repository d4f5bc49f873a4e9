"""Match ledger: the interface, its backends (Redis, memory) and :func:`open_ledger`, which picks one by URL.

The backends load on first use (module ``__getattr__``), so importing this
package, or :mod:`league.ledger.base` for :class:`PairCounts`, never imports ``redis``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from league.ledger.base import Ledger, PairCounts
from league.ledger.schemes import open_ledger

if TYPE_CHECKING:
    from league.ledger.memory_ledger import MemoryLedger
    from league.ledger.redis_ledger import RedisLedger

__all__ = ["Ledger", "MemoryLedger", "PairCounts", "RedisLedger", "open_ledger"]

_LAZY = {"MemoryLedger": "league.ledger.memory_ledger", "RedisLedger": "league.ledger.redis_ledger"}


def __getattr__(name: str) -> Any:
    """The backend classes, imported when first asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
