"""``league eval``'s players: what a spec names, the game two players share, and the report.

A player is an exported folder, ``RUN_DIR:PLAYER_ID`` (a player of a run,
exported on the fly), or a built-in scripted player (``random``, ``heuristic``,
``alphabeta-1`` ... ``alphabeta-6``). The games are played by
:func:`league.arena.play_seeded_games`, so every game is reproducible on its
own and a plain PettingZoo loop can replay it: game ``k`` resets the env with
seed ``seed + k``; A sits in seat ``k % num_seats``; the side that needs
randomness (a scripted player, or an exported one with ``explore``) draws from
``np.random.default_rng([seed, k, side])`` with side 0 for A and 1 for B.
Exported players play greedily by default.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.heuristics import CHOOSERS, Chooser
from agents.opponent import OPPONENT_FILE, Opponent, load_opponent
from envs.registry import get_spec
from league.arena import Actor, OpponentActor, ScriptedActor, pair_counts, play_seeded_games
from league.errors import UsageError
from league.stats import wilson_interval
from league.types import PairCounts


class Player(Protocol):
    """A named player of ``league eval``: it builds its arena actor for each game."""

    @property
    def name(self) -> str:
        """How ``league eval`` names it."""
        ...

    @property
    def game(self) -> str | None:
        """The one game it plays, or None when it plays several or any."""
        ...

    def actor(self, rng: np.random.Generator) -> Actor:
        """Its :class:`league.arena.Actor` for one game, drawing any randomness from ``rng``."""
        ...


@dataclass
class ScriptedPlayer:
    """A built-in scripted player (a chooser from :mod:`agents.heuristics`)."""

    name: str
    chooser: Chooser
    games: frozenset[str] | None

    @property
    def game(self) -> str | None:
        """The one game it knows; None when it plays several (``alphabeta-N``) or any (``random``)."""
        return next(iter(self.games)) if self.games is not None and len(self.games) == 1 else None

    def actor(self, rng: np.random.Generator) -> Actor:
        """The chooser, its ties broken by ``rng``."""
        return ScriptedActor(self.chooser, rng)


@dataclass
class ExportedPlayer:
    """An exported opponent (greedy, or sampling with ``explore``)."""

    name: str
    opponent: Opponent
    explore: bool = False

    @property
    def game(self) -> str:
        """The game it was trained on."""
        return self.opponent.game

    def actor(self, rng: np.random.Generator) -> Actor:
        """The opponent, sampling from ``rng`` with ``explore``."""
        return OpponentActor(self.opponent, self.explore, rng)


@contextlib.contextmanager
def resolve_player(spec: str, *, explore: bool = False) -> Iterator[Player]:
    """The player ``spec`` names: an export folder, ``RUN_DIR:PLAYER_ID`` or a scripted player's name.

    Raises:
        UsageError: naming the spec and the accepted forms.
    """
    if spec in CHOOSERS:
        chooser, games = CHOOSERS[spec]
        yield ScriptedPlayer(spec, chooser, frozenset(games) if games is not None else None)
        return
    path = Path(spec)
    if path.is_dir() and (path / OPPONENT_FILE).is_file():
        yield ExportedPlayer(spec, load_opponent(path), explore)
        return
    run_dir, sep, player_id = spec.rpartition(":")
    if sep and run_dir and Path(run_dir, "run.json").is_file():
        from league.export import export_player
        from league.run_dir import read_run_info

        if player_id in CHOOSERS:
            # The run's scripted player plays the run's game, not whatever game the other side picks.
            chooser, games = CHOOSERS[player_id]
            game = read_run_info(Path(run_dir)).game
            if games is not None and game not in games:
                raise UsageError(f"{spec!r}: {player_id!r} plays only {sorted(games)}, not the run's game {game!r}")
            yield ScriptedPlayer(spec, chooser, frozenset({game}))
            return
        with tempfile.TemporaryDirectory(prefix="league-eval-") as tmp:
            export_player(Path(run_dir), player_id, Path(tmp) / "export", model_only=True)
            yield ExportedPlayer(spec, load_opponent(Path(tmp) / "export"), explore)
        return
    raise UsageError(f"cannot find player {spec!r}: expected an export folder (with {OPPONENT_FILE}), "
                     f"RUN_DIR:PLAYER_ID, or one of {sorted(CHOOSERS)}")


@dataclass(frozen=True)
class HeadToHead:
    """The result of ``league eval``, from A's side."""

    a: str
    b: str
    game: str
    counts: PairCounts
    seed: int

    @property
    def ci95(self) -> tuple[float, float]:
        """95% Wilson interval of A's score."""
        return wilson_interval(self.counts.score or 0.0, self.counts.games)

    def to_json(self) -> dict[str, Any]:
        """``wins``, ``draws``, ``losses``, ``score``, ``ci95`` (A's side) plus who, what and the seed."""
        return {"a": self.a, "b": self.b, "game": self.game, "games": self.counts.games,
                "wins": self.counts.wins, "draws": self.counts.draws, "losses": self.counts.losses,
                "score": self.counts.score, "ci95": list(self.ci95), "seed": self.seed}


def pick_game(a: Player, b: Player, game: str | None) -> str:
    """The game both players can play (``--game`` is needed only when neither says)."""
    known = {p.game for p in (a, b) if p.game is not None}
    if game is not None:
        known.add(game)
    if len(known) > 1:
        raise UsageError(f"{a.name!r} and {b.name!r} do not play the same game: {sorted(known)}")
    if not known:
        raise UsageError(f"{a.name!r} and {b.name!r} play more than one game: pass --game")
    chosen = known.pop()
    get_spec(chosen)
    for player in (a, b):
        if isinstance(player, ScriptedPlayer) and player.games is not None and chosen not in player.games:
            raise UsageError(f"{player.name!r} plays only {sorted(player.games)}, not {chosen!r}")
    return chosen


def head_to_head(a: Player, b: Player, *, games: int, seed: int = 0, game: str | None = None,
                 env_config: Mapping[str, Any] | None = None, progress: Any = None) -> HeadToHead:
    """Play ``games`` games of A against B with seats alternating; count A's wins, draws and losses."""
    chosen = pick_game(a, b, game)
    results = play_seeded_games(chosen, a.actor, b.actor, games=games, seed=seed, env_config=env_config,
                                progress=progress)
    return HeadToHead(a.name, b.name, chosen, pair_counts(results), seed)
