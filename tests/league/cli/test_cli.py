"""The ``league`` command line, driven through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from league.cli import app

runner = CliRunner()


def test_envs_lists_the_games():
    result = runner.invoke(app, ["envs"])
    assert result.exit_code == 0
    for name in ("connect_four", "tictactoe", "rps"):
        assert name in result.output
    assert "openspiel:<game>" in result.output


def test_unknown_game_exits_2_with_one_line():
    result = runner.invoke(app, ["run", "--game", "nosuchgame"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "game: unknown game 'nosuchgame'; available games: connect_four, rps, tictactoe" in lines[0]


def test_toml_with_negative_iterations_exits_2_naming_the_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("iterations = -1\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "iterations: Input should be greater than or equal to 1 (got -1)" in result.output
    assert "Traceback" not in result.output


def test_status_of_a_folder_without_a_run_exits_2(tmp_path):
    result = runner.invoke(app, ["status", "--run-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no League run in" in result.output


@pytest.mark.usefixtures("ray_session")
def test_run_then_status_json_reports_roster_and_matches(tmp_path):
    config = tmp_path / "league.toml"
    config.write_text(
        'game = "tictactoe"\n'
        "[training]\ntrain_batch_size = 400\nminibatch_size = 64\nnum_epochs = 2\n"
        "[snapshots]\nmax_iterations_per_snapshot = 1\n[evaluation]\ngames = 20\n"
    )
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["run", str(config), "--iterations", "2", "--run-dir", str(run_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "iteration=2" in result.output

    status = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["iteration"] == 2
    assert data["snapshots"] == 6  # three trainable players frozen after each iteration
    # Matches = RLlib episodes + the anchor games of each snapshot against the scripted players.
    assert data["anchor_matches"] > 0
    assert data["matches"] == data["episodes"] + data["anchor_matches"] == data["matches_rated"]
    players = {p["id"]: p for p in data["players"]}
    assert {pid: (p["role"], p["trainable"]) for pid, p in players.items()
            if pid in ("main", "main_exploiter", "league_exploiter", "random", "main_v1")} == {
        "main": ("main", True), "main_exploiter": ("main_exploiter", True),
        "league_exploiter": ("league_exploiter", True), "random": ("scripted", False),
        "main_v1": ("snapshot", False)}
    assert all(players[p]["elo"] is not None and players[p]["sigma"] > 0 for p in ("main", "random"))
    elos = [p["elo"] for p in data["players"] if p["elo"] is not None]
    assert elos == sorted(elos, reverse=True)  # best first
    pairs = {(e["player"], e["opponent"]): e for e in data["payoff"]}
    assert sum(e["wins"] + e["draws"] + e["losses"] for (a, b), e in pairs.items() if a == "main") \
        >= players["main"]["games"]
    assert 0.0 <= data["win_rate_vs_random"] <= 1.0

    table = runner.invoke(app, ["status", "--run-dir", str(run_dir)], env={"COLUMNS": "220"})
    assert table.exit_code == 0
    for text in ("main_v2", "Elo", "skill", "main_exploiter", "league_exploiter", "Payoff", "frozen"):
        assert text in table.output

    again = runner.invoke(app, ["run", str(config), "--iterations", "1", "--run-dir", str(run_dir)])
    assert again.exit_code == 2
    assert "already holds a run; pass --resume to continue it, --overwrite" in again.output


def test_prune_without_a_rule_exits_2(tmp_path):
    result = runner.invoke(app, ["prune", "--run-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "give --keep-last N, --keep-top K or both" in result.output


def test_an_unsupported_snapshot_uri_exits_2_naming_the_field():
    result = runner.invoke(app, ["run", "--snapshot-uri", "ftp://host/x"])
    assert result.exit_code == 2
    assert "snapshots.uri: unsupported scheme 'ftp://': expected a folder, file:// or s3://" in result.output



def test_an_unreachable_snapshot_store_exits_1_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = tmp_path / "s3.toml"
    config.write_text('[snapshots]\nuri = "s3://league-bucket/x"\nendpoint_url = "http://127.0.0.1:1"\n')
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "error: snapshot store 's3://league-bucket/x': could not list snapshots" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_redis_at_start_exits_1_naming_it(tmp_path):
    result = runner.invoke(app, ["run", "--redis-url", "redis://127.0.0.1:1/0", "--run-dir", str(tmp_path / "run")],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "error: Redis ledger at 'redis://127.0.0.1:1/0' is unreachable" in result.output
    assert "Traceback" not in result.output


# -- one-line usage errors instead of tracebacks (issue 20) --------------------------------


def _one_line_usage_error(result) -> str:
    """The error line of a usage error; it is the output's last line (`league run` prints a header first)."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and not any(line.startswith("error") for line in lines[:-1]), \
        result.output
    assert len(lines) <= 2, result.output
    return lines[-1]


def test_a_run_folder_that_is_a_file_or_not_writable_exits_2(tmp_path):
    import os

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    line = _one_line_usage_error(runner.invoke(app, ["run", "--game", "tictactoe", "--run-dir", str(afile)],
                                               env={"COLUMNS": "300"}))
    assert f"run folder '{afile}' is a file, not a folder; choose another --run-dir" in line
    inside = _one_line_usage_error(runner.invoke(app, ["run", "--game", "tictactoe", "--run-dir",
                                                       str(afile / "run")], env={"COLUMNS": "300"}))
    assert f"run folder '{afile / 'run'}' cannot be made or written (Not a directory" in inside
    if os.geteuid() == 0:
        locked = Path("/sys")  # root may write anywhere but in sysfs
    else:
        locked = tmp_path / "read-only"
        locked.mkdir()
        locked.chmod(0o500)
    line = _one_line_usage_error(runner.invoke(app, ["run", "--game", "tictactoe", "--run-dir", str(locked)],
                                               env={"COLUMNS": "300"}))
    assert f"run folder '{locked}' is not writable (Permission denied" in line


def test_status_of_a_file_or_of_an_empty_run_json_exits_2(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    line = _one_line_usage_error(runner.invoke(app, ["status", "--run-dir", str(afile)], env={"COLUMNS": "300"}))
    assert f"'{afile}' is a file, not a run folder" in line
    (tmp_path / "run.json").write_text("{}")
    line = _one_line_usage_error(runner.invoke(app, ["status", "--run-dir", str(tmp_path)], env={"COLUMNS": "300"}))
    assert "is not a League run file (run_id missing; game missing; created missing)" in line


def test_a_minibatch_larger_than_the_train_batch_is_refused_before_a_run_folder_is_made(tmp_path):
    config = tmp_path / "big.toml"
    config.write_text('game = "tictactoe"\n[training]\ntrain_batch_size = 400\nminibatch_size = 512\n')
    run_dir = tmp_path / "run"
    line = _one_line_usage_error(runner.invoke(app, ["run", str(config), "--run-dir", str(run_dir)],
                                               env={"COLUMNS": "300"}))
    assert "training: minibatch_size=512 is larger than train_batch_size=400: expected training.minibatch_size " \
           "<= training.train_batch_size" in line
    assert not run_dir.exists()


def test_a_bad_flag_is_blamed_on_the_flag_and_a_bad_file_value_on_the_file(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text('game = "tictactoe"\n')
    line = _one_line_usage_error(runner.invoke(app, ["run", str(config), "--iterations", "-1"],
                                               env={"COLUMNS": "300"}))
    assert "invalid config (--iterations): iterations: Input should be greater than or equal to 1 (got -1)" in line
    assert str(config) not in line
    uri = _one_line_usage_error(runner.invoke(app, ["run", str(config), "--snapshot-uri", "ftp://host/x"],
                                              env={"COLUMNS": "300"}))
    assert "invalid config (--snapshot-uri): snapshots.uri: unsupported scheme" in uri
    config.write_text('game = "tictactoe"\niterations = -1\n')
    line = _one_line_usage_error(runner.invoke(app, ["run", str(config), "--seed", "3"], env={"COLUMNS": "300"}))
    assert f"invalid config ({config}): iterations: Input should be greater than or equal to 1 (got -1)" in line


def test_eval_of_a_runs_scripted_player_plays_the_runs_game(tmp_path):
    from league.run_dir import RunInfo

    RunInfo("run-ttt", "tictactoe", None, 1.0, {"game": "tictactoe"}).write(tmp_path)
    result = runner.invoke(app, ["eval", f"{tmp_path}:random", "random", "--games", "4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["game"] == "tictactoe" and data["wins"] + data["draws"] + data["losses"] == 4
    line = _one_line_usage_error(runner.invoke(app, ["eval", f"{tmp_path}:random", "heuristic", "--games", "2"],
                                               env={"COLUMNS": "300"}))
    assert f"'{tmp_path}:random' and 'heuristic' do not play the same game: ['connect_four', 'tictactoe']" in line


def test_eval_plays_an_alphabeta_player_against_random_on_the_game_asked_for():
    result = runner.invoke(app, ["eval", "alphabeta-2", "random", "--game", "connect_four", "--games", "10",
                                 "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["a"], data["b"], data["game"], data["games"]) == ("alphabeta-2", "random", "connect_four", 10)
    assert data["score"] >= 0.9, data  # measured 20 of 20 against random
    line = _one_line_usage_error(runner.invoke(app, ["eval", "alphabeta-2", "random"], env={"COLUMNS": "300"}))
    assert "'alphabeta-2' and 'random' play more than one game: pass --game" in line
    line = _one_line_usage_error(runner.invoke(app, ["eval", "alphabeta-2", "random", "--game", "rps"],
                                               env={"COLUMNS": "300"}))
    assert "'alphabeta-2' plays only ['connect_four', 'tictactoe'], not 'rps'" in line


def test_play_against_an_alphabeta_player_through_standard_input():
    moves = [str(n) for n in range(1, 10)] * 3  # every square in order; occupied ones are refused
    result = runner.invoke(app, ["play", "alphabeta-3", "--game", "tictactoe", "--seat", "1"],
                           input="\n".join(moves) + "\n")
    assert result.exit_code == 0, result.output
    assert "League's alphabeta-3 is O" in result.output and "League plays" in result.output
    assert "League wins." in result.output  # 1, 2, 3, ... in order never beats a search that sees three moves
    line = _one_line_usage_error(runner.invoke(app, ["play", "alphabeta-3"], env={"COLUMNS": "300"}))
    assert "--game: 'alphabeta-3' plays connect_four and tictactoe; pass --game" in line
    line = _one_line_usage_error(runner.invoke(app, ["play", "alphabeta-3", "--game", "rps"],
                                               env={"COLUMNS": "300"}))
    assert "--game: 'alphabeta-3' plays only ['connect_four', 'tictactoe'], not 'rps'" in line
    line = _one_line_usage_error(runner.invoke(app, ["play", "exports/main", "--game", "tictactoe"],
                                               env={"COLUMNS": "300"}))
    assert "--game: 'tictactoe' given, but an export plays its own game" in line
