"""Rendering League's progress and status for people: rich tables and a live view."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from league.manager import IterationReport

_COLUMNS = ("iter", "env steps", "steps/s", "episodes", "matches", "league", "snapshots",
            "win rate vs {opponent}", "train s", "league s")


def _win_rate(report: IterationReport) -> str:
    counts = report.evaluation
    return "-" if counts is None or counts.score is None else f"{counts.score:.3f} ({counts.games} games)"


def report_cells(report: IterationReport) -> list[str]:
    """One iteration as table cells, in the order of the live table's columns."""
    return [
        str(report.iteration), f"{report.env_steps:,}", f"{report.env_steps_per_s:,.0f}",
        str(report.episodes), f"{report.matches_recorded:,}", str(report.league_size),
        str(report.snapshots), _win_rate(report), f"{report.train_time_s:.1f}",
        f"{report.league_time_s:.2f}",
    ]


def report_line(report: IterationReport) -> str:
    """One iteration as a plain log line (``--quiet``)."""
    names = ("iteration", "env_steps", "steps_per_s", "episodes", "matches", "league_size",
             "snapshots", "win_rate", "train_s", "league_s")
    return " ".join(f"{n}={c.replace(',', '').replace(' ', '')}" for n, c in zip(names, report_cells(report)))


class LiveView:
    """The live view of ``league run``: a progress bar over a table of recent iterations."""

    def __init__(self, total: int, opponent: str, rows: int = 12) -> None:
        self._rows = rows
        self._opponent = opponent
        self._reports: list[IterationReport] = []
        self.progress = Progress(TextColumn("[bold]league"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn())
        self._task = self.progress.add_task("iterations", total=total)

    def update(self, report: IterationReport) -> None:
        """Add an iteration's report."""
        self._reports.append(report)
        self.progress.update(self._task, completed=report.iteration)

    def __rich__(self) -> Group:
        table = Table(title="League iterations", expand=False)
        for column in _COLUMNS:
            table.add_column(column.format(opponent=self._opponent), justify="right")
        for report in self._reports[-self._rows:]:
            table.add_row(*report_cells(report))
        return Group(table, self.progress)


def status_table(status: dict[str, Any]) -> Group:
    """``league status`` as a roster table and a summary table."""
    summary = Table(title=f"Run {status['run_id']} ({status['game']})", show_header=False)
    for key in ("iteration", "env_steps", "matches", "episodes", "snapshots", "win_rate_vs_random"):
        value = status.get(key)
        summary.add_row(key.replace("_", " "), "-" if value is None else f"{value}")
    roster = Table(title="Roster")
    for column in ("id", "role", "trainable", "games", "joined at iteration", "parent"):
        roster.add_column(column)
    for player in status["players"]:
        roster.add_row(player["id"], player["role"], "yes" if player["trainable"] else "no",
                       f"{player['games']:,}", str(player["created_iteration"]), player["parent"] or "-")
    return Group(summary, roster)


def games_table(rows: Sequence[tuple[str, str, str, str]]) -> Table:
    """``league envs`` as a table."""
    table = Table(title="Games")
    for column in ("name", "PettingZoo id", "moves", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table
