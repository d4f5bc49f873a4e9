"""The ``league`` command line: one module per command, composed here."""

from __future__ import annotations

from typing import Annotated

import typer

from league import __version__
from league.cli.add_opponent_cmd import add_opponent
from league.cli.envs_cmd import list_envs
from league.cli.eval_cmd import evaluate
from league.cli.export_cmd import export
from league.cli.play_cmd import play
from league.cli.prune_cmd import prune
from league.cli.report_cmd import report
from league.cli.run_cmd import run
from league.cli.status_cmd import status

# add_completion: `league --install-completion` / `--show-completion` (bash, zsh, fish, PowerShell).
app = typer.Typer(help="League: AlphaStar-style league training on Ray RLlib.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=True)


def _print_version(value: bool) -> None:
    if value:
        print(f"league {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print League's version and exit.")] = False,
) -> None:
    """League: AlphaStar-style league training on Ray RLlib."""
    from league.quiet import quiet_third_party

    quiet_third_party()  # TensorFlow's start-up notices stay out of every command (`league run --verbose` shows them)


app.command("run")(run)
app.command("status")(status)
app.command("envs")(list_envs)
app.command("prune")(prune)
app.command("export")(export)
app.command("eval")(evaluate)
app.command("play")(play)
app.command("add-opponent")(add_opponent)
app.command("report")(report)


def main() -> None:
    """Entry point of the ``league`` console script."""
    app()
