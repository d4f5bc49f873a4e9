"""``league run``: train a league."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.live import Live

from league.cli.errors import reports_errors
from league.config import load_config


@reports_errors
def run(
    config_file: Annotated[Optional[Path], typer.Argument(help="TOML config file; flags override its values.")] = None,
    game: Annotated[Optional[str], typer.Option(help="Game to train on (see `league envs`).")] = None,
    iterations: Annotated[Optional[int], typer.Option(help="League iterations to run.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Folder for the run's files.")] = None,
    redis_url: Annotated[Optional[str], typer.Option(help="External Redis (redis://...); default: embedded.")] = None,
    num_env_runners: Annotated[Optional[int], typer.Option(help="Remote env runners (0: sample in the driver).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Run seed.")] = None,
    snapshot_uri: Annotated[Optional[str], typer.Option(
        help="Snapshot store: a folder or s3://bucket/prefix (default: <run-dir>/snapshots).")] = None,
    max_resident_opponents: Annotated[Optional[int], typer.Option(
        help="Most frozen players held in memory at once; the rest wait in the snapshot store.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already in --run-dir.")] = False,
    quiet: Annotated[bool, typer.Option(help="Plain log lines instead of the live view.")] = False,
) -> None:
    """Train a self-play league and record every match in the Redis ledger."""
    overrides = {"game": game, "iterations": iterations, "run_dir": run_dir,
                 "redis_url": redis_url, "seed": seed,
                 "resources": {"num_env_runners": num_env_runners} if num_env_runners is not None else None,
                 "snapshots": {k: v for k, v in {"uri": snapshot_uri,
                                                 "max_resident_opponents": max_resident_opponents}.items()
                               if v is not None} or None}
    config = load_config(config_file, overrides)

    from league.display import LiveView, report_line
    from league.manager import LeagueManager

    console = Console()
    console.print(f"League: [bold]{config.game}[/], {config.iterations} iterations, run folder {config.run_dir}")
    with LeagueManager(config, overwrite=overwrite) as manager:
        if quiet:
            manager.run(on_iteration=lambda report: print(report_line(report), flush=True))
        else:
            view = LiveView(config.iterations, config.evaluation.opponent)
            with Live(view, console=console, refresh_per_second=4):
                manager.run(on_iteration=view.update)
        console.print(
            f"\ndone: {manager.iteration} iterations, {manager.env_steps:,} env steps, "
            f"{manager.ledger.match_count():,} matches, {len(manager.snapshots)} snapshots; "
            f"`league status --run-dir {config.run_dir}` shows the roster"
        )
