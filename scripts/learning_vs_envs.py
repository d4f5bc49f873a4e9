"""Does the number of sub-envs per runner change what main learns per step?

Runs the slow learning test's league (Connect Four, main + ``random``, 30
iterations) with ``--envs`` sub-environments and prints main's greedy score
against ``random`` at each evaluation and the total training seconds, plus one
JSON line. Example:

    python scripts/learning_vs_envs.py --envs 32 --seed 0
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    """Run the league and print its evaluation curve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=32, help="Sub-envs per env runner.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--batch", type=int, default=None, help="train_batch_size (default: League's).")
    parser.add_argument("--lr", type=float, default=None, help="Learning rate (default: League's).")
    parser.add_argument("--epochs", type=int, default=None, help="num_epochs (default: League's).")
    parser.add_argument("--override", type=json.loads, default={},
                        help='More config as JSON, laid over the rest, e.g. \'{"training": {"activation": "relu"}}\'.')
    args = parser.parse_args()
    if not isinstance(args.override, dict):
        parser.error(f"--override: expected a JSON object, got {args.override!r}")

    from league.config import deep_merge, load_config
    from league.manager import LeagueManager

    config = load_config(None, deep_merge({
        "game": "connect_four", "iterations": args.iterations, "seed": args.seed,
        "run_dir": Path(tempfile.mkdtemp(prefix="learning-")) / "c4",
        "roster": {"main_exploiters": 0, "league_exploiters": 0, "scripted": ["random"]},
        "snapshots": {"max_iterations_per_snapshot": 5}, "resources": {"num_envs_per_env_runner": args.envs},
        "training": {k: v for k, v in (("train_batch_size", args.batch), ("lr", args.lr),
                                       ("num_epochs", args.epochs)) if v is not None}}, args.override))
    with LeagueManager(config) as league:
        reports = league.run()
        env_steps = league.env_steps
    curve = [(r.iteration, r.evaluation.score) for r in reports if r.evaluation is not None]
    train_s = sum(r.train_time_s for r in reports)
    print(f"envs={args.envs} batch={args.batch} lr={args.lr} epochs={args.epochs} override={args.override} "
          f"seed={config.seed}: " + " ".join(f"{it}:{score:.3f}" for it, score in curve)
          + f"  train {train_s:.1f} s, {env_steps:,} env steps, sampler {config.resources.sampler}")
    print(json.dumps({"envs": args.envs, "batch": args.batch, "lr": args.lr, "epochs": args.epochs,
                      "override": args.override, "seed": config.seed, "curve": curve, "train_s": train_s,
                      "env_steps": env_steps, "sampler": config.resources.sampler}))


if __name__ == "__main__":
    main()
