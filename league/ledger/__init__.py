"""Match ledger: the interface and its Redis backends (embedded or by URL)."""

from league.ledger.base import Ledger, PairCounts
from league.ledger.redis_ledger import RedisLedger

__all__ = ["Ledger", "PairCounts", "RedisLedger"]
