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
    with pytest.raises(ConfigError, match="matchmaking.main: self_play \\+ pfsp \\+ exploiters_and_forgotten "
                                          "\\+ scripted must sum to 1, got 1.4"):
        load_config(None, {"matchmaking": {"main": {"pfsp": 0.9}}})
    no_scripted = {"roster": {"scripted": []}, "matchmaking": {"main": {"pfsp": 0.35, "scripted": 0.15}}}
    with pytest.raises(ConfigError, match=re.escape("matchmaking.main.scripted: 0.15 of main's matches go to "
                                                    "scripted players, but the league has none")):
        load_config(None, no_scripted)
    with pytest.raises(ConfigError, match="roster.scripted: 'heuristic' plays only \\['connect_four'\\], not 'rps'"):
        load_config(None, {"game": "rps", "roster": {"scripted": ["heuristic"]}})
    with pytest.raises(ConfigError, match="matchmaking.league_exploiter.pfsp_weighting: Input should be 'hard'"):
        load_config(None, {"matchmaking": {"league_exploiter": {"pfsp_weighting": "soft"}}})
    with pytest.raises(ConfigError, match="roster.scripted: Value error, unknown scripted players|unknown scripted"):
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
