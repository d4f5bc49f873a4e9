"""Rendering League's progress and status for people: rich tables and a live view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from league.iteration import MAIN, IterationReport
from league.types import Role

_COLUMNS = ("iter", "steps", "steps/s", "matches", "league", "snapshots res/stored", "main Elo",
            "vs {opponent}", "sample s", "learn s", "league s")


def _win_rate(report: IterationReport) -> str:
    counts = report.evaluation
    return "-" if counts is None or counts.score is None else f"{counts.score:.3f}"


def _main_elo(report: IterationReport) -> str:
    rating = report.ratings.get(MAIN)
    return "-" if rating is None else f"{rating.elo:.0f}"


def _compact(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{n / 1e3:.0f}k" if n >= 10_000 else str(n)


def report_cells(report: IterationReport) -> list[str]:
    """One iteration as table cells, in the order of the live table's columns."""
    return [
        str(report.iteration), _compact(report.env_steps), f"{report.env_steps_per_s:,.0f}",
        f"{report.matches_recorded:,}", str(report.league_size),
        f"{_resident_snapshots(report)}/{report.snapshots}(+{len(report.restored)})",
        _main_elo(report), _win_rate(report), f"{report.sample_time_s:.1f}", f"{report.learn_time_s:.1f}",
        f"{report.league_time_s:.2f}",
    ]


def _resident_snapshots(report: IterationReport) -> int:
    snapshots = {p.player_id for p in report.players if p.role is Role.SNAPSHOT}
    return sum(1 for p in report.resident if p in snapshots)


def fitted_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None,
                 left: int = 0) -> Table:
    """A table whose values are never cut or wrapped, for a console ``width`` columns wide (None: any).

    When the one-line headers make the table wider than ``width``, the headers
    fold at their spaces (one word a line) and columns sit one space apart, so
    every column still shows at 80 columns (issue 22).

    Args:
        title: The table's title (it wraps between words).
        headers: Column headers.
        rows: The cells, without spaces inside a value.
        width: The console's width.
        left: How many of the first columns are left-justified (the rest are right-justified).
    """
    cells = [max([len(row[i]) for row in rows], default=0) for i in range(len(headers))]
    wide = sum(max(len(h), c) + 2 for h, c in zip(headers, cells, strict=True)) + len(headers) + 1
    narrow = width is not None and wide > width
    table = Table(title=title, box=box.SIMPLE_HEAD, expand=False, padding=(0, 0) if narrow else (0, 1))
    for i, header in enumerate(headers):
        table.add_column("\n".join(header.split()) if narrow else header, no_wrap=True,
                         justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    return table


def roster_table(report: IterationReport, rows: int = 10, *, width: int | None = None) -> Table:
    """The roster after ``report``'s iteration: trainable players first, then the best frozen ones by Elo.

    Args:
        report: The iteration's report.
        rows: Most players shown.
        width: The console's width, if known (see :func:`fitted_table`).
    """
    ratings = report.ratings
    trainable = [p for p in report.players if p.trainable]
    frozen = sorted((p for p in report.players if not p.trainable),
                    key=lambda p: -(ratings[p.player_id].elo if p.player_id in ratings else float("-inf")))
    top = frozen[:max(rows - len(trainable), 0)]
    shown = trainable + top
    rows_shown = []
    for player in shown:
        rating = ratings.get(player.player_id)
        score = report.learner_scores.get(player.player_id)
        rows_shown.append((player.player_id, player.role.value, "trainable" if player.trainable else "frozen",
                           "-" if rating is None else f"{rating.elo:.0f}",
                           "-" if rating is None else f"{rating.mu:.1f}±{rating.sigma:.1f}",
                           "-" if rating is None else f"{rating.games:,}",
                           "-" if score is None else f"{score:.2f}"))
    return fitted_table(f"Roster after iteration {report.iteration} ({len(report.players)} players, "
                        f"{len(frozen) - len(top)} more frozen not shown)",
                        ("player", "role", "", "Elo", "skill μ±σ", "games", "score this iter"), rows_shown,
                        width=width, left=3)


def report_line(report: IterationReport) -> str:
    """One iteration as a plain log line (``--quiet``)."""
    evaluation = report.evaluation
    win_rate = "-" if evaluation is None or evaluation.score is None else f"{evaluation.score:.3f}"
    games = 0 if evaluation is None else evaluation.games
    return (f"iteration={report.iteration} env_steps={report.env_steps} "
            f"steps_per_s={report.env_steps_per_s:.0f} episodes={report.episodes} "
            f"matches={report.matches_recorded} league_size={report.league_size} "
            f"snapshots={report.snapshots} resident={len(report.resident)} restored={len(report.restored)} "
            f"sample_s={report.sample_time_s:.1f} learn_s={report.learn_time_s:.1f} "
            f"main_elo={_main_elo(report)} "
            f"win_rate={win_rate} eval_games={games} "
            + "".join(f"score_vs_{name}={score:.3f} " for name, score in report.reference_scores.items())
            + f"train_s={report.train_time_s:.1f} league_s={report.league_time_s:.2f}"
            f"{' checkpoint' if report.checkpointed else ''}"
            + "".join(f" {name}={value}" for name, value in (
                ("env_runner_restarts", report.env_runner_restarts), ("env_restarts", report.env_restarts),
                ("ledger_retries", report.ledger_retries)) if value)
            + "".join(f" exploitability_{key}={value:.4f}" for key, value in report.exploitability.items())
            + _main_learner(report))


def _main_learner(report: IterationReport) -> str:
    """`` main_policy_loss=... main_entropy=... main_kl=...``: main's learner statistics, those it has."""
    stats = report.learner_stats.get(MAIN, {})
    return "".join(f" main_{name}={stats[name]:.4g}" for name in ("policy_loss", "entropy", "kl") if name in stats)


def format_exploitability(values: Mapping[str, float]) -> str:
    """``main 0.1234, mixture 0.0456``: an exploitability measure on one line."""
    return ", ".join(f"{key} {value:.4f}" for key, value in values.items())


def exploitability_line(reports: list[IterationReport]) -> str | None:
    """The latest exploitability measure as one line, or None if none was measured."""
    measured = [r for r in reports if r.exploitability]
    if not measured:
        return None
    last = measured[-1]
    return (f"exploitability after iteration {last.iteration}: "
            + format_exploitability(last.exploitability))


def references_line(reports: list[IterationReport]) -> str | None:
    """Main's scores against ``evaluation.references`` at the latest iteration evaluated against them, or None.

    A line below the live table rather than columns in it: the table already fills 80 columns (issue 22).
    """
    evaluated = [r for r in reports if r.reference_scores]
    if not evaluated:
        return None
    last = evaluated[-1]
    return (f"main vs the references after iteration {last.iteration}: "
            + ", ".join(f"{name} {score:.3f}" for name, score in last.reference_scores.items()))


class LiveView:
    """The live view of ``league run``: a progress bar over a table of recent iterations."""

    def __init__(self, total: int | None, opponent: str, rows: int = 12, *, start: int = 0) -> None:
        self._rows = rows
        self._opponent = opponent
        self._reports: list[IterationReport] = []
        self.progress = Progress(TextColumn("[bold]league"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn())
        self._task = self.progress.add_task("iterations", total=total, completed=start)

    def update(self, report: IterationReport) -> None:
        """Add an iteration's report."""
        self._reports.append(report)
        self.progress.update(self._task, completed=report.iteration)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width)

    def render(self, width: int | None = None) -> Group:
        """The view for a console ``width`` columns wide (None: wide)."""
        table = fitted_table(f"League iterations (vs {self._opponent}: main's evaluation score)",
                             [column.format(opponent=self._opponent) for column in _COLUMNS],
                             [report_cells(report) for report in self._reports[-self._rows:]], width=width)
        if not self._reports:
            return Group(table, self.progress)
        lines = [line for line in (references_line(self._reports), exploitability_line(self._reports)) if line]
        parts = [roster_table(self._reports[-1], width=width), table] + [Text(line) for line in lines] \
            + [self.progress]
        return Group(*parts)


def _rating_cells(player: dict[str, Any]) -> tuple[str, str]:
    if player.get("elo") is None:
        return "-", "-"
    return f"{player['elo']:.0f}", f"{player['mu']:.1f}±{player['sigma']:.1f}"


def payoff_table(status: dict[str, Any], top: int = 8) -> Table:
    """The payoff matrix of the ``top`` players by Elo: row player's score against each column."""
    players = [p["id"] for p in status["players"]][:top]
    scores = {(e["player"], e["opponent"]): e for e in status["payoff"]}
    table = Table(title=f"Payoff (score of row vs column; top {len(players)} by Elo)", box=box.SIMPLE_HEAD)
    table.add_column("")
    for player in players:
        table.add_column(player, justify="right")
    for row in players:
        cells = []
        for column in players:
            entry = scores.get((row, column))
            cells.append("-" if entry is None or entry["score"] is None
                         else f"{entry['score']:.2f} ({entry['wins'] + entry['draws'] + entry['losses']})")
        table.add_row(row, *cells)
    return table


def status_table(status: dict[str, Any]) -> Group:
    """``league status``: a summary, the roster by Elo and the top of the payoff matrix."""
    summary = Table(title=f"Run {status['run_id']} ({status['game']})", show_header=False)
    for key in ("iteration", "env_steps", "matches", "matches_rated", "episodes", "snapshots",
                "snapshot_uri", "ledger_server", "resident_policies", "win_rate_vs_random", "resumes",
                "env_runner_restarts", "env_restarts", "ledger_retries", "wall_seconds"):
        value = status.get(key)
        summary.add_row(key.replace("_", " "), "-" if value is None else f"{value}")
    if status.get("exploitability"):
        last = dict(status["exploitability"][-1])
        iteration = last.pop("iteration")
        summary.add_row(f"exploitability (iteration {iteration})", format_exploitability(last))
    for snapshot, reason in status.get("unusable", {}).items():
        summary.add_row(f"unusable {snapshot}", reason)
    scripted = [p["id"] for p in status["players"] if p["role"] == Role.SCRIPTED.value]
    roster = Table(title="Roster (best Elo first; vs: score against each scripted player, from the payoff)")
    for column in ("id", "role", "trainable", "Elo", "skill μ±σ", "games", *(f"vs {s}" for s in scripted),
                   "joined", "parent"):
        roster.add_column(column, justify="right" if column in ("Elo", "games") or column.startswith("vs ")
                          else "left")
    for player in status["players"]:
        versus = player.get("vs_scripted", {})
        roster.add_row(player["id"], player["role"], "yes" if player["trainable"] else "frozen",
                       *_rating_cells(player), f"{player['games']:,}",
                       *("" if versus.get(s) is None else f"{versus[s]:.2f}" for s in scripted),
                       str(player["created_iteration"]), player["parent"] or "-")
    parts = [summary] + ([evaluation_table(status["latest_evaluation"])] if status.get("latest_evaluation") else [])
    return Group(*parts, roster, payoff_table(status))


def evaluation_table(latest: Mapping[str, Any]) -> Table:
    """Main's latest evaluation (``read_status``'s ``latest_evaluation``): score and W/D/L per opponent."""
    table = Table(title=f"Main's evaluation at iteration {latest['iteration']}", box=box.SIMPLE_HEAD)
    for column in ("opponent", "score", "W/D/L"):
        table.add_column(column, justify="left" if column == "opponent" else "right")
    for opponent, c in latest["opponents"].items():
        table.add_row(opponent, "-" if c["score"] is None else f"{c['score']:.3f}",
                      f"{c['wins']}/{c['draws']}/{c['losses']}")
    return table


def games_table(rows: Sequence[tuple[str, str, str, str]]) -> Table:
    """``league envs`` as a table."""
    table = Table(title="Games")
    for column in ("name", "PettingZoo id", "moves", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table
