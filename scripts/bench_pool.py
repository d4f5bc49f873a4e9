"""The resident pool: restore latency of a spilled snapshot, and memory as the league grows.

Two benchmarks on a Connect Four league (League's default model, 256x256)
with one remote env runner:

* ``restore``: restore a snapshot spilled to the local-disk store into the
  Algorithm (read, verify sha256, decode, ``Algorithm.add_policy`` on the
  learner and the remote runner), ``--restores`` times; against RLlib's own
  ``Algorithm.add_policy`` of the same policy from its in-memory state.
  Prints p50 and p95 of each.
* ``memory``: for each size in ``--sizes``, a fresh process builds a league,
  freezes that many snapshots into the store, and trains ``--iterations``
  iterations in which matchmaking (PFSP over every frozen player) churns the
  resident pool. Prints the peak RSS (VmHWM) of the driver and of the env
  runner, and their sum.

Examples:

    python scripts/bench_pool.py restore --restores 50
    python scripts/bench_pool.py memory --sizes 10,100,500 --max-resident 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jsonl import emit

ROOT = Path(__file__).resolve().parent.parent


def _config(run_dir: Path, *, max_resident: int, iterations: int) -> Any:
    from league.config import load_config

    return load_config(None, {
        "game": "connect_four", "iterations": iterations, "run_dir": run_dir, "seed": 0,
        "training": {"train_batch_size": 1000, "minibatch_size": 128, "num_epochs": 1},
        "resources": {"num_env_runners": 1, "num_envs_per_env_runner": 4},
        "roster": {"main_exploiters": 0, "league_exploiters": 0, "scripted": ["random"]},
        "matchmaking": {"main": {"self_play": 0.0, "pfsp": 1.0, "exploiters_and_forgotten": 0.0,
                                 "pfsp_weighting": "uniform"}},
        "snapshots": {"max_iterations_per_snapshot": 10_000, "max_resident_opponents": max_resident},
        "evaluation": {"games": 0},
    })


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "mean_ms": round(float(ms.mean()), 2)}


def bench_restore(restores: int) -> dict[str, Any]:
    """Time restoring a spilled snapshot vs RLlib's add_policy of the same in-memory policy."""
    from league.manager import MAIN, LeagueManager
    from league.rllib.algorithm import remove_frozen

    with (tempfile.TemporaryDirectory() as tmp,
          LeagueManager(_config(Path(tmp) / "run", max_resident=4, iterations=1)) as league):
        league.step()
        snapshot = league.snapshot(MAIN).player_id
        algo = league.algorithm
        ours, read_verify = [], []
        for _ in range(restores):
            start = time.perf_counter()
            league.store.load(snapshot)
            read_verify.append(time.perf_counter() - start)
            start = time.perf_counter()
            league._restore(snapshot)
            ours.append(time.perf_counter() - start)
            remove_frozen(algo, [snapshot], league.trainable)
        # RLlib's own add_policy of the same policy, from the live policy's state in memory.
        policy = algo.get_policy(MAIN)
        state = policy.get_state()
        rllib = []
        for i in range(restores):
            start = time.perf_counter()
            algo.add_policy(policy_id=f"copy_{i}", policy_cls=type(policy), policy_state=state,
                            observation_space=league.observation_space, action_space=policy.action_space,
                            policies_to_train=league.trainable)
            rllib.append(time.perf_counter() - start)
            remove_frozen(algo, [f"copy_{i}"], league.trainable)
        weights_bytes = league.store.manifest(snapshot).weights_bytes
    return {"benchmark": "pool_restore", "restores": restores, "weights_bytes": weights_bytes,
            "league_restore": _percentiles(ours), "store_read_verify": _percentiles(read_verify),
            "rllib_add_policy": _percentiles(rllib)}


def _vm_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


def memory_one(snapshots: int, max_resident: int, iterations: int) -> dict[str, Any]:
    """In this process: a league with ``snapshots`` snapshots, trained ``iterations`` iterations."""
    from league.manager import MAIN, LeagueManager

    with (tempfile.TemporaryDirectory() as tmp,
          LeagueManager(_config(Path(tmp) / "run", max_resident=max_resident, iterations=iterations)) as league):
        league.step()
        start = time.perf_counter()
        for _ in range(snapshots):
            league.snapshot(MAIN)
        freeze_s = time.perf_counter() - start
        restored = 0
        for _ in range(iterations):
            report = league.step()
            restored += len(report.restored)
            assert len(report.resident) <= max_resident
        runner_pids = league.algorithm.env_runner_group.foreach_env_runner(
            lambda runner: os.getpid(), local_env_runner=False)
        driver = _vm_hwm_kib(os.getpid())
        runners = sum(_vm_hwm_kib(pid) for pid in runner_pids)
        played = len({p for m in league.ledger.iter_matches() for p in m.seats} - {MAIN})
    return {"benchmark": "pool_memory", "snapshots": snapshots, "max_resident": max_resident,
            "iterations": iterations, "restored": restored, "opponents_played": played,
            "freeze_s": round(freeze_s, 2), "driver_peak_rss_mib": round(driver / 1024, 1),
            "runner_peak_rss_mib": round(runners / 1024, 1),
            "total_peak_rss_mib": round((driver + runners) / 1024, 1)}


def bench_memory(sizes: list[int], max_resident: int, iterations: int) -> list[dict[str, Any]]:
    """One fresh process per size, so each peak belongs to that size alone."""
    results = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "memory-one", "--snapshots", str(size), "--max-resident", str(max_resident),
             "--iterations", str(iterations)], cwd=ROOT, capture_output=True, text=True, check=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith('{"benchmark": "pool_memory"')][-1]
        results.append(json.loads(line))
        print(f"  {size:>4} snapshots: driver {results[-1]['driver_peak_rss_mib']:,.0f} MiB + runner "
              f"{results[-1]['runner_peak_rss_mib']:,.0f} MiB = {results[-1]['total_peak_rss_mib']:,.0f} MiB "
              f"({results[-1]['restored']} restores, {results[-1]['opponents_played']} opponents played)",
              flush=True)
    return results


def main() -> None:
    """Parse arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    restore = sub.add_parser("restore", help="restore latency vs RLlib's add_policy")
    restore.add_argument("--restores", type=int, default=50)
    memory = sub.add_parser("memory", help="peak RSS at several league sizes")
    memory.add_argument("--sizes", default="10,100,500")
    memory.add_argument("--max-resident", type=int, default=8)
    memory.add_argument("--iterations", type=int, default=5)
    one = sub.add_parser("memory-one", help="one size, in this process (used by `memory`)")
    one.add_argument("--snapshots", type=int, required=True)
    one.add_argument("--max-resident", type=int, default=8)
    one.add_argument("--iterations", type=int, default=5)
    for p in (restore, memory):
        p.add_argument("--json-out", type=Path, default=None, help="also append the JSON result here")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"

    if args.what == "restore":
        result = bench_restore(args.restores)
        ours, rllib = result["league_restore"], result["rllib_add_policy"]
        print(f"restore of a spilled snapshot ({result['weights_bytes'] / 1e6:.2f} MB of weights, "
              f"{args.restores} restores): p50 {ours['p50_ms']} ms, p95 {ours['p95_ms']} ms "
              f"(store read + sha256 + decode: p50 {result['store_read_verify']['p50_ms']} ms)")
        print(f"RLlib add_policy of the same policy from memory: p50 {rllib['p50_ms']} ms, p95 {rllib['p95_ms']} ms")
        emit({**result, "machine": machine}, args.json_out)
    elif args.what == "memory":
        results = bench_memory([int(s) for s in args.sizes.split(",")], args.max_resident, args.iterations)
        base, top = results[0]["total_peak_rss_mib"], results[-1]["total_peak_rss_mib"]
        print(f"peak RSS at {results[-1]['snapshots']} snapshots is {100 * (top / base - 1):+.1f}% of "
              f"the peak at {results[0]['snapshots']}")
        emit({"benchmark": "pool_memory", "runs": results, "growth_pct": round(100 * (top / base - 1), 2),
              "machine": machine}, args.json_out)
    else:
        print(json.dumps(memory_one(args.snapshots, args.max_resident, args.iterations)), flush=True)


if __name__ == "__main__":
    main()
