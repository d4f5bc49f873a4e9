"""Cost of a league checkpoint: write (atomic, fsynced) and verified load of a run's latest checkpoint.

Rewrites the run's newest checkpoint into a temp folder ``--repeats`` times and
loads it back, printing size, p50/p95 write and load times and one JSON line. Example:

    league run --iterations 5 --run-dir /tmp/ckpt-run && python scripts/bench_checkpoint.py --run-dir /tmp/ckpt-run
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from league.checkpoint import latest_checkpoint, load_checkpoint, write_checkpoint


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="A run folder with at least one checkpoint.")
    parser.add_argument("--repeats", type=int, default=20, help="Writes and loads to time.")
    args = parser.parse_args()
    checkpoint = latest_checkpoint(args.run_dir)
    if checkpoint is None:
        parser.error(f"--run-dir {args.run_dir}: no checkpoint found")
    size = sum(f.stat().st_size for f in checkpoint.path.iterdir())
    writes, loads = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            state = checkpoint.state.model_copy(update={"iteration": i + 1})
            start = time.perf_counter()
            path = write_checkpoint(Path(scratch), state, checkpoint.players, checkpoint.initial, keep=2)
            writes.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_checkpoint(path)
            loads.append(time.perf_counter() - start)
    figures = {"players": len(checkpoint.players), "bytes": size,
               "write_p50_ms": 1000 * _percentile(writes, 0.5), "write_p95_ms": 1000 * _percentile(writes, 0.95),
               "load_p50_ms": 1000 * _percentile(loads, 0.5), "load_p95_ms": 1000 * _percentile(loads, 0.95),
               "machine": f"{platform.machine()} {platform.python_version()}"}
    print(f"checkpoint of {figures['players']} trainable players, {size / 2**20:.2f} MiB: "
          f"write p50 {figures['write_p50_ms']:.1f} ms (p95 {figures['write_p95_ms']:.1f}), "
          f"verified load p50 {figures['load_p50_ms']:.1f} ms (p95 {figures['load_p95_ms']:.1f})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
