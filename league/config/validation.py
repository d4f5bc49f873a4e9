"""The config checks that import more than the config's values: a game, the scripted players, a framework.

Each check imports what it needs only when it runs. Those that depend on this
Python rather than on the values (an installed framework, the game's registry
entry or module, its observation shape, its OpenSpiel tree) are skipped by
:class:`~league.config.LeagueConfig`'s validators for a stored run's config
(:data:`STORED_RUN`), so that ``league status``, ``report`` and ``prune`` read a
run without importing its game or its framework; ``league run`` (and
``--resume``, a fresh validation) makes them all. Each raises ``ValueError``
with the one-line message pydantic reports for the field.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationInfo

from league.errors import UnknownGameError, UsageError

if TYPE_CHECKING:
    import gymnasium as gym

#: Validation context key: the config is a stored run's (``run.json``), read by ``league status``, ``report``,
#: ``prune`` and the like. The checks that depend on this Python rather than on the values (an installed
#: framework, the game's registry entry or module, its observation shape, its OpenSpiel tree) were made when
#: the run started and are made again when it resumes (a fresh validation), so a stored config skips them:
#: reading a run imports neither its game nor its framework (issue 21).
STORED_RUN = "stored_run"


def is_stored_run(info: ValidationInfo) -> bool:
    """Whether this validation reads a stored run's config (see :data:`STORED_RUN`)."""
    return bool((info.context or {}).get(STORED_RUN))


def check_framework_installed(framework: str) -> None:
    """Refuse ``framework`` ('torch' or 'tf2') when this Python cannot import what it needs (tf2 only).

    ``find_spec``, not import: importing TensorFlow takes seconds, and validating a config should not.
    """
    if framework != "tf2":
        return
    missing = [name for name, module in (("tensorflow", "tensorflow"), ("tf-keras", "tf_keras"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ValueError(f"'tf2' needs {' and '.join(missing)}, which this Python cannot import: "
                         "pip install 'league[tf]'")


def check_known_game(game: str) -> None:
    """Refuse a ``game`` that is neither registered nor an importable ``package.module:factory``."""
    import envs

    try:
        envs.get_spec(game)
    except UnknownGameError as e:
        raise ValueError(str(e)) from None


def check_scripted_names(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``names`` if every one is a known scripted player, each once (roster.scripted, evaluation.references)."""
    from agents.heuristics import CHOOSERS

    if names is not None:
        unknown = [name for name in names if name not in CHOOSERS]
        if unknown:
            raise ValueError(f"unknown scripted players {unknown}: expected some of {sorted(CHOOSERS)}")
        if len(set(names)) != len(names):
            raise ValueError("each scripted player may appear once")
    return names


def check_scripted_opponent(name: str) -> None:
    """Refuse an evaluation ``opponent`` that is not a scripted player."""
    from agents.heuristics import CHOOSERS

    if name not in CHOOSERS:
        raise ValueError(f"expected one of {sorted(CHOOSERS)}")


def check_scripted_players_play(game: str, named: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """Refuse a scripted player that does not play ``game``; ``named`` pairs each field with its names."""
    from agents.heuristics import CHOOSERS

    for field_name, names in named:
        for name in names:
            games = CHOOSERS[name][1]
            if games is not None and game not in games:
                raise ValueError(f"{field_name}: {name!r} plays only {sorted(games)}, not {game!r}")


def default_scripted_players(game: str) -> tuple[str, ...]:
    """Every scripted player that supports ``game``, but the opt-in ones (roster.scripted unset)."""
    from agents.heuristics import CHOOSERS, OPT_IN

    return tuple(name for name, (_, games) in CHOOSERS.items()
                 if name not in OPT_IN and (games is None or game in games))


def check_exploitability_measurable(game: str) -> None:
    """Refuse ``evaluation.exploitability_every`` for a game without an OpenSpiel tree to walk."""
    from league.exploitability import openspiel_game

    try:
        openspiel_game(game)
    except UsageError as e:
        raise ValueError(f"evaluation.exploitability_every: {e}; set it to 0") from None


def check_conv_board(game: str, env_config: Mapping[str, Any]) -> None:
    """Refuse ``training.model = 'conv'`` for a game whose observation is not a grid Box(H, W, C)."""
    import envs

    try:
        env = envs.make(game, **env_config)
    except Exception as e:  # noqa: BLE001 - each game's constructor raises its own errors for a bad env_config
        raise ValueError(f"training.model: 'conv' needs {game!r}'s observation shape, but the game does "
                         f"not build with env_config {env_config!r} ({type(e).__name__}: {e})") from None
    shape = tuple(cast("gym.spaces.Box", env.observation_space["observation"]).shape)  # League's observation: a Box
    env.close()
    if len(shape) != 3:
        raise ValueError(f"training.model: 'conv' needs a grid observation Box(H, W, C), but {game!r} "
                         f"observes shape {shape}; use model 'mlp'")
