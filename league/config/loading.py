"""Loading a League config: TOML in, the game's recipe under it, CLI flags over it, one error naming each bad field.

Precedence: built-in defaults < the game's recipe (``league run``) < TOML file <
CLI flags. Every bad value becomes a :class:`~league.errors.ConfigError` whose
message names the field, the value, what was expected and where the value came
from (the flag that set it, or the file).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from league.config.league_config import LeagueConfig
from league.errors import ConfigError
from league.redact import redact_url

if TYPE_CHECKING:
    from league.recipes import Recipe


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the non-table values in ``tree``."""
    paths: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            paths.extend(_leaves(value, (*prefix, key)))
        else:
            paths.append((*prefix, key))
    return paths


def _sources(loc: tuple[Any, ...], overrides: Mapping[str, Any], base: Mapping[str, Any], base_source: str,
             flags: Mapping[str, str] | None) -> list[str]:
    """Where the value an error is about came from: the flags that set it, else ``base_source`` (the file).

    A value set by a flag is blamed on the flag (``--iterations``), never on
    the file; an error about a whole table (a cross-field check) names every
    flag that set something in it, and the file if the file has the table.
    """
    def flag(path: tuple[str, ...]) -> str:
        dotted = ".".join(path)
        if flags is None:
            return "command line"
        return flags.get(dotted) or f"--{path[-1].replace('_', '-')}"

    path = tuple(str(p) for p in loc)
    node: Any = overrides
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping) or key not in node:
            node = None
            break
        node = node[key]
        if not isinstance(node, Mapping):
            return [flag(path[:depth + 1])]
    named = [flag((*path, *leaf)) for leaf in _leaves(node)] if isinstance(node, Mapping) else []
    in_base: Any = base
    for key in path:
        in_base = in_base.get(key) if isinstance(in_base, Mapping) else None
    if in_base is not None or not named:
        named.insert(0, base_source)
    return list(dict.fromkeys(named))


def _format_errors(error: ValidationError, base_source: str, *, overrides: Mapping[str, Any] | None = None,
                   base: Mapping[str, Any] | None = None, flags: Mapping[str, str] | None = None) -> str:
    groups: dict[str, list[str]] = {}
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "<root>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        value = item.get("input")
        if field == "redis_url" and isinstance(value, str):
            value = redact_url(value)  # a password is never printed
        got = "" if isinstance(value, dict) else f" (got {value!r})"
        source = ", ".join(_sources(tuple(item["loc"]), overrides or {}, base or {}, base_source, flags))
        groups.setdefault(source, []).append(f"{field}: {message}{got}")
    return "; ".join(f"invalid config ({source}): " + "; ".join(parts) for source, parts in groups.items())


def validate_config(base: Mapping[str, Any], overrides: Mapping[str, Any] | None = None, *,
                    base_source: str = "defaults", flags: Mapping[str, str] | None = None) -> LeagueConfig:
    """A :class:`LeagueConfig` from ``base`` (a TOML file's or ``run.json``'s values) with ``overrides`` over it.

    Args:
        base: Values from the file (or a stored config).
        overrides: Values that win over ``base`` (CLI flags); nested sections as
            nested mappings. ``None`` values are ignored.
        base_source: What ``base`` is, for error messages (the file's path).
        flags: The flag that set each override, by dotted field name
            (``{"snapshots.uri": "--snapshot-uri"}``); a field not listed is
            named ``--<field-name>``. Unset: errors blame the "command line".

    Raises:
        ConfigError: naming every invalid field, and where its value came from: the flag
            that set it, or ``base_source``.
    """
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return LeagueConfig.model_validate(deep_merge(dict(base), clean))
    except ValidationError as e:
        raise ConfigError(_format_errors(e, base_source, overrides=clean, base=base, flags=flags)) from None


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it; nested tables merge key by key (neither is changed).

    Example:
        >>> deep_merge({"training": {"lr": 0.1, "gamma": 0.9}}, {"training": {"lr": 0.2}})
        {'training': {'lr': 0.2, 'gamma': 0.9}}
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into a dict.

    Raises:
        ConfigError: if the file is missing or is not valid TOML.
    """
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {str(path)!r}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from e


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None, *,
                flags: Mapping[str, str] | None = None, recipe: bool = False) -> LeagueConfig:
    """Build a :class:`LeagueConfig` from an optional TOML file and overrides.

    Args:
        path: TOML file, or None for defaults only.
        overrides: Values that win over the file (CLI flags); nested sections
            as nested mappings. ``None`` values are ignored.
        flags: The CLI flag behind each override, by dotted field name (see
            :func:`validate_config`), so an error blames the flag, not the file.
        recipe: Lay the game's recipe (:mod:`league.recipes`) under the file and
            the overrides, field by field, as ``league run`` does; off: League's
            plain defaults under them.

    Raises:
        ConfigError: naming every invalid field and where its value came from.

    Example:
        >>> load_config(None, {"game": "connect_four"}).matchmaking.main.scripted
        0.0
        >>> load_config(None, {"game": "connect_four"}, recipe=True).matchmaking.main.scripted > 0
        True
    """
    data = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "command line"
    if recipe:
        found = recipe_for_config(data, overrides)
        if found is not None:
            data = deep_merge(found.tree(), data)
            source = f"{source} over the {found.name} recipe"
    return validate_config(data, overrides, base_source=source, flags=flags)


def recipe_for_config(data: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Recipe | None:
    """The recipe of the game a TOML file's ``data`` and its ``overrides`` name (the default game if neither).

    Example:
        >>> recipe_for_config({}, {"game": "tictactoe"}) is None
        True
        >>> recipe_for_config({"game": "connect_four"}).name
        'connect_four'
    """
    from league.recipes import recipe_for

    game = (overrides or {}).get("game") or data.get("game") or LeagueConfig.model_fields["game"].default
    return recipe_for(game) if isinstance(game, str) else None
