"""``league run``: train a league."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.live import Live

from league.cli.errors import reports_errors
from league.config import load_config

if TYPE_CHECKING:
    from league.manager import LeagueManager


class Framework(str, enum.Enum):
    """``--framework`` choices (``training.framework``)."""

    TORCH = "torch"
    TF2 = "tf2"


@reports_errors
def run(
    config_file: Annotated[Optional[Path], typer.Argument(help="TOML config file; flags override its values.")] = None,
    game: Annotated[Optional[str], typer.Option(help="Game to train on (see `league envs`).")] = None,
    iterations: Annotated[Optional[int], typer.Option(help="League iterations to run.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Folder for the run's files.")] = None,
    redis_url: Annotated[Optional[str], typer.Option(help="External Redis (redis://...); default: embedded.")] = None,
    num_env_runners: Annotated[Optional[int], typer.Option(help="Remote env runners (0: sample in the driver).")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="Join an existing Ray cluster: 'auto' or ray://HOST:PORT (default: start a local Ray).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Run seed.")] = None,
    framework: Annotated[Framework | None, typer.Option(
        help="Framework of the trainable players (training.framework; tf2 needs pip install 'league\\[tf]').")] = None,
    snapshot_uri: Annotated[Optional[str], typer.Option(
        help="Snapshot store: a folder or s3://bucket/prefix (default: <run-dir>/snapshots).")] = None,
    max_resident_opponents: Annotated[Optional[int], typer.Option(
        help="Most frozen players held in memory at once; the rest wait in the snapshot store.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already in --run-dir.")] = False,
    resume: Annotated[bool, typer.Option(
        help="Continue the run in --run-dir from its last checkpoint (its own config; "
             "--iterations and --num-env-runners may change).")] = False,
    quiet: Annotated[bool, typer.Option(help="Plain log lines instead of the live view.")] = False,
) -> None:
    """Train a self-play league and record every match in the Redis ledger."""
    if resume:
        _resume(run_dir, iterations, num_env_runners, quiet, overwrite=overwrite,
                address=address,
                fixed={"CONFIG_FILE": config_file, "--game": game, "--redis-url": redis_url, "--seed": seed,
                       "--framework": framework, "--snapshot-uri": snapshot_uri,
                       "--max-resident-opponents": max_resident_opponents})
        return
    overrides = {"game": game, "iterations": iterations, "run_dir": run_dir,
                 "redis_url": redis_url, "seed": seed,
                 "training": {"framework": framework.value} if framework is not None else None,
                 "resources": {k: v for k, v in {"num_env_runners": num_env_runners, "address": address}.items()
                               if v is not None} or None,
                 "snapshots": {k: v for k, v in {"uri": snapshot_uri,
                                                 "max_resident_opponents": max_resident_opponents}.items()
                               if v is not None} or None}
    config = load_config(config_file, overrides)

    from league.manager import LeagueManager

    console = Console()
    console.print(f"League: [bold]{config.game}[/], {config.iterations} iterations, run folder {config.run_dir}")
    _train(LeagueManager(config, overwrite=overwrite), console, quiet)


def _resume(run_dir: Optional[Path], iterations: Optional[int], num_env_runners: Optional[int], quiet: bool, *,
            overwrite: bool, address: Optional[str], fixed: dict[str, object]) -> None:
    from league.errors import UsageError
    from league.manager import LeagueManager

    if run_dir is None:
        from league.config import LeagueConfig

        run_dir = LeagueConfig.model_fields["run_dir"].default
    if overwrite:
        raise UsageError("--resume continues the run in --run-dir and --overwrite replaces it: pass one of them")
    given = [name for name, value in fixed.items() if value is not None]
    if given:
        raise UsageError(f"--resume continues a run with the configuration it started with; drop {', '.join(given)} "
                         "(only --iterations, --num-env-runners and --address may change)")
    console = Console()
    manager = LeagueManager.resume(run_dir, iterations=iterations, num_env_runners=num_env_runners, address=address)
    console.print(f"League: resuming {manager.config.game} in {run_dir} after iteration "
                  f"{manager.iteration} of {manager.config.iterations} (resume {manager.resumes})", markup=False)
    _train(manager, console, quiet)


def _train(manager: "LeagueManager", console: Console, quiet: bool) -> None:
    from league.display import LiveView, report_line

    config = manager.config
    with manager:
        if quiet:
            manager.run(on_iteration=lambda report: print(report_line(report), flush=True))
        else:
            view = LiveView(config.iterations, config.evaluation.opponent, start=manager.iteration)
            with Live(view, console=console, refresh_per_second=4):
                manager.run(on_iteration=view.update)
        console.print(
            f"\ndone: {manager.iteration} iterations, {manager.env_steps:,} env steps, "
            f"{manager.ledger.match_count():,} matches, {len(manager.snapshots)} snapshots; "
            f"`league status --run-dir {config.run_dir}` shows the roster"
        )
