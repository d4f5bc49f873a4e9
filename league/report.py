"""``league report``: one self-contained HTML page about a run, read from its ledger.

Sections (each an element with its own id, so tests and people can find them):
    * ``summary``: run, game, iterations, matches (episodes and anchor games), snapshots;
    * ``reference-chart``: main's evaluation score against the fixed references over
      iterations, one line (an SVG group ``reference-<opponent>``) per scripted player
      evaluated (``evaluation.opponent`` and ``evaluation.references``; issue 19);
    * ``ratings``: a table of every player by Elo (role, trainable or frozen, Elo,
      OpenSkill mu ± sigma, games, parent, iteration joined);
    * ``elo-chart``: Elo after each iteration for every player, refolded from the
      ledger's matches (trainable players and the best few labelled);
    * ``payoff-heatmap``: the row player's score against the column player, rows
      and columns ordered by Elo, one cell (an SVG group ``cell-<row>-<column>``)
      per ordered pair that met;
    * ``family-tree``: which player each snapshot was frozen from, and when;
    * ``matches``: matches recorded per iteration.

Charts are drawn with matplotlib as inline SVG (glyphs as paths): the file needs
no network and no other file to be viewed.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from league.offline import open_ledger, run_config
from league.ratings import Rating, rating_history
from league.types import PairCounts, PlayerId, PlayerRecord, Role

#: Players named in the Elo chart's legend besides the trainable ones.
_LABELLED_TOP = 8


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, read from a run's ledger.

    Attributes:
        run_id: The run.
        game: Its game.
        progress: The ledger's progress counters.
        players: The roster, in joining order.
        ratings: Stored ratings per player.
        payoff: ``(player, opponent) -> PairCounts`` for every ordered pair that met.
        history: Each player's ratings after each iteration (refolded from the ledger).
        matches_per_iteration: Matches recorded per iteration (episodes and anchor games).
        exploitability: Each exploitability measure, ``(iteration, {player or "mixture": value})``
            (OpenSpiel runs with ``evaluation.exploitability_every``; empty otherwise).
        evaluations: Main's evaluations, ``(iteration, scripted opponent, results)``, oldest first.
    """

    run_id: str
    game: str
    progress: Mapping[str, int]
    players: Sequence[PlayerRecord]
    ratings: Mapping[PlayerId, Rating]
    payoff: Mapping[tuple[PlayerId, PlayerId], PairCounts]
    history: Mapping[PlayerId, list[tuple[int, Rating]]]
    matches_per_iteration: Mapping[int, int]
    exploitability: Sequence[tuple[int, Mapping[str, float]]] = ()
    evaluations: Sequence[tuple[int, str, PairCounts]] = ()

    def by_elo(self) -> list[PlayerId]:
        """Players that have a rating, best Elo first."""
        return sorted(self.ratings, key=lambda p: (-self.ratings[p].elo, p))


def read_report_data(run_dir: Path) -> ReportData:
    """Read what the report needs from the run's ledger (the run may be live or stopped)."""
    with open_ledger(run_dir) as (info, ledger):
        config = run_config(info)
        matches = list(ledger.iter_matches())
        ratings, _ = ledger.ratings()
        data = ReportData(
            run_id=info.run_id, game=info.game, progress=ledger.progress(), players=ledger.players(),
            ratings=ratings, payoff=ledger.payoff_counts(),
            history=rating_history(matches, **config.ratings.book_kwargs()),
            matches_per_iteration=dict(sorted(Counter(m.iteration for m in matches).items())),
            exploitability=ledger.exploitability(),
            evaluations=ledger.evaluations(),
        )
    return data


# -- charts (matplotlib, inline SVG) -------------------------------------------------

def _svg(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight",
                   metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9})
    return plt


def elo_chart(data: ReportData) -> str:
    """Elo after each iteration, one line per player (SVG)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 5))
    trainable = {p.player_id for p in data.players if p.trainable}
    labelled = trainable | set(data.by_elo()[:_LABELLED_TOP])
    for player, series in sorted(data.history.items(), key=lambda item: item[0] in labelled):
        iterations = [it for it, _ in series]
        elos = [rating.elo for _, rating in series]
        if player in labelled:
            axes.plot(iterations, elos, linewidth=1.8 if player in trainable else 1.2, label=player,
                      marker="o" if len(iterations) < 30 else None, markersize=3)
        else:
            axes.plot(iterations, elos, color="0.75", linewidth=0.7)
    axes.set_xlabel("iteration")
    axes.set_ylabel("Elo")
    axes.set_title("Elo over time (grey: other players)")
    axes.grid(alpha=0.3)
    if labelled & set(data.history):
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _svg(figure)


def reference_chart(data: ReportData) -> str:
    """Main's evaluation score (0..1) after each evaluated iteration, one line per scripted opponent (SVG)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 3.5))
    series: dict[str, list[tuple[int, float]]] = {}
    for iteration, opponent, counts in data.evaluations:
        if counts.score is not None:
            series.setdefault(opponent, []).append((iteration, counts.score))
    for opponent, points in series.items():
        line, = axes.plot(*zip(*points, strict=True), label=opponent, linewidth=1.6,
                          marker="o" if len(points) < 30 else None, markersize=3)
        line.set_gid(f"reference-{opponent}")
    axes.set_xlabel("iteration")
    axes.set_ylabel("main's score")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("Main against the fixed references (evaluation games, seats alternating)")
    axes.grid(alpha=0.3)
    if series:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _svg(figure)


def payoff_heatmap(data: ReportData) -> str:
    """Score of row against column, ordered by Elo; one SVG group ``cell-<i>-<j>`` per pair that met."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    met = {p for pair in data.payoff for p in pair}
    order = [p for p in data.by_elo() if p in met] + sorted(met - set(data.ratings))
    index = {p: i for i, p in enumerate(order)}
    size = max(4.0, min(0.28 * len(order) + 2.5, 30.0))
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    cmap, norm = plt.get_cmap("RdYlGn"), Normalize(0.0, 1.0)
    for (player, opponent), counts in sorted(data.payoff.items()):
        score = counts.score
        if score is None:  # they never met
            continue
        row, column = index[player], index[opponent]
        axes.add_patch(Rectangle((column, row), 1, 1, facecolor=cmap(norm(score)), edgecolor="white",
                                 linewidth=0.3, gid=f"cell-{row}-{column}"))
    axes.set_xlim(0, len(order))
    axes.set_ylim(len(order), 0)
    axes.set_xticks([i + 0.5 for i in range(len(order))], order, rotation=90, fontsize=7)
    axes.set_yticks([i + 0.5 for i in range(len(order))], order, fontsize=7)
    axes.set_xlabel("opponent (column)")
    axes.set_ylabel("player (row)")
    axes.set_title("Payoff: row's score vs column (ordered by Elo)")
    axes.set_aspect("equal")
    figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, fraction=0.04, label="score")
    return _svg(figure)


def family_tree(data: ReportData) -> str:
    """Snapshots on one lane per parent, at the iteration they were frozen (SVG)."""
    plt = _pyplot()
    snapshots = [p for p in data.players if p.role is Role.SNAPSHOT]
    lanes: list[str] = [p.player_id for p in data.players if p.trainable]
    lanes += sorted({s.parent or "outside" for s in snapshots} - set(lanes))
    figure, axes = plt.subplots(figsize=(10, 0.8 * len(lanes) + 1.5))
    for lane, parent in enumerate(lanes):
        children = sorted((s for s in snapshots if (s.parent or "outside") == parent),
                          key=lambda s: s.created_iteration)
        xs = [0] + [s.created_iteration for s in children]
        axes.plot(xs, [lane] * len(xs), color="0.6", linewidth=1, zorder=1)
        axes.scatter([0], [lane], marker="s", s=40, color="black", zorder=2)
        for child in children:
            elo = data.ratings.get(child.player_id)
            axes.scatter([child.created_iteration], [lane], s=30, zorder=3,
                         color=plt.get_cmap("viridis")(0.5 if elo is None else min(max((elo.elo - 1000) / 400, 0), 1)))
            if len(children) <= 40:
                axes.annotate(child.player_id.removeprefix(f"{parent}_"), (child.created_iteration, lane),
                              textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6)
    axes.set_yticks(range(len(lanes)), lanes)
    axes.set_ylim(-0.7, len(lanes) - 0.3)
    axes.set_xlabel("iteration frozen")
    axes.set_title("Snapshot family tree (colour: Elo now, darker is lower)")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def matches_chart(data: ReportData) -> str:
    """Matches recorded per iteration (SVG)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 2.5))
    iterations = list(data.matches_per_iteration)
    axes.bar(iterations, [data.matches_per_iteration[i] for i in iterations], width=1.0, color="#4c72b0")
    axes.set_xlabel("iteration")
    axes.set_ylabel("matches")
    axes.set_title("Matches recorded per iteration (episodes and anchor games)")
    return _svg(figure)


def exploitability_chart(data: ReportData) -> str:
    """Exact exploitability after each measured iteration, one line per player and the Nash mixture (SVG)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 3.5))
    keys = sorted({key for _, values in data.exploitability for key in values}, key=lambda k: (k == "mixture", k))
    for key in keys:
        points = [(it, values[key]) for it, values in data.exploitability if key in values]
        axes.plot(*zip(*points, strict=True), label="Nash mixture of the snapshots" if key == "mixture" else key,
                  linewidth=2.0 if key == "mixture" else 1.0)
    axes.set_xlabel("iteration")
    axes.set_ylabel("exploitability")
    axes.set_ylim(bottom=0)
    axes.set_title("Exact exploitability (0 at a Nash equilibrium)")
    axes.legend(fontsize=8)
    return _svg(figure)


# -- the page -------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart svg { max-width: 100%; height: auto; }
.muted { color: #777; }
"""


def _cell(value: Any, numeric: bool = False) -> str:
    return f'<td{" class=num" if numeric else ""}>{html.escape(str(value))}</td>'


def render_report(data: ReportData) -> str:
    """The whole page as one HTML string."""
    records = {p.player_id: p for p in data.players}
    progress = data.progress
    summary = "".join(f"<tr><th>{html.escape(k)}</th>{_cell(v, True)}</tr>" for k, v in (
        ("run", data.run_id), ("game", data.game), ("iterations", progress.get("iteration", 0)),
        ("matches", sum(data.matches_per_iteration.values())), ("episodes", progress.get("episodes", 0)),
        ("anchor games", progress.get("anchor_matches", 0)),
        ("snapshots", sum(1 for p in data.players if p.role is Role.SNAPSHOT)), ("players", len(data.players)),
        ("resumes", progress.get("resumes", 0))))
    rows = []
    for rank, player in enumerate(data.by_elo() + sorted(set(records) - set(data.ratings)), start=1):
        record, rating = records.get(player), data.ratings.get(player)
        rows.append("<tr>" + "".join([
            _cell(rank, True), _cell(player), _cell(record.role.value if record else "removed"),
            _cell("trainable" if record and record.trainable else "frozen"),
            _cell(f"{rating.elo:.0f}" if rating else "-", True),
            _cell(f"{rating.mu:.2f} ± {rating.sigma:.2f}" if rating else "-", True),
            _cell(f"{rating.games:,}" if rating else 0, True),
            _cell(record.parent or "-" if record else "-"),
            _cell(record.created_iteration if record else "-", True)]) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in ("#", "player", "role", "", "Elo", "skill μ ± σ", "rated games",
                                                 "parent", "joined"))
    sections = [
        f"<h1>League report: {html.escape(data.run_id)}</h1>",
        f'<p class="muted">{html.escape(data.game)} · generated by <code>league report</code></p>',
        f'<section id="summary"><h2>Summary</h2><table>{summary}</table></section>',
        '<section><h2>Main against the fixed references</h2>'
        + (f'<div id="reference-chart" class="chart">{reference_chart(data)}</div>' if data.evaluations else
           '<p id="reference-chart" class="muted">no evaluation yet (evaluation.games, evaluation.every)</p>')
        + "</section>",
        f'<section><h2>Ratings</h2><table id="ratings"><thead><tr>{header}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></section>',
        f'<section><h2>Elo over time</h2><div id="elo-chart" class="chart">{elo_chart(data)}</div></section>',
        f'<section><h2>Payoff</h2><div id="payoff-heatmap" class="chart">{payoff_heatmap(data)}</div></section>',
        f'<section><h2>Snapshot family tree</h2><div id="family-tree" class="chart">{family_tree(data)}</div>'
        "</section>",
        f'<section><h2>Matches</h2><div id="matches" class="chart">{matches_chart(data)}</div></section>',
    ]
    if data.exploitability:
        sections.insert(6, '<section><h2>Exploitability</h2><div id="exploitability" class="chart">'
                           f"{exploitability_chart(data)}</div></section>")
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>League report {html.escape(data.run_id)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(sections)}</body></html>\n")


def write_report(run_dir: Path, out: Path) -> Path:
    """Write the report of the run in ``run_dir`` to ``out`` (atomically); return ``out``."""
    page = render_report(read_report_data(run_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
