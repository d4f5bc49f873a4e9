"""Seeing a league: the HTML report in headless Chromium, TensorBoard scalars read back, the live view, and
`league status`, `report` and `prune` reading a run without importing Ray or torch."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from league.cli import app
from league.display import LiveView
from league.manager import LeagueManager
from league.offline import open_ledger
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

#: Debian's chromium package (.ci/run installs it).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, ray_session):
    """A 3-iteration Connect Four league (main evaluated vs random and alphabeta-1) and its iterations' reports."""
    tmp_path = tmp_path_factory.mktemp("report")
    config = tiny_config(tmp_path, iterations=3, evaluation={"references": ["alphabeta-1"]})
    view = LiveView(config.iterations, config.evaluation.opponent)
    with LeagueManager(config) as league:
        reports = league.run(on_iteration=view.update)
    return config.run_dir, reports, view


class _Dom(HTMLParser):
    """Collects the rows of ``table#ratings`` and the ids of heatmap cells from a rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rating_rows: list[list[str]] = []
        self.cells: list[str] = []
        self._in_ratings = self._in_body = False
        self._row: list[str] | None = None
        self._in_heatmap = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "ratings":
            self._in_ratings = True
        elif self._in_ratings and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self._row = []
        if attrs.get("id") == "payoff-heatmap":
            self._in_heatmap = 1
        elif self._in_heatmap and (attrs.get("id") or "").startswith("cell-"):
            self.cells.append(attrs["id"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_ratings = self._in_body = False
        elif tag == "tr" and self._row is not None:
            self.rating_rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        message = "Chromium not found: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("LEAGUE_REQUIRE_CHROMIUM"):  # .ci/run installs it and sets this
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=True)


def test_the_report_renders_in_headless_chromium_with_ratings_and_a_cell_per_pair(short_run, tmp_path):
    run_dir, _, _ = short_run
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--run-dir", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    # Self-contained: nothing is fetched (namespace URIs such as xmlns="http://www.w3.org/..." are only names).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)|@import""", page)
    assert "<svg" in page and "<script" not in page
    assert 'id="exploitability"' not in page  # Connect Four: no exploitability measures, no section

    dom = _chromium("--dump-dom", out.resolve().as_uri(), tmp_path=tmp_path).stdout
    # Main against the fixed references, first after the summary: one line per evaluated opponent.
    assert dom.index('id="summary"') < dom.index('id="reference-chart"') < dom.index('id="ratings"')
    assert sorted(re.findall(r'id="reference-(random|alphabeta-1)"', dom)) == ["alphabeta-1", "random"]
    parsed = _Dom()
    parsed.feed(dom)
    with open_ledger(run_dir) as (_, ledger):
        players = ledger.players()
        ratings, _ = ledger.ratings()
        payoff = ledger.payoff_counts()
    # The ratings table: one row per player, best Elo first, with each Elo as stored.
    assert sorted(row[1] for row in parsed.rating_rows) == sorted(p.player_id for p in players)
    best_first = sorted(ratings, key=lambda p: (-ratings[p].elo, p))  # ties (equal records) by id
    assert [row[1] for row in parsed.rating_rows] == best_first
    assert [row[4] for row in parsed.rating_rows] == [f"{ratings[p].elo:.0f}" for p in best_first]
    # The heatmap: exactly one cell per ordered pair of players that met.
    assert len(parsed.cells) == len(set(parsed.cells)) == sum(1 for c in payoff.values() if c.games) > 10

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1400,3000", out.resolve().as_uri(), tmp_path=tmp_path)
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 3000)
    assert len(set(image.resize((350, 750)).getdata())) > 100  # charts drawn, not a blank page


def test_tensorboard_events_hold_the_rating_scalars_of_every_iteration(short_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, reports, _ = short_run
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"elo/main", "skill_mu/main", "skill_sigma/main", "win_rate/main", "league/size",
            "throughput/env_steps_per_s", "time/sample_s", "evaluation/score_vs_random",
            "evaluation/score_vs_alphabeta-1"} <= tags
    for player in ("main", "random", "main_v1"):
        written = [(e.step, e.value) for e in events.Scalars(f"elo/{player}")]
        expected = [(r.iteration, r.ratings[player].elo) for r in reports if player in r.ratings]
        assert [s for s, _ in written] == [s for s, _ in expected]
        assert [v for _, v in written] == pytest.approx([v for _, v in expected], rel=1e-6)
    sizes = [e.value for e in events.Scalars("league/size")]
    assert sizes == [float(r.league_size) for r in reports]


def test_the_live_view_shows_the_roster_with_roles_ratings_and_time_per_phase(short_run):
    _, reports, view = short_run
    console = Console(width=200, record=True)
    console.print(view)
    text = console.export_text()
    last = reports[-1]
    for header in ("sample s", "learn s", "league s", "snapshots res/stored", "Roster after iteration 3"):
        assert header in text
    for player in ("main", "main_exploiter", "league_exploiter"):
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{player} "))
        assert "trainable" in line and f"{last.ratings[player].elo:.0f}" in line
    assert last.sample_time_s > 0 and last.learn_time_s > 0
    assert last.sample_time_s + last.learn_time_s <= last.train_time_s + 1e-6


# -- reading a run imports neither Ray nor torch (issue 21) ------------------------------------------------------

#: Packages that reading a stopped run must not import: a run's table, report or prune needs neither.
HEAVY = ("ray", "torch", "tensorflow")


def _league_imports(*args: str, hide: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime -m league ARGS`` (``hide``: packages made unimportable first) and
    return the process and the top-level packages it imported, as ``-X importtime`` lists them."""
    code = "".join(f"sys.modules[{name!r}] = None; " for name in hide)
    command = ([sys.executable, "-X", "importtime", "-m", "league", *args] if not hide else
               [sys.executable, "-X", "importtime", "-c",
                f"import sys; {code}sys.argv = ['league', *sys.argv[1:]]; from league.cli import main; main()",
                *args])
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    return done, imported


def test_status_report_and_prune_of_a_run_import_neither_ray_nor_torch(short_run, tmp_path):
    run_dir, _, _ = short_run
    status, imported = _league_imports("status", "--run-dir", str(run_dir))
    assert status.returncode == 0, status.stderr[-3000:]
    assert "main_exploiter" in status.stdout and "Payoff" in status.stdout  # the table was drawn
    assert {"league", "rich", "redis"} <= imported  # -X importtime's list was read
    assert not imported & set(HEAVY)
    report, imported = _league_imports("report", "--run-dir", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert "report written to" in report.stdout and (tmp_path / "r.html").stat().st_size > 0
    assert "matplotlib" in imported and not imported & set(HEAVY)
    prune, imported = _league_imports("prune", "--run-dir", str(run_dir), "--keep-last", "1", "--dry-run")
    assert prune.returncode == 0, prune.stderr[-3000:]
    assert re.search(r"would remove [1-9]\d* snapshot\(s\): main", prune.stdout), prune.stdout
    assert not imported & set(HEAVY)


def test_status_reads_a_tf2_run_where_tensorflow_cannot_be_imported(short_run, tmp_path):
    # A tf2 run's folder read on a machine without the tf extra: the framework matters only to a run that trains.
    copy = tmp_path / "tf2-run"
    shutil.copytree(short_run[0], copy)
    info = json.loads((copy / "run.json").read_text())
    info["config"]["training"]["framework"] = "tf2"
    (copy / "run.json").write_text(json.dumps(info))
    status, imported = _league_imports("status", "--run-dir", str(copy), "--json", hide=("tensorflow", "tf_keras"))
    assert status.returncode == 0, status.stderr[-3000:]
    assert json.loads(status.stdout)["iteration"] == 3
    assert not imported & set(HEAVY)
