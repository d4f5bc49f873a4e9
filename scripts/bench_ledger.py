"""Ledger write throughput against the embedded Redis: one match per call vs pipelined batches.

Prints a table and one JSON line. Example:

    python scripts/bench_ledger.py --matches 5000 --batch 500
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from league.ledger import open_ledger
from league.ledger.embedded import EmbeddedRedis
from league.types import MatchId, MatchRecord, PlayerId


def _matches(prefix: str, n: int) -> list[MatchRecord]:
    seats = (PlayerId("main"), PlayerId("main_v1"))
    return [MatchRecord(MatchId(f"{prefix}-{i}"), seats, (1.0, -1.0) if i % 2 else (0.0, 0.0),
                        21, time.time(), 0.01) for i in range(n)]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=5000, help="matches written per mode")
    parser.add_argument("--batch", type=int, default=500, help="matches per pipelined call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        try:
            ledger = open_ledger(server.url, "bench")
            single = _matches("single", args.matches)
            start = time.perf_counter()
            for record in single:
                ledger.record([record])
            single_rate = args.matches / (time.perf_counter() - start)
            batched = _matches("batch", args.matches)
            start = time.perf_counter()
            for i in range(0, args.matches, args.batch):
                ledger.record(batched[i:i + args.batch])
            batch_rate = args.matches / (time.perf_counter() - start)
            assert ledger.match_count() == 2 * args.matches
            ledger.close()
        finally:
            server.stop()
    print(f"ledger writes/s  single: {single_rate:,.0f}  pipelined (batch {args.batch}): {batch_rate:,.0f}")
    print(json.dumps({"benchmark": "ledger_writes", "matches": args.matches, "batch": args.batch,
                      "single_per_s": round(single_rate), "pipelined_per_s": round(batch_rate),
                      "machine": f"{platform.machine()} {platform.python_version()}"}))


if __name__ == "__main__":
    main()
