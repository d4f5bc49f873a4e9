"""How strong a time-boxed `league run` makes its agents: the strength benchmark of issue 19.

Runs the user's command, ``league run --game GAME --minutes M`` (the game's recipe applies, as
it does for a user; ``--iterations N`` instead of ``--minutes`` runs the README's quick start
as written), timing each iteration as its ``--quiet`` line arrives. Then it judges the result
from outside the league:

* board games (Connect Four, tic-tac-toe): main is exported (``league export``) and the export
  plays ``--games`` games, seats alternating, against each reference (``league eval``: the
  heuristic, where the game has one, and the alpha-beta players of ``--depths``, which break
  ties at random);
* OpenSpiel games: the exact exploitability (``league eval --exploitability``) of main's
  export and of the Nash mixture of the run's snapshots, and the curve of the exploitability
  the run measured per iteration (``evaluation.exploitability_every``) against minutes.

Prints a line per iteration and per result, then one JSON line with every figure and the
commands that produced them. The run's lines are also written to ``<run-dir>.log`` (so do not
send the script's own output to that file: the two would overwrite each other).

Usage:
    python scripts/strength.py --game connect_four --minutes 30 --run-dir runs/strength-c4
    python scripts/strength.py --game openspiel:kuhn_poker --minutes 15 --run-dir runs/strength-kuhn
    python scripts/strength.py --game openspiel:leduc_poker --minutes 30 --run-dir runs/strength-leduc
    python scripts/strength.py --iterations 30 --run-dir runs/quickstart     # the README's `league run`
    python scripts/strength.py --game tictactoe --minutes 0.5 --run-dir /tmp/s --games 20   # smoke run
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jsonl import emit

#: Board games judged by games against fixed references; the heuristic plays Connect Four only.
BOARD_GAMES = {"connect_four": ("heuristic",), "tictactoe": ()}

_ITERATION = re.compile(r"^iteration=(\d+) ")


def league(*args: str) -> list[str]:
    """The command line of a ``league`` CLI call by this Python (so the script uses its own install)."""
    return [sys.executable, "-m", "league", *args]


def run_league(command: list[str], log: Path) -> dict[int, float]:
    """Run ``league run ... --quiet``, echoing and logging its lines; minutes at which each iteration ended.

    Raises:
        SystemExit: with the command's exit code if it failed.
    """
    start = time.monotonic()
    ended: dict[int, float] = {}
    with open(log, "w") as out, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 text=True, bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            out.flush()
            match = _ITERATION.match(line)
            if match:
                ended[int(match.group(1))] = (time.monotonic() - start) / 60
                print(line[:160].rstrip(), flush=True)
            else:
                print(line.rstrip(), flush=True)
        code = process.wait()
    if code != 0:
        raise SystemExit(f"{shlex.join(command)} exited with {code}; its output is in {log}")
    return ended


def json_of(command: list[str]) -> Any:
    """Run a ``league ... --json`` command and parse the JSON object it prints."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])  # the object (status --json indents it)


def judge_board_game(game: str, export: Path, games: int, depths: list[int], seed: int) -> dict[str, Any]:
    """The export's score against each reference, ``games`` games each, seats alternating."""
    references = [*BOARD_GAMES[game], *(f"alphabeta-{d}" for d in depths)]
    scores: dict[str, Any] = {}
    for reference in references:
        command = league("eval", str(export), reference, "--games", str(games), "--game", game,
                         "--seed", str(seed), "--json")
        started = time.monotonic()
        result = json_of(command)
        scores[reference] = {**{k: result[k] for k in ("wins", "draws", "losses", "score", "ci95")},
                             "command": shlex.join(command[2:]), "seconds": round(time.monotonic() - started, 1)}
        print(f"main vs {reference}: {result['wins']} W / {result['draws']} D / {result['losses']} L "
              f"= {result['score']:.3f}", flush=True)
    return scores


def judge_openspiel(run_dir: Path, export: Path, ended: dict[int, float]) -> dict[str, Any]:
    """Exact exploitability of main's export and of the Nash mixture, and the run's curve against minutes."""
    of_export = json_of(league("eval", "--exploitability", str(export), "--json"))
    of_run = json_of(league("eval", "--exploitability", str(run_dir), "--json"))
    status = json_of(league("status", "--run-dir", str(run_dir), "--json"))
    curve = [{"iteration": m["iteration"],
              "minutes": round(ended[m["iteration"]], 2) if m["iteration"] in ended else None,
              **{k: v for k, v in m.items() if k != "iteration"}} for m in status["exploitability"]]
    export_value = of_export["exploitability"]["main"]
    mixture = of_run["exploitability"].get("mixture")
    print(f"exploitability: main's export {export_value:.4f}, Nash mixture of the snapshots "
          f"{'-' if mixture is None else f'{mixture:.4f}'}", flush=True)
    return {"main_export": export_value, "mixture": mixture, "mixture_weights": of_run["mixture_weights"],
            "trainable": of_run["exploitability"], "curve": curve}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", type=Path, default=None,
                        help="A TOML config for league run (unset: the game's recipe alone).")
    parser.add_argument("--game", default=None, help="Game (unset: the config's, else Connect Four).")
    limit = parser.add_mutually_exclusive_group(required=True)
    limit.add_argument("--minutes", type=float, help="league run --minutes M (the run's time budget).")
    limit.add_argument("--iterations", type=int, help="league run --iterations N (the quick start: 30).")
    parser.add_argument("--run-dir", type=Path, required=True, help="A new folder for the run (refused if used).")
    parser.add_argument("--games", type=int, default=200, help="Games per reference (board games).")
    parser.add_argument("--depths", type=int, nargs="*", default=[2, 4], help="Alpha-beta depths to play.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the evaluation games.")
    parser.add_argument("--json-out", type=Path, default=None, help="Also append the JSON line to this file.")
    args = parser.parse_args()

    run = ["run", *([str(args.config)] if args.config is not None else []), "--run-dir", str(args.run_dir), "--quiet"]
    if args.game is not None:
        run += ["--game", args.game]
    run += ["--minutes", f"{args.minutes:g}"] if args.minutes is not None else ["--iterations", str(args.iterations)]
    args.run_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ended = run_league(league(*run), args.run_dir.parent / f"{args.run_dir.name}.log")
    wall_minutes = (time.monotonic() - started) / 60
    status = json_of(league("status", "--run-dir", str(args.run_dir), "--json"))
    game = status["game"]
    export = args.run_dir.parent / f"{args.run_dir.name}-main"
    subprocess.run(league("export", "main", "--run-dir", str(args.run_dir), "--out", str(export)),
                   check=True, capture_output=True)
    result: dict[str, Any] = {
        "benchmark": "strength", "game": game, "command": "league " + shlex.join(run),
        "wall_minutes": round(wall_minutes, 2), "iterations": status["iteration"], "env_steps": status["env_steps"],
        "snapshots": status["snapshots"], "matches": status["matches"],
    }
    if game in BOARD_GAMES:
        result["vs"] = judge_board_game(game, export, args.games, args.depths, args.seed)
    elif game.startswith("openspiel:"):
        result["exploitability"] = judge_openspiel(args.run_dir, export, ended)
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
