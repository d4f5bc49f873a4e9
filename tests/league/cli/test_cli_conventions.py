"""The CLI conventions of issue 22: --version, completion, environment variables, flags without
``--no-`` twins, plain lines when piped, an 80-column live view, no third-party start-up noise,
and a ``--resume`` that accepts the run's own values and names real changes."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import threading

import pytest
from rich.console import Console
from typer.testing import CliRunner

import league
from league.cli import app
from league.run_dir import RunInfo

runner = CliRunner()
WIDE = {"COLUMNS": "300"}
#: Where no Redis listens: a command that got this far (past every usage check) then fails with exit 1.
UNREACHABLE = "redis://127.0.0.1:1/0"


def test_version_prints_the_one_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"league {league.__version__}\n"
    # pyproject.toml reads its version from league.__version__: the installed metadata says the same.
    assert importlib.metadata.version("league") == league.__version__


def test_shell_completion_is_on():
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="league")
    assert result.exit_code == 0, result.output
    assert "_LEAGUE_COMPLETE=complete_bash" in result.output
    assert "--install-completion" in runner.invoke(app, ["--help"], env=WIDE).output


@pytest.mark.parametrize(("command", "flags"), [
    ("run", ("--overwrite", "--resume", "--quiet", "--verbose")),
    ("prune", ("--dry-run",)),
    ("export", ("--overwrite",)),
    ("eval", ("--explore", "--json")),
    ("status", ("--json",)),
])
def test_flags_have_no_negative_twins(command, flags):
    help_text = runner.invoke(app, [command, "--help"], env=WIDE).output
    for flag in flags:
        assert flag in help_text
        assert f"--no-{flag[2:]}" not in help_text
    refused = runner.invoke(app, [command, f"--no-{flags[0][2:]}"], env=WIDE)
    assert refused.exit_code == 2 and "No such option" in refused.output


def test_league_run_dir_is_the_run_dir_of_every_command_that_takes_one(tmp_path):
    folder = tmp_path / "from-env"
    for command in (["status"], ["prune", "--keep-last", "1"], ["report"], ["export", "main", "--out", "x"],
                    ["add-opponent", str(tmp_path / "no-export")]):
        help_text = runner.invoke(app, [command[0], "--help"], env=WIDE).output
        assert "LEAGUE_RUN_DIR" in help_text, command
    result = runner.invoke(app, ["status"], env={**WIDE, "LEAGUE_RUN_DIR": str(folder)})
    assert result.exit_code == 2
    assert f"no League run in {str(folder)!r}" in result.output
    result = runner.invoke(app, ["prune", "--keep-last", "1"], env={**WIDE, "LEAGUE_RUN_DIR": str(folder)})
    assert result.exit_code == 2 and f"no League run in {str(folder)!r}" in result.output


def test_run_dir_precedence_is_flag_then_environment_then_toml_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default runs/league is then a folder without a run
    config = tmp_path / "league.toml"
    config.write_text('game = "tictactoe"\nrun_dir = "from-toml"\n')

    def resumed_folder(*args: str, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(app, ["run", *args, "--resume"],
                               env={**WIDE, "LEAGUE_RUN_DIR": None, **(env or {})})
        assert result.exit_code == 2, result.output
        return result.output

    env = {"LEAGUE_RUN_DIR": "from-env"}
    assert "no League run in 'from-flag'" in resumed_folder(str(config), "--run-dir", "from-flag", env=env)
    assert "no League run in 'from-env'" in resumed_folder(str(config), env=env)
    assert "no League run in 'from-toml'" in resumed_folder(str(config))
    assert "no League run in 'runs/league'" in resumed_folder()


def test_run_takes_run_dir_and_redis_url_from_the_environment(tmp_path):
    folder = tmp_path / "env-run"
    result = runner.invoke(app, ["run", "--game", "tictactoe"],
                           env={**WIDE, "LEAGUE_RUN_DIR": str(folder), "LEAGUE_REDIS_URL": UNREACHABLE})
    assert result.exit_code == 1, result.output
    assert f"run folder {folder}" in result.output
    assert f"Redis ledger at {UNREACHABLE!r} is unreachable" in result.output


def test_resume_accepts_the_runs_own_values_and_names_each_real_change(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # A run on an unreachable Redis: a resume that passes every check fails there, with exit 1.
    RunInfo("run-x", "tictactoe", UNREACHABLE, 1.0,
            {"game": "tictactoe", "seed": 3, "redis_url": UNREACHABLE}).write(run_dir)
    same = runner.invoke(app, ["run", "--resume", "--run-dir", str(run_dir), "--game", "tictactoe",
                               "--seed", "3", "--iterations", "5"], env=WIDE)
    assert same.exit_code == 1, same.output
    assert "is unreachable" in same.output

    # LEAGUE_REDIS_URL naming another server is not taken for --redis-url (which would have to be the run's).
    elsewhere = runner.invoke(app, ["run", "--resume", "--run-dir", str(run_dir)],
                              env={**WIDE, "LEAGUE_REDIS_URL": "redis://127.0.0.1:2/0"})
    assert elsewhere.exit_code == 1 and f"Redis ledger at {UNREACHABLE!r} is unreachable" in elsewhere.output

    changed = runner.invoke(app, ["run", "--resume", "--run-dir", str(run_dir), "--game", "connect_four",
                                  "--seed", "4"], env=WIDE)
    assert changed.exit_code == 2
    lines = changed.output.strip().splitlines()
    assert len(lines) == 1
    assert "game 'tictactoe' -> 'connect_four' (--game); seed 3 -> 4 (--seed)" in lines[0]

    toml = tmp_path / "same.toml"
    toml.write_text(f'game = "tictactoe"\nseed = 3\nrun_dir = "{run_dir}"\niterations = 9\n')
    again = runner.invoke(app, ["run", str(toml), "--resume"], env={**WIDE, "LEAGUE_RUN_DIR": None})
    assert again.exit_code == 1 and "is unreachable" in again.output, again.output
    toml.write_text(f'game = "tictactoe"\nrun_dir = "{run_dir}"\n[training]\nlr = 0.5\n')
    other = runner.invoke(app, ["run", str(toml), "--resume"], env={**WIDE, "LEAGUE_RUN_DIR": None})
    assert other.exit_code == 2
    assert f"changes training.lr 0.0005 -> 0.5 ({toml})" in other.output


def _reports(n: int):
    from league.manager import IterationReport
    from league.ratings import Rating
    from league.types import PairCounts, PlayerId, PlayerRecord, Role

    players = (PlayerRecord(PlayerId("main"), Role.MAIN),
               PlayerRecord(PlayerId("main_exploiter"), Role.MAIN_EXPLOITER),
               PlayerRecord(PlayerId("league_exploiter"), Role.LEAGUE_EXPLOITER),
               PlayerRecord(PlayerId("random"), Role.SCRIPTED),
               PlayerRecord(PlayerId("league_exploiter_v12"), Role.SNAPSHOT, PlayerId("league_exploiter"),
                            12))
    return [IterationReport(
        iteration=i, env_steps=123_456 * i, env_steps_per_s=1534.2, episodes=400, total_episodes=400 * i,
        matches_recorded=12_345, league_size=25, snapshots=118, evaluation=PairCounts(180, 4, 16),
        train_time_s=160.5, league_time_s=11.25, evaluation_time_s=3.0,
        ratings={p.player_id: Rating(1234.5, 25.1, 3.2, 10_000) for p in players},
        resident=(PlayerId("main"), PlayerId("league_exploiter_v12")),
        restored=(PlayerId("league_exploiter_v12"),),
        players=players, sample_time_s=140.2, learn_time_s=19.9, learner_scores={PlayerId("main"): 0.61})
        for i in range(1, n + 1)]


def test_the_live_view_at_80_columns_shows_every_column_and_mains_evaluation_score():
    from league.display import LiveView

    view = LiveView(100, "random")
    for report in _reports(3):
        view.update(report)
    console = Console(width=80, record=True)
    console.print(view)
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in text  # nothing cut
    assert "League iterations (vs random: main's evaluation score)" in text  # the title whole
    title = next(i for i, line in enumerate(lines) if "League iterations" in line)
    rule = next(i for i in range(title, len(lines)) if lines[i].strip().startswith("─"))
    header = " ".join(lines[title + 1:rule])  # the headers, folded at their spaces
    for word in ("iter", "steps", "steps/s", "matches", "league", "snapshots", "res/stored", "main", "Elo",
                 "vs", "random", "sample", "learn", "s"):
        assert word in header.split(), word
    rows = [line.split() for line in lines if line.split() and line.split()[0] in ("1", "2", "3")]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    for row in rows:  # main's evaluation score (180 wins, 4 draws of 200: 0.910) and every cell of the row
        assert row == [row[0], row[1], "1,534", "12,345", "25", "1/118(+1)", "1234", "0.910", "140.2", "19.9",
                       "11.25"]
    roster = {line.split()[0]: line.split()[1:3] for line in lines
              if line.split()[:1] and "_" in line.split()[0]}
    assert roster["main_exploiter"] == ["main_exploiter", "trainable"]
    assert roster["league_exploiter"] == ["league_exploiter", "trainable"]
    assert roster["league_exploiter_v12"] == ["snapshot", "frozen"]  # ids and roles whole


def test_the_live_view_and_quiet_line_show_mains_score_against_each_reference():
    import dataclasses

    from league.display import LiveView, report_line
    from league.types import PairCounts

    references = {"alphabeta-1": PairCounts(50, 0, 150), "heuristic": PairCounts(20, 20, 160)}
    reports = _reports(3)
    reports[1] = dataclasses.replace(reports[1], reference_evaluations=references)  # iterations 1, 3: none
    view = LiveView(100, "random")
    for report in reports:
        view.update(report)
    console = Console(width=80, record=True)
    console.print(view)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()) and "…" not in text  # the table still fits
    # Main's score vs alphabeta-1 50/200 = 0.250, vs heuristic (20 + 20/2)/200 = 0.150, at iteration 2.
    assert "main vs the references after iteration 2: alphabeta-1 0.250, heuristic 0.150" in text
    line = report_line(reports[1])
    assert "win_rate=0.910 eval_games=200 score_vs_alphabeta-1=0.250 score_vs_heuristic=0.150 train_s=" in line
    assert "score_vs_" not in report_line(reports[2])
    plain = Console(width=80, record=True)
    plain.print(LiveView(100, "random"))
    for report in _reports(2):
        view = LiveView(100, "random")
        view.update(report)
        plain.print(view)
    assert "references" not in plain.export_text()  # no references evaluated: no line


def test_status_table_shows_the_latest_evaluation_and_each_players_score_vs_scripted():
    from league.display import status_table

    status = {
        "run_id": "run-x", "game": "connect_four", "iteration": 4,
        "players": [
            {"id": "main", "role": "main", "trainable": True, "games": 900, "parent": None, "created_iteration": 0,
             "elo": 1300.0, "mu": 27.0, "sigma": 2.0, "vs_scripted": {"random": 0.875, "alphabeta-2": None}},
            {"id": "random", "role": "scripted", "trainable": False, "games": 80, "parent": None,
             "created_iteration": 0, "elo": 1100.0, "mu": 20.0, "sigma": 2.0, "vs_scripted": {"alphabeta-2": None}},
            {"id": "alphabeta-2", "role": "scripted", "trainable": False, "games": 40, "parent": None,
             "created_iteration": 0, "elo": 1250.0, "mu": 24.0, "sigma": 2.0, "vs_scripted": {"random": None}},
        ],
        "payoff": [],
        "latest_evaluation": {"iteration": 4, "opponents": {
            "random": {"wins": 18, "draws": 1, "losses": 1, "score": 0.925},
            "alphabeta-2": {"wins": 3, "draws": 2, "losses": 15, "score": 0.2}}},
    }
    console = Console(width=200, record=True)
    console.print(status_table(status))
    lines = console.export_text().splitlines()
    assert any("Main's evaluation at iteration 4" in line for line in lines)
    assert next(line for line in lines if line.split()[:1] == ["random"] and "/" in line).split() == [
        "random", "0.925", "18/1/1"]
    assert next(line for line in lines if line.split()[:1] == ["alphabeta-2"] and "/" in line).split() == [
        "alphabeta-2", "0.200", "3/2/15"]
    header = next(line for line in lines if "skill μ±σ" in line)
    assert "vs random" in header and "vs alphabeta-2" in header
    main = next(line.split("│") for line in lines if line.split("│")[1:2] and line.split("│")[1].strip() == "main")
    columns = [c.strip() for c in header.split("┃")]
    cells = [c.strip() for c in main]
    assert cells[columns.index("vs random")] == "0.88"
    assert cells[columns.index("vs alphabeta-2")] == ""  # never met: blank


NOISE = ("oneDNN", "cuda drivers", "cudart", "absl::InitializeLog", "cpu_feature_guard",
         "constructor arguments in the object store")


def test_a_piped_run_prints_a_line_per_iteration_as_it_happens_and_no_third_party_noise(tmp_path):
    """``league run ... | cat``: plain lines, each as its iteration ends; TensorFlow's start-up notices
    stay out of both streams, the driver's and a Ray env runner's (a worker imports RLlib, so TensorFlow)."""
    config = tmp_path / "tiny.toml"
    config.write_text('game = "tictactoe"\niterations = 3\n'
                      "[training]\ntrain_batch_size = 200\nminibatch_size = 64\nnum_epochs = 1\n"
                      "[evaluation]\ngames = 4\n[resources]\nnum_env_runners = 1\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "LEAGUE_QUIET_THIRD_PARTY")}
    process = subprocess.Popen([sys.executable, "-m", "league", "run", str(config),
                                "--run-dir", str(tmp_path / "run")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
    reader.start()
    lines, running_at_first = [], None
    try:
        for line in process.stdout:  # as the lines arrive (pytest's timeout ends a hung run)
            lines.append(line)
            if running_at_first is None and line.startswith("iteration=1 "):
                running_at_first = process.poll() is None
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    output = "".join(lines) + "".join(errors)
    assert process.returncode == 0, output[-3000:]
    assert running_at_first is True, output[-3000:]  # iteration 1's line came while the run still ran
    assert [line.split()[0] for line in lines if line.startswith("iteration=")] == [
        "iteration=1", "iteration=2", "iteration=3"]
    assert not any(noise in output for noise in NOISE), output[-3000:]
