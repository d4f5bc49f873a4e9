"""A time-boxed Connect Four league with all three roles, judged against the heuristic.

Runs League iterations until ``--minutes`` of wall time have passed, then has
main play ``--games`` evaluation games (seats alternating, greedy) against the
scripted ``heuristic`` player and prints one JSON summary: main's score, the
roster with roles and Elo, where ``random`` ranks, and the run's counts.
The run folder stays behind for ``league status --run-dir``.

Usage:
    python scripts/c4_league.py --minutes 45 --run-dir runs/c4-league
    python scripts/c4_league.py --minutes 1 --run-dir /tmp/c4-smoke     # smoke run
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from jsonl import emit

from league.config import LeagueConfig, load_config
from league.display import report_line
from league.manager import LeagueManager
from league.status import read_status

#: The league this script trains: AlphaStar's roles with main learning from half the matches, and
#: 15% of main's matches (taken from its PFSP share) reserved for PFSP over the scripted players,
#: so that the heuristic keeps a place in main's training as the league fills with snapshots.
OVERRIDES: dict[str, Any] = {
    "game": "connect_four",
    "iterations": 100_000,  # bounded by --minutes instead
    "roster": {"main_agents": 1, "main_exploiters": 1, "league_exploiters": 1,
               "scripted": ["random", "heuristic"]},
    "matchmaking": {"main": {"share": 2.0, "self_play": 0.35, "pfsp": 0.35, "exploiters_and_forgotten": 0.15,
                             "scripted": 0.15}},
    "training": {"train_batch_size": 4000},  # League's default until 2026-11-24; the script's runs used it
    "snapshots": {"max_iterations_per_snapshot": 40, "min_games": 400},
    "evaluation": {"opponent": "heuristic", "games": 200, "every": 25},
}


def make_config(run_dir: Path, seed: int, envs: int | None = None) -> LeagueConfig:
    """The script's league configuration (``envs``: sub-envs per runner; unset: League's default)."""
    extra: dict[str, Any] = {"resources": {"num_envs_per_env_runner": envs}} if envs is not None else {}
    return load_config(None, {**OVERRIDES, **extra, "run_dir": run_dir, "seed": seed})


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=45.0, help="Wall-time budget for training.")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/c4-league"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--games", type=int, default=200, help="Final evaluation games against heuristic.")
    parser.add_argument("--json-out", type=Path, help="Append the summary as one JSON line to this file.")
    parser.add_argument("--envs", type=int, default=None,
                        help="Sub-envs per runner (unset: League's default, 32; the runs before it was raised used 8).")
    args = parser.parse_args()

    start = time.perf_counter()
    with LeagueManager(make_config(args.run_dir, args.seed, args.envs), overwrite=True) as league:
        while True:  # at least one iteration, then until the budget is spent
            print(report_line(league.step()), flush=True)
            if time.perf_counter() - start >= args.minutes * 60:
                break
        training_s = time.perf_counter() - start
        final = league.evaluate(games=args.games, opponent="heuristic")
        iterations = league.iteration
    status = read_status(args.run_dir)
    rated = [p for p in status["players"] if p["elo"] is not None]  # best Elo first
    elo_order = [p["id"] for p in rated]
    summary = {
        "minutes": round(training_s / 60, 1), "iterations": iterations, "env_steps": status["env_steps"],
        "matches": status["matches"], "snapshots": status["snapshots"],
        "main_vs_heuristic": {"wins": final.wins, "draws": final.draws, "losses": final.losses,
                              "score": final.score},
        "random_rank_by_elo": elo_order.index("random") + 1 if "random" in elo_order else None,
        "rated_players": len(rated), "players": len(status["players"]),
        "roster_by_elo": [(p["id"], p["role"], round(p["elo"])) for p in rated],
    }
    emit(summary, args.json_out)


if __name__ == "__main__":
    main()
