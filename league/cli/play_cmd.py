"""``league play``: play an exported agent in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from league.cli.errors import reports_errors


@reports_errors
def play(
    out: Annotated[Path, typer.Argument(help="An export folder (from `league export`).")],
    seat: Annotated[Optional[int], typer.Option(min=1, help="Your seat (1 moves first); asked if not given.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Env seed.")] = 0,
) -> None:
    """Play a game against an exported agent: the board is drawn after each move; type your moves."""
    from agents.opponent import load_opponent
    from league.play import play_game

    opponent = load_opponent(out)
    play_game(opponent, seat=None if seat is None else seat - 1, seed=seed)
