"""The CLI's single place that turns :class:`~league.errors.LeagueError` into an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from league.errors import LeagueError

F = TypeVar("F", bound=Callable[..., Any])
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def reports_errors(command: F) -> F:
    """Run ``command``; on a :class:`LeagueError` print one line and exit with its code.

    Usage errors exit 2, runtime failures (an unreachable ledger) exit 1.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeagueError as e:
            _stderr.print(f"[bold red]error:[/] {escape(str(e))}", markup=True)  # the message is text, not markup
            raise typer.Exit(code=e.exit_code) from None

    return wrapper  # type: ignore[return-value]
