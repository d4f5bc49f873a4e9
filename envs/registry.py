"""The game registry: stable League names for PettingZoo games.

A :class:`GameSpec` names a game, says how to build the raw PettingZoo env and
whether its moves are turn-based or simultaneous. :func:`make` turns a spec into
an RLlib ``MultiAgentEnv`` with action masks; :func:`register_with_ray` makes
the same env available to Ray workers under :func:`ray_env_name`.

Built-in games are registered by :func:`register_builtin_games`, which
:func:`make`, :func:`available` and :func:`get_spec` call on first use; importing
this module registers nothing.

Version history of the built-in games (League name: PettingZoo id):
    * v1: ``connect_four``: ``connect_four_v3``; ``tictactoe``: ``tictactoe_v3``;
      ``rps``: ``rps_v2`` (simultaneous moves, 15 rounds by default).
    * v2: ``openspiel:<game>``: any two-player turn-based game pyspiel loads
      (:mod:`envs.openspiel`), built on first use.
    * v3: ``package.module:factory``: your own PettingZoo AEC or parallel env
      (:mod:`envs.imported`), checked with PettingZoo's API test on first use.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from league.errors import RegistryError, UnknownGameError

if TYPE_CHECKING:
    from envs.wrappers import SimultaneousEnv, TurnBasedEnv



@dataclass(frozen=True)
class GameSpec:
    """How to build one game.

    Attributes:
        name: League's stable name (``connect_four``).
        pettingzoo_id: The PettingZoo env id it wraps (``connect_four_v3``).
        factory: Builds the raw PettingZoo env from keyword config (AEC for
            turn-based games, parallel for simultaneous ones).
        turn_based: True for AEC games, False for simultaneous moves.
        description: One line for ``league envs``.
        defaults: Keyword config applied before the caller's.
    """

    name: str
    pettingzoo_id: str
    factory: Callable[..., Any]
    turn_based: bool
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def make_raw(self, **config: Any) -> Any:
        """Build the raw PettingZoo env with ``defaults`` overridden by ``config``."""
        return self.factory(**{**self.defaults, **config})


_REGISTRY: dict[str, GameSpec] = {}
#: Read-only view of the registered games, by name.
REGISTRY: Mapping[str, GameSpec] = MappingProxyType(_REGISTRY)
#: Specs of the ``openspiel:<game>`` names used so far (built on demand, not listed by :func:`available`).
_OPENSPIEL: dict[str, GameSpec] = {}
#: Specs of the ``package.module:factory`` names used so far (imported and API-tested on first use).
_IMPORTED: dict[str, GameSpec] = {}


def register(spec: GameSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to the registry.

    Raises:
        RegistryError: if the name is taken and ``overwrite`` is False.
    """
    if spec.name in _REGISTRY and not overwrite:
        raise RegistryError(f"game {spec.name!r} is already registered; pass overwrite=True")
    _REGISTRY[spec.name] = spec


def register_builtin_games() -> None:
    """Register League's built-in PettingZoo games (idempotent)."""
    from pettingzoo.classic import connect_four_v3, rps_v2, tictactoe_v3

    builtins = (
        GameSpec("connect_four", "connect_four_v3", connect_four_v3.env, True,
                 "Connect Four: 6x7 board, drop discs, four in a row wins"),
        GameSpec("tictactoe", "tictactoe_v3", tictactoe_v3.env, True,
                 "Tic-tac-toe: 3x3 board, three in a row wins"),
        GameSpec("rps", "rps_v2", rps_v2.parallel_env, False,
                 "Rock-paper-scissors: simultaneous moves, repeated rounds",
                 defaults={"max_cycles": 15}),
    )
    for spec in builtins:
        if spec.name not in _REGISTRY:
            register(spec)


def available() -> tuple[str, ...]:
    """Names of every registered game, sorted.

    Example:
        >>> "connect_four" in available()
        True
    """
    register_builtin_games()
    return tuple(sorted(_REGISTRY))


def get_spec(name: str) -> GameSpec:
    """The spec registered under ``name``.

    ``openspiel:<game string>`` names any two-player turn-based OpenSpiel game
    (see :mod:`envs.openspiel`), and ``package.module:factory`` a callable that
    returns a PettingZoo AEC or parallel env (see :mod:`envs.imported`); their
    specs are built on first use and cached (:func:`available` lists registered
    games only).

    Raises:
        UnknownGameError: naming the game and listing the available ones, or
            saying why an import-path game cannot be used (its module does not
            import, PettingZoo's API test fails, its spaces do not fit).
    """
    register_builtin_games()
    if name not in _REGISTRY and name.startswith("openspiel:"):
        if name not in _OPENSPIEL:
            _OPENSPIEL[name] = openspiel_spec(name)
        return _OPENSPIEL[name]
    if name not in _REGISTRY:
        from envs.imported import imported_spec, is_import_path

        if is_import_path(name):
            if name not in _IMPORTED:
                _IMPORTED[name] = imported_spec(name)
            return _IMPORTED[name]
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownGameError(
            f"unknown game {name!r}; available games: {', '.join(available())}, "
            "or openspiel:<game> for a two-player turn-based OpenSpiel game, "
            "or package.module:factory for your own PettingZoo env"
        ) from None


def openspiel_spec(name: str) -> GameSpec:
    """The spec of ``openspiel:<game string>``, checked with pyspiel.

    Raises:
        UnknownGameError: pyspiel is not installed, does not know the game, or
            League cannot play it (not two players, not turn-based).
    """
    from envs.openspiel import OPENSPIEL_PREFIX, OpenSpielEnv, load_game

    game_string = name[len(OPENSPIEL_PREFIX):]
    game = load_game(game_string)
    return GameSpec(name, name, functools.partial(OpenSpielEnv, game_string), True,
                    f"OpenSpiel: {game.get_type().long_name}")


def make(name: str, **config: Any) -> TurnBasedEnv | SimultaneousEnv:
    """Build game ``name`` as an RLlib ``MultiAgentEnv`` with action masks.

    Args:
        name: A registered game name (see :func:`available`).
        **config: Keyword config for the PettingZoo constructor.

    Example:
        >>> env = make("tictactoe")
        >>> obs, _ = env.reset(seed=0)
        >>> sorted(obs["player_1"])
        ['action_mask', 'observation']
    """
    return make_from_spec(get_spec(name), **config)


def make_from_spec(spec: GameSpec, **config: Any) -> TurnBasedEnv | SimultaneousEnv:
    """Build the game ``spec`` describes, as :func:`make` does (no registry lookup)."""
    from envs.wrappers import SimultaneousEnv, TurnBasedEnv

    if spec.turn_based:
        return TurnBasedEnv(lambda: spec.make_raw(**config))
    return SimultaneousEnv(lambda: spec.make_raw(**config))


def ray_env_name(name: str) -> str:
    """The stable name under which game ``name`` is registered with Ray.

    RLlib reads a ``:`` in an env name as ``module:class``, so names with
    characters other than letters, digits, ``_``, ``-`` and ``.`` are spelled
    with ``-`` and tagged with a short hash of the real name.

    Example:
        >>> ray_env_name("connect_four"), ray_env_name("openspiel:kuhn_poker")
        ('league-connect_four', 'league-openspiel-kuhn_poker-6170fe27')
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
    if safe == name:
        return f"league-{name}"
    return f"league-{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def register_with_ray(name: str) -> str:
    """Register game ``name`` with Ray's env registry and return the Ray name.

    The env creator carries the game's spec itself, so env runners in other
    processes (or on other nodes) build games registered only in the driver;
    an import-path game's spec carries its import path, and each runner
    imports the module itself (:class:`envs.imported.ImportedFactory`).
    """
    from ray.tune.registry import register_env

    spec = get_spec(name)  # fail early with the list of games

    def creator(env_config: Mapping[str, Any]) -> TurnBasedEnv | SimultaneousEnv:
        return make_from_spec(spec, **dict(env_config))

    ray_name = ray_env_name(name)
    register_env(ray_name, creator)
    return ray_name
