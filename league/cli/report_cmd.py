"""``league report``: a self-contained HTML page about a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors


@reports_errors
def report(
    run_dir: Annotated[Path, typer.Option(envvar="LEAGUE_RUN_DIR", help="The run's folder.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one HTML file (no network needed to view it): ratings table, Elo over time,
    payoff heatmap ordered by rating, snapshot family tree and matches per iteration."""
    from league.report import write_report

    path = write_report(run_dir, out)
    Console().print(f"report written to {path} ({path.stat().st_size / 1024:.0f} KiB)", markup=False)
