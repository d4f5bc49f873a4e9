"""The ``league`` command line: one module per command, composed here."""

from __future__ import annotations

import typer

from league.cli.envs_cmd import list_envs
from league.cli.prune_cmd import prune
from league.cli.run_cmd import run
from league.cli.status_cmd import status

app = typer.Typer(help="League: AlphaStar-style league training on Ray RLlib.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command("run")(run)
app.command("status")(status)
app.command("envs")(list_envs)
app.command("prune")(prune)


def main() -> None:
    """Entry point of the ``league`` console script."""
    app()
