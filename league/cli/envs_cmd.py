"""``league envs``: the games League can train on, and the recipe ``league run`` applies to each."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors


@reports_errors
def list_envs(
    show: Annotated[str | None, typer.Option(
        "--show", metavar="NAME", help="Show one game and the recipe `league run --game NAME` applies to it "
                                       "(a TOML config you can copy).")] = None,
) -> None:
    """List the registered games, or show one game's recipe."""
    import envs  # here, not at the top: every other command imports this module too
    from league.recipes import RECIPES

    console = Console()
    if show is not None:
        _show(console, show)
        return
    from league.display import games_table

    rows = []
    for name in envs.available():
        spec = envs.get_spec(name)
        rows.append((name, spec.pettingzoo_id, "turns" if spec.turn_based else "simultaneous", spec.description))
    console.print(games_table(rows))
    console.print("Also: openspiel:<game> for any two-player turn-based game OpenSpiel loads "
                  "(openspiel:kuhn_poker, openspiel:leduc_poker, ...).")
    console.print("Your own game: package.module:factory, a callable returning a PettingZoo AEC or parallel "
                  "env (mygame:make_env for mygame.py in the current folder; see examples/mygame.py).")
    console.print(f"Recipes (`league envs --show NAME`): {', '.join(sorted(RECIPES))}.", highlight=False)


def _show(console: Console, name: str) -> None:
    """One game's description and its recipe's TOML (or a line saying League's defaults apply)."""
    from rich.syntax import Syntax  # here: pygments, which every other command would import too

    import envs
    from league.recipes import recipe_for

    spec = envs.get_spec(name)  # an unknown game: UnknownGameError, one line and exit 2
    console.print(f"{name}: {spec.description} ({'turns' if spec.turn_based else 'simultaneous'}, "
                  f"{spec.pettingzoo_id})", highlight=False)
    recipe = recipe_for(name)
    if recipe is None:
        console.print(f"No recipe: `league run --game {name}` starts from League's defaults.", highlight=False)
        return
    console.print(f"Recipe {recipe.name} (`league run --game {name}` lays it under your config file and flags; "
                  "--no-recipe leaves it out):", highlight=False)
    console.print(Syntax(recipe.text.rstrip(), "toml", theme="ansi_dark", background_color="default"))
