"""``league status``: the roster and result counts of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors


@reports_errors
def status(
    run_dir: Annotated[Path, typer.Option(envvar="LEAGUE_RUN_DIR", help="The run's folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    redis_url: Annotated[str | None, typer.Option(
        help="The run's Redis URL with its password (run.json keeps it redacted; or set LEAGUE_REDIS_URL "
             "or REDIS_PASSWORD).")] = None,
) -> None:
    """Show a run's roster, games per player, matches and snapshots (read from its Redis)."""
    from league.status import read_status

    data = read_status(run_dir, redis_url=redis_url)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from league.display import status_table

    Console().print(status_table(data))
