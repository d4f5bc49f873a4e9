"""Per-game recipes (league.recipes): shipped, valid, layered under the user's file and flags, shown by the CLI."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from league.cli import app
from league.config import LeagueConfig, deep_merge, load_config
from league.errors import ConfigError
from league.recipes import NOT_IN_A_RECIPE, RECIPES, recipe_for

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _leaves(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _lookup(config: LeagueConfig, path):
    node = config.model_dump(mode="json")
    for key in path:
        node = node[key]
    return node


def test_the_measured_recipes_are_shipped():
    assert {"connect_four", "openspiel:kuhn_poker", "openspiel:leduc_poker"} <= set(RECIPES)


@pytest.mark.parametrize("game", sorted(RECIPES))
def test_every_recipe_validates_and_sets_what_it_says(game):
    recipe = recipe_for(game)
    assert recipe is not None and recipe.game == game
    assert not NOT_IN_A_RECIPE & set(recipe.values), "how long and where a run trains are the user's"
    config = load_config(None, {"game": game}, recipe=True)
    for path, value in _leaves(recipe.tree()):
        got = _lookup(config, path)
        assert got == (list(value) if isinstance(value, tuple) else value), path
    # The recipe's text is the file's, comments included, and parses to its values.
    assert tomllib.loads(recipe.text) == dict(recipe.values)
    assert recipe.text.lstrip().startswith("#"), "a recipe says what was measured, in a comment at the top"


def test_the_recipe_lies_under_the_file_and_the_flags(tmp_path):
    recipe = recipe_for("connect_four")
    plain = load_config(None, {"game": "connect_four"})
    with_recipe = load_config(None, {"game": "connect_four"}, recipe=True)
    changed = [path for path, _ in _leaves(recipe.tree()) if path != ("game",)]
    assert changed, "the Connect Four recipe changes something"
    assert any(_lookup(plain, p) != _lookup(with_recipe, p) for p in changed)
    # A file's value wins over the recipe's; the recipe's other values stay.
    path = tmp_path / "league.toml"
    path.write_text("[training]\nlr = 0.000123\n")
    from_file = load_config(path, {"game": "connect_four"}, recipe=True)
    assert from_file.training.lr == 0.000123
    untouched = [p for p in changed if p != ("training", "lr")]
    assert all(_lookup(from_file, p) == _lookup(with_recipe, p) for p in untouched)
    # A flag wins over both.
    flagged = load_config(path, {"game": "connect_four", "seed": 7, "training": {"lr": 0.0002}}, recipe=True)
    assert flagged.training.lr == 0.0002 and flagged.seed == 7
    # The game the file names picks the recipe when no flag does.
    path.write_text('game = "openspiel:kuhn_poker"\n')
    kuhn = load_config(path, {}, recipe=True)
    assert kuhn.training.train_batch_size == recipe_for("openspiel:kuhn_poker").values["training"]["train_batch_size"]
    assert kuhn.training.train_batch_size != LeagueConfig().training.train_batch_size


def test_games_without_a_recipe_get_the_plain_defaults():
    assert recipe_for("tictactoe") is None and recipe_for("rps") is None
    assert load_config(None, {"game": "tictactoe"}, recipe=True) == load_config(None, {"game": "tictactoe"})


def test_a_value_that_clashes_with_the_recipe_names_the_field_and_the_recipe(tmp_path):
    recipe = recipe_for("connect_four")
    shares = recipe.values["matchmaking"]["main"]  # the recipe sets main's shares, which must sum to 1
    path = tmp_path / "league.toml"
    path.write_text(f"[matchmaking.main]\npfsp = {shares['pfsp'] + 0.1}\n")
    with pytest.raises(ConfigError, match=r"matchmaking\.main.*must sum to 1.*") as raised:
        load_config(path, {}, recipe=True)
    assert "connect_four recipe" in str(raised.value) and len(str(raised.value).splitlines()) == 1


def test_minutes_alone_still_lifts_the_iteration_limit_under_a_recipe():
    for game in RECIPES:
        assert load_config(None, {"game": game, "minutes": 1.0}, recipe=True).iterations is None


def test_envs_show_prints_the_recipe_and_says_where_there_is_none():
    shown = runner.invoke(app, ["envs", "--show", "connect_four"])
    assert shown.exit_code == 0, shown.output
    assert "Recipe connect_four" in shown.output
    for key in recipe_for("connect_four").values:
        assert key in shown.output
    none = runner.invoke(app, ["envs", "--show", "rps"])
    assert none.exit_code == 0 and "No recipe" in none.output
    listed = runner.invoke(app, ["envs"])
    assert all(game in listed.output for game in RECIPES)


def test_envs_show_of_an_unknown_game_is_one_line_and_exit_2():
    result = runner.invoke(app, ["envs", "--show", "nosuchgame"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "unknown game 'nosuchgame'" in result.output


def test_recipes_ship_in_the_package():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["league"]
    for recipe in RECIPES.values():
        assert any(fnmatch.fnmatch(f"recipes/{recipe.name}.toml", p) for p in patterns), recipe.name


def test_deep_merge_keeps_the_recipe_unchanged():
    recipe = recipe_for("connect_four")
    before = recipe.tree()
    deep_merge(recipe.tree(), {"training": {"lr": 1.0}})
    load_config(None, {"game": "connect_four", "training": {"lr": 0.1}}, recipe=True)
    assert recipe.tree() == before
