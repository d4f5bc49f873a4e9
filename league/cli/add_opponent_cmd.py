"""``league add-opponent``: an exported agent joins a league as a frozen, rated member."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors


@reports_errors
def add_opponent(
    out: Annotated[Path, typer.Argument(help="An export folder (from `league export`, this run or another).")],
    run_dir: Annotated[Path, typer.Option(
        envvar="LEAGUE_RUN_DIR", help="The league's run folder.")],
    player_id: Annotated[str | None, typer.Option("--id", help="Its id in the league (default ext_<id>).")] = None,
) -> None:
    """Add an exported agent to a league as a frozen, rated member (a running league adopts it next iteration)."""
    from league.opponents import add_to_run

    record = add_to_run(out, run_dir, player_id=player_id)
    Console().print(f"added {record.player_id!r} to {run_dir} as a frozen player "
                    f"(iteration {record.created_iteration})")
