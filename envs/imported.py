"""Your own PettingZoo game, named by import path: ``game = "package.module:factory"``.

``factory`` is any callable in an importable module that returns a PettingZoo
env: an ``AECEnv`` for a turn-based game, a ``ParallelEnv`` for simultaneous
moves (``pettingzoo.classic.rps_v2:parallel_env`` is a valid name). The
current folder is importable (appended to ``sys.path``, after installed
packages), so ``mygame.py`` next to the TOML file is ``"mygame:make_env"``.

What a game must provide, checked when the name is first resolved (a failure
is a usage error, exit code 2, with the reason on one line):
    * **PettingZoo's API test**: ``pettingzoo.test.api_test`` (AEC) or
      ``parallel_api_test`` (parallel) passes on ``factory()``; its assertion
      message is the error.
    * **Agents**: at least two in ``possible_agents``, all with the same
      observation space and the same ``Discrete`` action space (any League
      player may sit in any seat).
    * **Observations**: a ``Box`` or ``Discrete`` (one-hot encoded), or
      PettingZoo classic's ``Dict`` with ``"observation"`` (a ``Box`` or
      ``Discrete``) and ``"action_mask"`` (a ``Box`` of shape ``(n,)``, 1 for
      legal actions). Without a mask every action is legal at every step.
    * **Rewards**: the score of a match compares the agents' summed rewards
      (the higher wins, equal is a draw), as for the built-in games.

``factory()`` must work without arguments; ``env_config`` in TOML is passed to
it as keyword arguments when League builds the game.

On Ray env runners (separate processes) the game is imported again by name:
the folder that was current when the name was resolved is appended to their
``sys.path``, so a module there works with local runners. On a Ray cluster each
node must be able to import the module (install it, or put it on a filesystem
every node mounts at the same path).

Version history:
    * v1: first version (AEC and parallel envs, checked with PettingZoo's API test).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY
from league.errors import UnknownGameError

#: ``package.module:attribute`` (dotted on both sides of the colon).
IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def is_import_path(name: str) -> bool:
    """True for a ``package.module:factory`` game name.

    Example:
        >>> is_import_path("mygame:make_env"), is_import_path("tictactoe")
        (True, False)
    """
    return IMPORT_PATH.fullmatch(name) is not None


def append_to_sys_path(folder: str) -> None:
    """Make ``folder`` importable, after everything already on ``sys.path``.

    Appended, never put first, so a file there (``json.py``, ``numpy.py``)
    cannot shadow an installed module.
    """
    if folder not in sys.path:
        sys.path.append(folder)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def load_factory(path: str, search_dir: str | None = None) -> Callable[..., Any]:
    """Import ``path`` (``package.module:attribute``) and return the callable it names.

    Args:
        path: The game's import path.
        search_dir: A folder appended to ``sys.path`` first (the current folder
            when None); it is skipped if it does not exist (another node).

    Raises:
        UnknownGameError: the module cannot be imported, raises while importing,
            lacks the attribute, or the attribute is not callable.
    """
    module_name, _, attribute = path.partition(":")
    folder = os.getcwd() if search_dir is None else search_dir
    if os.path.isdir(folder):
        append_to_sys_path(folder)
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UnknownGameError(
            f"game {path!r}: cannot import module {module_name!r} ({e}); expected a module in the current "
            f"folder ({folder}) or an installed package") from None
    except Exception as e:  # the user's module raised while importing: report it, not a traceback
        raise UnknownGameError(f"game {path!r}: importing {module_name!r} raised "
                               f"{type(e).__name__}: {_one_line(e)}") from e
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UnknownGameError(f"game {path!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise UnknownGameError(f"game {path!r}: {attribute!r} is a {type(target).__name__}, expected a "
                               "callable that returns a PettingZoo AECEnv or ParallelEnv")
    return target


class ImportedFactory:
    """Builds the raw env of an import-path game, importing the module on first use.

    Pickles as its import path and search folder only, so Ray env runners in
    other processes import the game themselves instead of unpickling the
    user's function by reference (which fails where the folder is not on
    ``sys.path``).

    Args:
        path: ``package.module:factory``.
        search_dir: The folder appended to ``sys.path`` before importing.
    """

    def __init__(self, path: str, search_dir: str) -> None:
        self.path = path
        self.search_dir = search_dir
        self._factory: Callable[..., Any] | None = None

    def __call__(self, **config: Any) -> Any:
        """``factory(**config)``."""
        if self._factory is None:
            self._factory = load_factory(self.path, self.search_dir)
        return self._factory(**config)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return ImportedFactory, (self.path, self.search_dir)

    def __repr__(self) -> str:
        return f"ImportedFactory({self.path!r}, {self.search_dir!r})"


def _failure(error: BaseException) -> str:
    """An API-test failure on one line: the assertion's message, else the failing line."""
    message = _one_line(error)
    if message:
        return message if isinstance(error, AssertionError) else f"{type(error).__name__}: {message}"
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        frame = frames[-1]
        return f"{type(error).__name__} at {os.path.basename(frame.filename)}:{frame.lineno}: {frame.line}"
    return type(error).__name__


def api_test(path: str, env: Any, turn_based: bool) -> None:
    """Run PettingZoo's API test on ``env``, quietly.

    Raises:
        UnknownGameError: with the test's message, on one line.
    """
    from pettingzoo.test import api_test as aec_test
    from pettingzoo.test import parallel_api_test

    test_name = "api_test" if turn_based else "parallel_api_test"
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the test's advisory warnings (all-zero observations, ...)
            if turn_based:
                aec_test(env, num_cycles=100)
            else:
                parallel_api_test(env, num_cycles=100)
    except Exception as e:  # noqa: BLE001 - the test's assertions or the game's own errors, any type
        raise UnknownGameError(f"game {path!r} fails PettingZoo's {test_name}: {_failure(e)}") from None


def _space_problem(env: Any) -> str | None:
    """What League's wrappers cannot take about ``env``'s agents and spaces, or None."""
    agents = list(getattr(env, "possible_agents", []) or [])
    if len(agents) < 2:
        return f"possible_agents is {agents!r}; League needs at least two agents"
    observation_spaces = [env.observation_space(a) for a in agents]
    action_spaces = [env.action_space(a) for a in agents]
    if any(space != observation_spaces[0] for space in observation_spaces):
        return "its agents have different observation spaces; League needs one space for every seat"
    if any(space != action_spaces[0] for space in action_spaces):
        return "its agents have different action spaces; League needs one space for every seat"
    action = action_spaces[0]
    if not isinstance(action, gym.spaces.Discrete):
        return f"the action space is {action}; League needs Discrete"
    observation = observation_spaces[0]
    if isinstance(observation, gym.spaces.Dict):
        if set(observation.spaces) != {OBSERVATION_KEY, ACTION_MASK_KEY}:
            return (f"the observation is a Dict with keys {sorted(observation.spaces)}; League needs "
                    f"{OBSERVATION_KEY!r} and {ACTION_MASK_KEY!r} (or a plain Box or Discrete)")
        mask = observation[ACTION_MASK_KEY]
        if not (isinstance(mask, gym.spaces.Box) and tuple(mask.shape) == (int(action.n),)):
            return f"{ACTION_MASK_KEY!r} is {mask}; League needs a Box of shape ({int(action.n)},)"
        observation = observation[OBSERVATION_KEY]
    if not isinstance(observation, (gym.spaces.Box, gym.spaces.Discrete)):
        return f"the observation space is {observation}; League needs a Box or a Discrete"
    return None


def imported_spec(path: str, *, check: bool = True) -> Any:
    """The :class:`~envs.registry.GameSpec` of the import-path game ``path``.

    Builds the env once to learn whether it is turn-based (AEC) or simultaneous
    (parallel), runs PettingZoo's API test on a second one (``check``) and
    checks the spaces League needs (see the module docstring).

    Raises:
        UnknownGameError: naming the game and what is wrong with it, on one line.
    """
    from pettingzoo import AECEnv, ParallelEnv

    from envs.registry import GameSpec

    factory = ImportedFactory(path, os.getcwd())

    def build() -> Any:
        try:
            return factory()
        except UnknownGameError:
            raise
        except Exception as e:
            raise UnknownGameError(
                f"game {path!r}: calling it raised {type(e).__name__}: {_one_line(e)}") from e

    env = build()
    if isinstance(env, AECEnv):
        turn_based = True
    elif isinstance(env, ParallelEnv):
        turn_based = False
    else:
        raise UnknownGameError(f"game {path!r} returned a {type(env).__name__}, expected a PettingZoo "
                               "AECEnv (turn-based) or ParallelEnv (simultaneous moves)")
    if check:
        api_test(path, build(), turn_based)
    problem = _space_problem(env)
    if problem is not None:
        raise UnknownGameError(f"game {path!r}: {problem}")
    metadata = getattr(env, "metadata", None) or {}
    with contextlib.suppress(Exception):
        env.close()
    doc = (getattr(factory._factory, "__doc__", None) or "").strip()
    description = doc.splitlines()[0] if doc else f"imported from {path}"
    return GameSpec(path, str(metadata.get("name") or path), factory, turn_based, description)
