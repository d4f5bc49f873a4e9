"""``league play``: play an exported agent or a scripted player in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from league.cli.errors import reports_errors


@reports_errors
def play(
    out: Annotated[Path, typer.Argument(
        help="An export folder (from `league export`), or a scripted player: random, heuristic, "
             "alphabeta-1 ... alphabeta-6.")],
    seat: Annotated[int | None, typer.Option(min=1, help="Your seat (1 moves first); asked if not given.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Env seed (and a scripted player's tie-breaks).")] = 0,
    game: Annotated[str | None, typer.Option(
        help="Game, for a scripted player that plays more than one (alphabeta-N: connect_four, "
             "tictactoe).")] = None,
) -> None:
    """Play a game against an exported agent or a scripted player: the board is drawn after each move."""
    from agents.heuristics import CHOOSERS
    from agents.opponent import load_opponent
    from league.errors import UsageError
    from league.play import play_game, scripted_opponent

    scripted = str(out) in CHOOSERS
    if game is not None and not scripted:
        raise UsageError(f"--game: {game!r} given, but an export plays its own game; "
                         "--game is for scripted players")
    opponent = scripted_opponent(str(out), game=game, seed=seed) if scripted else load_opponent(out)
    play_game(opponent, seat=None if seat is None else seat - 1, seed=seed)
