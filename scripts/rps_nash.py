"""Rock-paper-scissors: naive self-play cycles, the league's main approaches the uniform Nash.

The only Nash equilibrium of rock-paper-scissors is uniform play (1/3 each).
After every iteration this script measures main's action distribution after
each possible observation (no previous round, or the opponent's last move)
and prints its total-variation distance from uniform, averaged over the four
observations: TV = 1/2 sum_a |pi(a | o) - 1/3|.

Modes (same game, PPO settings and seed):
    selfplay: one main player, 100% self-play, no exploiters or scripted players;
    league:   the default AlphaStar roster (main, main exploiter, league exploiter,
              scripted ``random``) and role rules, except that main's PFSP is
              uniform over snapshots frozen every 2 iterations and self-play
              trains main from its own seat only (``LEAGUE``; pass
              ``--override`` to change it).

Usage:
    python scripts/rps_nash.py --mode league --iterations 40
    python scripts/rps_nash.py --mode selfplay --iterations 40 --json-out runs/rps.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from jsonl import emit

from league.config import LeagueConfig, deep_merge, load_config
from league.manager import MAIN, LeagueManager
from league.rllib.actors import PolicyActor

#: One-hot observations of rps_v2 (opponent's last move: rock, paper, scissors, or none yet).
RPS_OBSERVATIONS = np.eye(4, dtype=np.float32)

#: PPO settings shared by both modes. With these, naive self-play still keeps
#: cycling (the favourite move rotates, TV swings between ~0.02 and ~0.13),
#: while the league settles near uniform. With less entropy
#: (``{"training": {"entropy_coeff": 0.05, "lr": 3e-4}}``) both cycle, self-play
#: with TV up to ~0.33; see docs/benchmarks.md.
TRAINING: dict[str, Any] = {"train_batch_size": 2000, "minibatch_size": 250, "num_epochs": 4,
                            "lr": 1e-4, "entropy_coeff": 0.15, "hiddens": [64, 64]}


#: League-mode settings beyond the defaults: AlphaStar's roles, with main's PFSP
#: uniform over a dense history of snapshots (fictitious self-play: the average of
#: past policies, whose smooth best response is near uniform) and self-play
#: training main from its own seat only, so 35% self-play means 35% of its data.
LEAGUE: dict[str, Any] = {
    "matchmaking": {"self_play_learns_both_seats": False, "main": {"pfsp_weighting": "uniform"}},
    "snapshots": {"max_iterations_per_snapshot": 2},
}


def mode_config(mode: str, *, iterations: int, run_dir: Path, seed: int = 0,
                override: dict[str, Any] | None = None) -> LeagueConfig:
    """The league configuration of ``mode`` ("selfplay" or "league"), with optional overrides."""
    overrides: dict[str, Any] = {
        "game": "rps", "iterations": iterations, "seed": seed, "run_dir": run_dir,
        "training": TRAINING, "evaluation": {"games": 0},
        # The sampler and sub-env count these figures were measured with (docs/benchmarks.md); League's
        # defaults are now its own sampler with 256 (naive self-play's largest TV after iteration 5 at seed 0
        # measured 0.0978 there, against the test's 0.1).
        "resources": {"num_envs_per_env_runner": 8, "sampler": "rllib"},
    }
    if mode == "selfplay":
        overrides["roster"] = {"main_exploiters": 0, "league_exploiters": 0, "scripted": []}
        overrides["matchmaking"] = {"main": {"self_play": 1.0, "pfsp": 0.0, "exploiters_and_forgotten": 0.0}}
    elif mode == "league":
        overrides = deep_merge(overrides, LEAGUE)
    else:
        raise SystemExit(f"--mode: expected 'selfplay' or 'league', got {mode!r}")
    return load_config(None, deep_merge(overrides, override or {}))


def tv_from_uniform(manager: LeagueManager) -> tuple[float, list[float]]:
    """Main's mean TV distance from uniform over the four observations, and its policy after 'none'."""
    actor = PolicyActor(manager.algorithm.get_policy(MAIN), explore=False, rng=np.random.default_rng(0))
    probs = actor.action_probs(RPS_OBSERVATIONS, np.ones((4, 3), dtype=np.float32))
    tv = 0.5 * np.abs(probs - 1.0 / 3.0).sum(axis=1)
    return float(tv.mean()), [round(float(p), 3) for p in probs[3]]


def run(mode: str, iterations: int, seed: int = 0, quiet: bool = False,
        override: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train ``mode`` for ``iterations`` and return one record per iteration."""
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        config = mode_config(mode, iterations=iterations, run_dir=Path(tmp) / "run", seed=seed,
                             override=override)
        start = time.perf_counter()
        with LeagueManager(config) as manager:
            for _ in range(iterations):
                report = manager.step()
                tv, policy = tv_from_uniform(manager)
                record = {"mode": mode, "iteration": report.iteration, "tv": round(tv, 4),
                          "policy_after_none": policy, "league_size": report.league_size,
                          "elapsed_s": round(time.perf_counter() - start, 1)}
                records.append(record)
                if not quiet:
                    print(json.dumps(record), flush=True)
    return records


def summary(records: list[dict[str, Any]], last: int = 5) -> dict[str, Any]:
    """Mean TV over the last ``last`` iterations, the largest TV seen after the first five, and time."""
    tvs = [r["tv"] for r in records]
    return {"mode": records[0]["mode"], "iterations": len(records),
            "tv_last5_mean": round(float(np.mean(tvs[-last:])), 4),
            "tv_max_after_5": round(float(max(tvs[5:] or tvs)), 4),
            "elapsed_s": records[-1]["elapsed_s"]}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["selfplay", "league"], default="league")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--override", type=json.loads, default=None,
                        help="JSON object merged into the mode's config, e.g. '{\"training\": {\"lr\": 1e-4}}'.")
    parser.add_argument("--json-out", type=Path, help="Append the summary as one JSON line to this file.")
    args = parser.parse_args()
    records = run(args.mode, args.iterations, args.seed, override=args.override)
    result = summary(records)
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
