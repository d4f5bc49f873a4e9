"""Configuration: TOML in, flags override, one clear error per bad field."""

from __future__ import annotations

import re

import pytest

from league.config import load_config
from league.errors import ConfigError


def test_defaults_are_valid():
    config = load_config(None)
    assert config.game == "connect_four" and config.iterations == 30


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('game = "tictactoe"\niterations = 4\n[training]\nlr = 0.001\n')
    config = load_config(path, {"iterations": 9, "seed": None})
    assert (config.game, config.iterations, config.training.lr, config.seed) == ("tictactoe", 9, 0.001, 0)


def test_negative_iterations_names_the_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("iterations = -1\n")
    with pytest.raises(ConfigError, match=re.escape("iterations: Input should be greater than or equal to 1 (got -1)")):
        load_config(path)


def test_unknown_field_and_nested_errors_are_each_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("colour = 'red'\n[training]\nlr = 5.0\nactivation = 'gelu'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "colour: unknown field" in str(info.value)
    assert "training.lr: Input should be less than 1 (got 5.0)" in str(info.value)
    assert "training.activation: Input should be 'tanh' or 'relu' (got 'gelu')" in str(info.value)


def test_unknown_game_lists_the_available_games():
    with pytest.raises(ConfigError, match="game: unknown game 'chess'; available games: connect_four"):
        load_config(None, {"game": "chess"})


def test_redis_url_scheme_is_checked():
    with pytest.raises(ConfigError, match="redis_url: expected a URL starting with redis://"):
        load_config(None, {"redis_url": "http://localhost"})


def test_missing_and_invalid_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "x.toml"
    bad.write_text("iterations = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_role_rules_and_roster_are_checked():
    with pytest.raises(ConfigError, match=re.escape("matchmaking.main: self_play + pfsp + exploiters_and_forgotten "
                                                    "+ scripted must sum to 1, got 1.4")):
        load_config(None, {"matchmaking": {"main": {"pfsp": 0.9}}})
    no_scripted = {"roster": {"scripted": []}, "matchmaking": {"main": {"pfsp": 0.35, "scripted": 0.15}}}
    with pytest.raises(ConfigError, match=re.escape("matchmaking.main.scripted: 0.15 of main's matches go to "
                                                    "scripted players, but the league has none")):
        load_config(None, no_scripted)
    with pytest.raises(ConfigError,
                       match=re.escape("roster.scripted: 'heuristic' plays only ['connect_four'], not 'rps'")):
        load_config(None, {"game": "rps", "roster": {"scripted": ["heuristic"]}})
    with pytest.raises(ConfigError,
                       match=re.escape("matchmaking.league_exploiter.pfsp_weighting: Input should be 'hard'")):
        load_config(None, {"matchmaking": {"league_exploiter": {"pfsp_weighting": "soft"}}})
    with pytest.raises(ConfigError, match=r"roster.scripted: Value error, unknown scripted players|unknown scripted"):
        load_config(None, {"roster": {"scripted": ["alphazero"]}})
    config = load_config(None, {"game": "rps"})
    assert config.scripted_players == ("random",)
    assert (config.matchmaking.main.self_play, config.matchmaking.main.pfsp,
            config.matchmaking.main.exploiters_and_forgotten) == (0.35, 0.5, 0.15)
    assert config.matchmaking.main_exploiter.min_win_rate_vs_main == 0.2
    assert config.matchmaking.league_exploiter.reset_probability == 0.25
    assert config.snapshots.win_rate_threshold == 0.7


def test_a_value_from_a_flag_is_blamed_on_the_flag_and_one_from_the_file_on_the_file(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text('game = "tictactoe"\n[training]\nlr = 5.0\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, {"iterations": -1, "snapshots": {"uri": "ftp://x"}},
                    flags={"iterations": "--iterations", "snapshots.uri": "--snapshot-uri"})
    message = str(info.value)
    assert "invalid config (--iterations): iterations: Input should be greater than or equal to 1 (got -1)" in message
    assert "invalid config (--snapshot-uri): snapshots.uri: unsupported scheme" in message
    assert f"invalid config ({path}): training.lr: Input should be less than 1 (got 5.0)" in message
    assert f"invalid config ({path}): iterations" not in message


def test_a_minibatch_larger_than_the_train_batch_names_both_fields():
    with pytest.raises(ConfigError, match=re.escape(
            "training: minibatch_size=512 is larger than train_batch_size=400: expected training.minibatch_size "
            "<= training.train_batch_size")):
        load_config(None, {"training": {"train_batch_size": 400, "minibatch_size": 512}})


def test_a_bad_redis_url_is_named_without_its_password():
    with pytest.raises(ConfigError) as info:
        load_config(None, {"redis_url": "http://:s3cr3t-pw@host/0"})
    assert "redis_url: expected a URL starting with redis://" in str(info.value)
    assert "s3cr3t-pw" not in str(info.value) and "http://:***@host/0" in str(info.value)


def test_evaluation_references_are_named_checked_and_fit_the_game():
    with pytest.raises(ConfigError, match=re.escape(
            "evaluation.references: unknown scripted players ['alphazero']: expected some of ['alphabeta-1', "
            "'alphabeta-2', 'alphabeta-3', 'alphabeta-4', 'alphabeta-5', 'alphabeta-6', 'heuristic', 'random'] "
            "(got ['alphazero'])")):
        load_config(None, {"evaluation": {"references": ["alphazero"]}})
    with pytest.raises(ConfigError, match=re.escape(
            "evaluation.references: each scripted player may appear once (got ['alphabeta-1', 'alphabeta-1'])")):
        load_config(None, {"evaluation": {"references": ["alphabeta-1", "alphabeta-1"]}})
    with pytest.raises(ConfigError, match=re.escape(
            "evaluation.references: 'heuristic' plays only ['connect_four'], not 'tictactoe'")):
        load_config(None, {"game": "tictactoe", "evaluation": {"references": ["alphabeta-1", "heuristic"]}})
    with pytest.raises(ConfigError, match=re.escape(
            "evaluation.references: 'alphabeta-2' plays only ['connect_four', 'tictactoe'], not 'rps'")):
        load_config(None, {"game": "rps", "evaluation": {"references": ["alphabeta-2"]}})
    # Unset: main meets evaluation.opponent alone, as before; a reference that is the opponent is played once.
    assert load_config(None).evaluation.references is None
    assert load_config(None).evaluation.opponents == ("random",)
    config = load_config(None, {"evaluation": {"references": ["heuristic", "random", "alphabeta-2"]}})
    assert config.evaluation.opponents == ("random", "heuristic", "alphabeta-2")


def test_a_run_stored_before_evaluation_references_existed_loads_and_resumes(tmp_path):
    from typer.testing import CliRunner

    from league.cli import app
    from league.cli.resume_check import resume_target
    from league.offline import run_config
    from league.run_dir import RunInfo, read_run_info

    toml = tmp_path / "run.toml"
    toml.write_text('game = "tictactoe"\niterations = 2\n[evaluation]\ngames = 10\nevery = 1\n')
    old = load_config(toml).model_dump(mode="json")
    del old["evaluation"]["references"]  # run.json of a run started before the field existed
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    RunInfo("run-old", "tictactoe", None, 1.0, {**old, "run_dir": str(run_dir)}).write(run_dir)
    assert run_config(read_run_info(run_dir)).evaluation.references is None
    # The same command line resumes it (no change named); iterations may change.
    target = resume_target(toml, {"run_dir": run_dir, "iterations": 3}, flags={})
    assert (target.run_dir, target.iterations) == (run_dir, 3)
    # Adding references to a run is a change, refused with the run's value and the given one.
    toml.write_text(toml.read_text() + 'references = ["alphabeta-1"]\n')
    refused = CliRunner().invoke(app, ["run", str(toml), "--resume", "--run-dir", str(run_dir)],
                                 env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert f"changes evaluation.references None -> ['alphabeta-1'] ({toml})" in refused.output
