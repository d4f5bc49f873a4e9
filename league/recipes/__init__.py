"""Per-game recipes: the configuration measured strongest for a game, applied by ``league run``.

A recipe is a TOML file in this package, ``<name>.toml``, whose ``game`` key names the game it
is for; its other keys are ordinary :class:`~league.config.LeagueConfig` fields (model, PPO
settings, roster, matchmaking, snapshot triggers, evaluation references). Its comments say
what was measured and where the figures are (``docs/benchmarks.md``).

``league run`` lays the game's recipe under the user's TOML file and flags, field by field:
League's defaults < the recipe < the file < the flags, so a user who sets one field keeps the
recipe's others. ``league run --no-recipe`` (``load_config(..., recipe=False)``, the Python
default) starts from League's plain defaults. ``league envs --show NAME`` prints a recipe.

A recipe never sets ``iterations`` or ``minutes`` (how long to train is the user's choice;
``--minutes`` alone lifts the iteration limit only when nothing sets ``iterations``).

Example:
    >>> recipe = recipe_for("connect_four")
    >>> recipe.game, recipe.name
    ('connect_four', 'connect_four')
    >>> "iterations" in recipe.values or "minutes" in recipe.values
    False
    >>> recipe_for("rps") is None
    True
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

#: Fields a recipe may not set: how long a run trains, and where it lives, belong to the user.
NOT_IN_A_RECIPE: frozenset[str] = frozenset({"iterations", "minutes", "run_dir", "redis_url", "seed"})


@dataclass(frozen=True)
class Recipe:
    """One game's recipe: its name (the file's stem), its game, its config values and its TOML text."""

    name: str
    game: str
    values: Mapping[str, Any] = field(repr=False)
    text: str = field(repr=False)

    def tree(self) -> dict[str, Any]:
        """The recipe's config values as a fresh nested dict (a TOML file's shape), safe to merge into."""
        return copy.deepcopy(dict(self.values))


def _load() -> dict[str, Recipe]:
    """Every recipe shipped in this package, by game (a game has at most one)."""
    by_game: dict[str, Recipe] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        text = entry.read_text(encoding="utf-8")
        values = tomllib.loads(text)
        name = entry.name.removesuffix(".toml")
        game = values.get("game")
        if not isinstance(game, str):
            raise ValueError(f"recipe {entry.name}: expected a top-level game = \"NAME\"")
        forbidden = sorted(NOT_IN_A_RECIPE & set(values))
        if forbidden:
            raise ValueError(f"recipe {entry.name}: sets {forbidden}, which belong to the user")
        if game in by_game:
            raise ValueError(f"recipes {by_game[game].name}.toml and {entry.name} are both for {game!r}")
        by_game[game] = Recipe(name=name, game=game, values=values, text=text)
    return by_game


_RECIPES: dict[str, Recipe] = _load()

#: The shipped recipes, by game (read-only).
RECIPES: Mapping[str, Recipe] = MappingProxyType(_RECIPES)


def recipe_for(game: str) -> Recipe | None:
    """The recipe ``league run`` applies to ``game``, or None where League's defaults apply.

    Example:
        >>> recipe_for("openspiel:kuhn_poker").name
        'openspiel_kuhn_poker'
    """
    return _RECIPES.get(game)
