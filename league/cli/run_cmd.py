"""``league run``: train a league."""

from __future__ import annotations

import contextlib
import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from league.cli.errors import reports_errors
from league.config import load_config
from league.torch_only import skip_tensorflow

if TYPE_CHECKING:
    from league.config import LeagueConfig
    from league.manager import LeagueManager


class Framework(str, enum.Enum):
    """``--framework`` choices (``training.framework``)."""

    TORCH = "torch"
    TF2 = "tf2"


#: The flag behind each config field ``league run`` sets, so a bad value is blamed on the flag, not the file.
FLAGS = {"game": "--game", "iterations": "--iterations", "minutes": "--minutes", "run_dir": "--run-dir",
         "redis_url": "--redis-url",
         "seed": "--seed", "training.framework": "--framework", "resources.num_env_runners": "--num-env-runners",
         "resources.address": "--address", "snapshots.uri": "--snapshot-uri",
         "snapshots.max_resident_opponents": "--max-resident-opponents"}


@reports_errors
def run(
    ctx: typer.Context,
    config_file: Annotated[Path | None, typer.Argument(help="TOML config file; flags override its values.")] = None,
    game: Annotated[str | None, typer.Option(help="Game to train on (see `league envs`).")] = None,
    iterations: Annotated[int | None, typer.Option(help="League iterations to run.")] = None,
    # Text, checked by the config like every value, so a bad one is a one-line error naming --minutes.
    minutes: Annotated[str | None, typer.Option(
        metavar="MINUTES", show_default=False,
        help="Time budget in minutes (30, 2.5): stop, checkpointed, after the first iteration that ends past "
             "it (with --iterations, whichever comes first; alone, no iteration limit). A resume gets a fresh "
             "budget.")] = None,
    run_dir: Annotated[Path | None, typer.Option(
        envvar="LEAGUE_RUN_DIR", help="Folder for the run's files (default: the config's run_dir).")] = None,
    redis_url: Annotated[str | None, typer.Option(
        envvar="LEAGUE_REDIS_URL",
        help="External Redis (redis://...); default: embedded. With --resume: the run's URL with its password "
             "(run.json keeps it redacted; or set LEAGUE_REDIS_URL or REDIS_PASSWORD).")] = None,
    num_env_runners: Annotated[int | None, typer.Option(help="Remote env runners (0: sample in the driver).")] = None,
    address: Annotated[str | None, typer.Option(
        help="Join an existing Ray cluster: 'auto' or ray://HOST:PORT (default: start a local Ray).")] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed.")] = None,
    framework: Annotated[Framework | None, typer.Option(
        help="Framework of the trainable players (training.framework; tf2 needs pip install 'league\\[tf]').")] = None,
    snapshot_uri: Annotated[str | None, typer.Option(
        help="Snapshot store: a folder or s3://bucket/prefix (default: <run-dir>/snapshots).")] = None,
    max_resident_opponents: Annotated[int | None, typer.Option(
        help="Most frozen players held in memory at once; the rest wait in the snapshot store.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a run already in --run-dir.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the run in --run-dir from its last checkpoint with its own config (flags "
                         "may repeat its values; --iterations, --minutes, --num-env-runners and --address may "
                         "change).")] = False,
    from_scratch: Annotated[bool, typer.Option(
        "--from-scratch", help="With --resume: start the run over from iteration 0 with its own config, "
                               "replacing its matches, snapshots and checkpoints.")] = False,
    recipe: Annotated[bool, typer.Option(
        "--recipe/--no-recipe", help="Lay the game's recipe (`league envs --show GAME`) under the config file "
                                     "and flags; --no-recipe: League's plain defaults under them. A --resume "
                                     "continues with the run's own config either way.")] = True,
    quiet: Annotated[bool, typer.Option(
        "--quiet", help="Plain log lines instead of the live view (automatic when stdout is not a terminal).")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="Show third-party start-up notices (TensorFlow, absl, Ray) that League hides.")] = False,
) -> None:
    """Train a self-play league and record every match in the Redis ledger."""
    if from_scratch and not resume:
        from league.errors import UsageError

        raise UsageError("--from-scratch starts over the run in --run-dir and goes with --resume; "
                         "for a new run leave it out")
    _third_party_output(verbose)
    # Plain lines, flushed as they happen, wherever a live view cannot show (a pipe, a log file).
    quiet = quiet or not sys.stdout.isatty()
    source = ctx.get_parameter_source("redis_url")  # click's ParameterSource
    if resume and source is not None and source.name == "ENVIRONMENT":
        redis_url = None  # resolve_redis_url reads LEAGUE_REDIS_URL itself, and only if it names the run's server
    overrides = {"game": game, "iterations": iterations, "minutes": minutes, "run_dir": run_dir,
                 "redis_url": redis_url, "seed": seed,
                 "training": {"framework": framework.value} if framework is not None else None,
                 "resources": {k: v for k, v in {"num_env_runners": num_env_runners, "address": address}.items()
                               if v is not None} or None,
                 "snapshots": {k: v for k, v in {"uri": snapshot_uri,
                                                 "max_resident_opponents": max_resident_opponents}.items()
                               if v is not None} or None}
    if resume:
        _resume(config_file, overrides, quiet, verbose, overwrite=overwrite, from_scratch=from_scratch)
        return
    config = load_config(config_file, overrides, flags=FLAGS, recipe=recipe)
    skip_tensorflow(config.training.framework)  # before RLlib is imported (league.torch_only)

    from league.manager import LeagueManager
    from league.recipes import recipe_for

    console = Console(soft_wrap=quiet)
    applied = recipe_for(config.game) if recipe else None
    recipe_note = f", recipe {applied.name} (league envs --show {config.game})" if applied is not None else ""
    console.print(f"League: [bold]{config.game}[/], {_limits(config)}, run folder {config.run_dir}{recipe_note}")
    with _hold_notices(verbose):
        manager = LeagueManager(config, overwrite=overwrite)
    _train(manager, console, quiet)


def _third_party_output(verbose: bool) -> None:
    """Third-party start-up notices: hidden (every command, see :mod:`league.quiet`) or, with ``--verbose``, shown."""
    from league.quiet import loud_third_party, quiet_third_party

    if verbose:
        loud_third_party()
    else:
        quiet_third_party()


def _hold_notices(verbose: bool) -> contextlib.AbstractContextManager[None]:
    """Ray's native notices while a league starts (its env runners) are filtered too, unless ``verbose``."""
    from league.quiet import filtered_stderr

    return contextlib.nullcontext() if verbose else filtered_stderr()


def _resume(config_file: Path | None, overrides: dict[str, Any], quiet: bool, verbose: bool, *,
            overwrite: bool, from_scratch: bool) -> None:
    from league.cli.resume_check import resume_target
    from league.errors import UsageError

    if overwrite:
        raise UsageError("--resume continues the run in --run-dir and --overwrite replaces it: pass one of them")
    target = resume_target(config_file, overrides, flags=FLAGS)
    skip_tensorflow(target.framework)

    from league.manager import LeagueManager

    run_dir = target.run_dir
    console = Console(soft_wrap=quiet)
    with _hold_notices(verbose):
        manager = LeagueManager.resume(run_dir, iterations=target.iterations, minutes=target.minutes,
                                       num_env_runners=target.num_env_runners, address=target.address,
                                       redis_url=target.redis_url, from_scratch=from_scratch)
    if from_scratch:
        console.print(f"League: starting {manager.config.game} in {run_dir} over from iteration 0", markup=False)
        _train(manager, console, quiet)
        return
    config = manager.config
    total = "" if config.iterations is None else f" of {config.iterations}"
    budget = "" if config.minutes is None else f", for at most {config.minutes:g} more minutes"
    console.print(f"League: resuming {config.game} in {run_dir} after iteration {manager.iteration}{total} "
                  f"(resume {manager.resumes}){budget}", markup=False)
    _train(manager, console, quiet)


def _limits(config: LeagueConfig) -> str:
    """``30 iterations``, ``at most 5 minutes`` or both: what stops the run."""
    iterations = None if config.iterations is None else f"{config.iterations} iterations"
    minutes = None if config.minutes is None else f"{config.minutes:g} minutes"
    if iterations and minutes:
        return f"{iterations} or {minutes}, whichever comes first"
    return iterations or f"at most {minutes}"


def _train(manager: LeagueManager, console: Console, quiet: bool) -> None:
    from league.budget import StopReason
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
        if manager.stop_reason is StopReason.TIME_BUDGET:
            console.print(f"stopped on the time budget ({config.minutes:g} minutes) after iteration "
                          f"{manager.iteration}, checkpointed; `league run --resume --run-dir "
                          f"{config.run_dir}` continues", markup=False)
