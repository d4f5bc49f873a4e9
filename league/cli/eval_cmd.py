"""``league eval``: head-to-head games between two players."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from league.cli.errors import reports_errors


@reports_errors
def evaluate(
    a: Annotated[str, typer.Argument(help="Player A: export folder, RUN_DIR:PLAYER_ID, random or heuristic.")],
    b: Annotated[str, typer.Argument(help="Player B, in the same forms.")],
    games: Annotated[int, typer.Option(min=1, help="Games to play; seats alternate.")] = 200,
    game: Annotated[Optional[str], typer.Option(help="Game, when neither player says (random vs random).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed: game k uses env seed seed+k.")] = 0,
    explore: Annotated[bool, typer.Option(help="Exported players sample moves instead of playing greedily.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Play A against B: wins, draws and losses for A, A's score and its 95% Wilson interval."""
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
