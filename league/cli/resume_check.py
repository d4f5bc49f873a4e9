"""What ``league run --resume`` may be told: the run's own values, new ones only where a resume may change.

A resume continues a run with the configuration it started with. The command
line may still repeat it (the same CONFIG.toml, ``--game X`` where X is the
run's game); only real changes are refused, each named with the run's value
and the given one (issue 22).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from league.config import LeagueConfig, deep_merge, load_config, read_toml
from league.errors import UsageError

#: Fields a resume may change, by dotted name.
MAY_CHANGE = ("iterations", "minutes", "resources.num_env_runners", "resources.address")
#: Fields not compared: ``run_dir`` chooses the run; ``redis_url`` is matched to the run's server
#: by :func:`league.redact.resolve_redis_url` (``run.json`` holds it without its password).
NOT_COMPARED = ("run_dir", "redis_url")


@dataclass(frozen=True)
class Change:
    """A field whose given value differs from the run's.

    Attributes:
        field: Dotted field name (``training.lr``).
        run: The run's value.
        given: The value given.
        source: Where the given value came from: a flag (``--game``) or the config file.
    """

    field: str
    run: Any
    given: Any
    source: str

    def __str__(self) -> str:
        return f"{self.field} {self.run!r} -> {self.given!r} ({self.source})"


@dataclass(frozen=True)
class ResumeTarget:
    """The run to continue and what the command line changes in it (None: the run's own)."""

    run_dir: Path
    iterations: int | None
    minutes: float | None
    num_env_runners: int | None
    address: str | None
    redis_url: str | None
    framework: str  # the run's training.framework (what the resumed players train with)


def _strip_none(tree: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            value = _strip_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths.extend(_leaves(value, f"{path}.") if isinstance(value, Mapping) and value else [path])
    return paths


def _lookup(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _in(path: str, fields: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f"{f}.") for f in fields)


def config_changes(run: LeagueConfig, given: LeagueConfig, paths: list[str], *,
                   sources: Mapping[str, str]) -> list[Change]:
    """The fields among ``paths`` where ``given`` differs from ``run``, except those a resume may change.

    Args:
        run: The run's configuration (``run.json``).
        given: The configuration the command line describes (validated, defaults filled in).
        paths: Dotted names of the fields the command line set explicitly.
        sources: Where each path's value came from (default: ``"the config file"``).

    Example:
        >>> run = LeagueConfig(game="tictactoe")
        >>> given = LeagueConfig(game="rps")
        >>> [str(c) for c in config_changes(run, given, ["game"], sources={"game": "--game"})]
        ["game 'tictactoe' -> 'rps' (--game)"]
    """
    before, after = run.model_dump(mode="json"), given.model_dump(mode="json")
    changes = []
    for path in paths:
        if _in(path, MAY_CHANGE) or _in(path, NOT_COMPARED):
            continue
        old, new = _lookup(before, path), _lookup(after, path)
        if path == "snapshots.uri" and isinstance(new, str) and "://" not in new and not Path(new).is_absolute():
            new = str(Path(new).resolve())  # as LeagueManager stored it in run.json: resolved
        if old != new:
            changes.append(Change(path, old, new, sources.get(path, "the config file")))
    return changes


def resume_target(config_file: Path | None, overrides: Mapping[str, Any], *,
                  flags: Mapping[str, str]) -> ResumeTarget:
    """Check a ``--resume`` command line against the run it names and say what it changes.

    The run folder is ``--run-dir`` (or ``LEAGUE_RUN_DIR``), else the config file's
    ``run_dir``, else the default. Values the command line sets (in the file or by
    flags) must equal the run's, except ``iterations``, ``minutes``, ``resources.num_env_runners``
    and ``resources.address``, which are returned to apply.

    Args:
        config_file: The TOML file given, if any.
        overrides: The flags' values, as nested sections (``None``: not given).
        flags: The flag behind each dotted field name, for messages.

    Raises:
        UsageError: naming each field the command line changes, with the run's value and the given one.
        RunDirError: if the folder holds no run.
    """
    from league.offline import run_config
    from league.run_dir import read_run_info

    given = load_config(config_file, overrides, flags=flags)
    from_flags = _strip_none(overrides)
    explicit = deep_merge(read_toml(config_file) if config_file is not None else {}, from_flags)
    paths = _leaves(explicit)
    sources = {path: flags.get(path, f"--{path.split('.')[-1].replace('_', '-')}")
               for path in _leaves(from_flags)}
    if config_file is not None:
        sources = {path: sources.get(path, str(config_file)) for path in paths}
    run_dir = Path(given.run_dir)
    run = run_config(read_run_info(run_dir))
    changes = config_changes(run, given, paths, sources=sources)
    if changes:
        raise UsageError(f"--resume continues the run in {str(run_dir)!r} with the configuration it started "
                         f"with, but this command changes {'; '.join(str(c) for c in changes)} (only "
                         "--iterations, --minutes, --num-env-runners and --address may change; drop the others "
                         "or give the run's values)")
    dump = given.model_dump(mode="json")

    def chosen(path: str) -> Any:
        return _lookup(dump, path) if path in paths else None

    return ResumeTarget(run_dir=run_dir, iterations=chosen("iterations"), minutes=chosen("minutes"),
                        num_env_runners=chosen("resources.num_env_runners"),
                        address=chosen("resources.address"),
                        redis_url=chosen("redis_url"), framework=run.training.framework)
