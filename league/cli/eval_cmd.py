"""``league eval``: head-to-head games between two players, or exact exploitability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from league.cli.errors import reports_errors
from league.errors import UsageError


@reports_errors
def evaluate(
    a: Annotated[str | None, typer.Argument(
        help="Player A: export folder, RUN_DIR:PLAYER_ID, random, heuristic or alphabeta-1 ... "
             "alphabeta-6.")] = None,
    b: Annotated[str | None, typer.Argument(help="Player B, in the same forms.")] = None,
    games: Annotated[int, typer.Option(min=1, help="Games to play; seats alternate.")] = 200,
    game: Annotated[str | None, typer.Option(help="Game, when neither player says (random vs random).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed: game k uses env seed seed+k.")] = 0,
    explore: Annotated[bool, typer.Option(
        "--explore", help="Exported players sample moves instead of playing greedily.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    exploitability: Annotated[Path | None, typer.Option(
        "--exploitability", metavar="PATH",
        help="Instead of games: the exact exploitability of an export folder's agent, or of a run folder's "
             "trainable players and of the Nash mixture of its snapshots (OpenSpiel games).")] = None,
) -> None:
    """Play A against B: wins, draws and losses for A, A's score and its 95% Wilson interval.

    With --exploitability PATH: how much a best response wins against the agent
    (0 at a Nash equilibrium), computed exactly over the game tree.
    """
    if exploitability is not None:
        if a is not None or b is not None:
            raise UsageError("--exploitability takes one PATH and no players A and B")
        _print_exploitability(exploitability, as_json)
        return
    if a is None or b is None:
        raise UsageError("expected two players A and B (or --exploitability PATH)")
    from league.headtohead import head_to_head, resolve_player

    with resolve_player(a, explore=explore) as player_a, resolve_player(b, explore=explore) as player_b:
        if as_json:
            result = head_to_head(player_a, player_b, games=games, seed=seed, game=game)
            print(json.dumps(result.to_json()))
            return
        with Progress(transient=True) as progress:
            task = progress.add_task(f"{a} vs {b}", total=games)
            result = head_to_head(player_a, player_b, games=games, seed=seed, game=game,
                                  progress=lambda done: progress.update(task, completed=done))
    low, high = result.ci95
    table = Table(title=f"{result.a} vs {result.b} ({result.game}, {games} games, seats alternating)")
    for column in ("wins", "draws", "losses", "score", "95% CI"):
        table.add_column(column, justify="right")
    c = result.counts
    table.add_row(str(c.wins), str(c.draws), str(c.losses), f"{c.score:.3f}", f"[{low:.3f}, {high:.3f}]")
    Console().print(table)


def _print_exploitability(path: Path, as_json: bool) -> None:
    from league.exploitability import MIXTURE  # here: every other command imports this module too
    from league.measure import measure_path

    with Progress(transient=True) as progress:
        progress.add_task(f"exploitability of {path}", total=None)
        report = measure_path(path)
    if as_json:
        print(json.dumps(report.to_json()))
        return
    table = Table(title=f"Exploitability ({report.game}; 0 at a Nash equilibrium)")
    table.add_column("policy")
    table.add_column("exploitability", justify="right")
    for key, value in report.values.items():
        label = "Nash mixture of the snapshots" if key == MIXTURE else key
        table.add_row(label, f"{value:.4f}")
    Console().print(table)
    if report.mixture_weights:
        weights = Table(title="Nash weights of the snapshots (non-zero)")
        weights.add_column("snapshot")
        weights.add_column("weight", justify="right")
        for key, weight in sorted(report.mixture_weights.items(), key=lambda kv: -kv[1]):
            if weight > 1e-6:
                weights.add_row(key, f"{weight:.3f}")
        Console().print(weights)
