"""``league envs``: the games League can train on."""

from __future__ import annotations

from rich.console import Console

from league.cli.errors import reports_errors


@reports_errors
def list_envs() -> None:
    """List the registered games."""
    import envs  # here, not at the top: every other command imports this module too
    from league.display import games_table

    rows = []
    for name in envs.available():
        spec = envs.get_spec(name)
        rows.append((name, spec.pettingzoo_id, "turns" if spec.turn_based else "simultaneous", spec.description))
    console = Console()
    console.print(games_table(rows))
    console.print("Also: openspiel:<game> for any two-player turn-based game OpenSpiel loads "
                  "(openspiel:kuhn_poker, openspiel:leduc_poker, ...).")
    console.print("Your own game: package.module:factory, a callable returning a PettingZoo AEC or parallel "
                  "env (mygame:make_env for mygame.py in the current folder; see examples/mygame.py).")
