"""``league play``: a person plays an exported agent in the terminal.

The board is drawn after every move (Connect Four, tic-tac-toe; for
rock-paper-scissors each round's moves), moves are typed, and anything that
is not a legal move is refused with the list of legal ones, then asked again.
The person's marks are ``X``, the agent's ``O``. The agent is an export, or a
built-in scripted player (``random``, ``heuristic``, ``alphabeta-1`` ... ``alphabeta-6``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console

from agents.heuristics import CHOOSERS, Chooser
from agents.opponent import Opponent
from envs.registry import get_spec
from league.arena import MoveByMove, OpponentActor
from league.arena import play_game as play_game_in_arena
from league.errors import UsageError

#: Reads one line of input after printing a prompt (``input`` by default).
Reader = Callable[[str], str]


def _cells(board: list[int], human: int) -> Callable[[int], str]:
    def cell(index: int) -> str:
        value = board[index]
        return "." if value == 0 else "X" if value == human + 1 else "O"
    return cell


def render_connect_four(env: Any, human: int) -> str:
    """The 6x7 board, row 0 at the top, columns numbered 1-7."""
    cell = _cells(list(env.unwrapped.board), human)
    rows = [" ".join(cell(r * 7 + c) for c in range(7)) for r in range(6)]
    return "\n".join([*rows, "1 2 3 4 5 6 7"])


def render_tictactoe(env: Any, human: int) -> str:
    """The 3x3 board; an empty square shows the number that plays it."""
    squares = list(env.unwrapped.board.squares)
    cell = _cells(squares, human)

    def show(action: int) -> str:
        return str(action + 1) if squares[action] == 0 else cell(action)
    # PettingZoo numbers the squares column by column: action = 3 * column + row.
    return "\n".join(" ".join(show(3 * c + r) for c in range(3)) for r in range(3))


#: Per game: draws the board, and turns what the person typed into an action (None: not understood).
RENDERERS: dict[str, Callable[[Any, int], str]] = {
    "connect_four": render_connect_four,
    "tictactoe": render_tictactoe,
}
RPS_MOVES = ("rock", "paper", "scissors")


def parse_move(game: str, text: str) -> int | None:
    """The action a typed move names, or None if it names none.

    Connect Four takes a column 1-7, tic-tac-toe a square 1-9, rock-paper-scissors
    ``rock``/``paper``/``scissors`` (or ``r``/``p``/``s``, or 1-3).

    Example:
        >>> parse_move("connect_four", " 4 "), parse_move("rps", "Paper"), parse_move("tictactoe", "x")
        (3, 1, None)
    """
    word = text.strip().lower()
    if game == "rps":
        for index, name in enumerate(RPS_MOVES):
            if word in (name, name[0], str(index + 1)):
                return index
        return None
    try:
        return int(word) - 1
    except ValueError:
        return None


def _legal_names(game: str, mask: np.ndarray) -> str:
    legal = np.flatnonzero(mask > 0)
    if game == "rps":
        return ", ".join(RPS_MOVES[a] for a in legal)
    return ", ".join(str(a + 1) for a in legal)


@dataclass
class HumanActor(MoveByMove):
    """The person at the terminal as an arena actor: draws the board (``show``), then asks for a move.

    Anything that is not a legal move is refused with the list of legal ones, then asked again.
    """

    game: str
    read: Reader
    console: Console
    show: Callable[[], None] | None = None

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The move the person types."""
        if self.show is not None:
            self.show()
        while True:
            text = self.read("your move: ")
            action = parse_move(self.game, text)
            if action is not None and 0 <= action < len(action_mask) and action_mask[action] > 0:
                return action
            problem = "not a move" if action is None else "not a legal move"
            self.console.print(f"{text.strip()!r} is {problem}; legal moves: {_legal_names(self.game, action_mask)}",
                               markup=False)


def choose_seat(read: Reader, console: Console, seats: int) -> int:
    """Ask which seat the person takes (1 = moves first) until the answer is one."""
    while True:
        text = read(f"play first or second? [1-{seats}]: ").strip()
        if text.isdigit() and 1 <= int(text) <= seats:
            return int(text) - 1
        console.print(f"{text!r} is not a seat; type a number from 1 to {seats}", markup=False)


@dataclass
class ScriptedOpponent(MoveByMove):
    """A built-in scripted player in the seat of an export (the attributes :func:`play_game` reads).

    It is an arena actor itself (:class:`league.arena.MoveByMove`).
    """

    player_id: str
    game: str
    chooser: Chooser
    rng: np.random.Generator
    info: dict[str, Any] = field(default_factory=dict)

    def act(self, observation: Any, action_mask: Any = None) -> int:
        """The chooser's move."""
        return int(self.chooser(np.asarray(observation), np.asarray(action_mask), self.rng))


def scripted_opponent(name: str, *, game: str | None, seed: int) -> ScriptedOpponent:
    """Scripted player ``name`` playing ``game`` (its only game when None), its ties drawn from ``seed``.

    Raises:
        UsageError: for a game the player does not play, or none given for one that plays several.
    """
    chooser, games = CHOOSERS[name]
    if game is None:
        if games is None or len(games) != 1:
            plays = "any game" if games is None else " and ".join(sorted(games))
            raise UsageError(f"--game: {name!r} plays {plays}; pass --game")
        game = next(iter(games))
    get_spec(game)
    if games is not None and game not in games:
        raise UsageError(f"--game: {name!r} plays only {sorted(games)}, not {game!r}")
    return ScriptedOpponent(name, game, chooser, np.random.default_rng(seed))


def play_game(opponent: Opponent | ScriptedOpponent, *, seat: int | None = None,
              read: Reader = input, console: Console | None = None, seed: int = 0) -> tuple[float, float]:
    """One game between a person (reading moves with ``read``) and ``opponent``; (person's, agent's) return."""
    console = console or Console()
    game = opponent.game
    spec = get_spec(game)
    env = spec.make_raw(**opponent.info.get("env_config", {}))
    seats = list(env.possible_agents)
    human = choose_seat(read, console, len(seats)) if seat is None else seat
    human_agent = seats[human]
    console.print(f"You are {human_agent} (X); League's {opponent.player_id} is O.", markup=False)
    render = RENDERERS.get(game) if spec.turn_based else None
    show = None if render is None else lambda: console.print(render(env, human), highlight=False)
    person = HumanActor(game, read, console, show)
    agent = OpponentActor(opponent) if isinstance(opponent, Opponent) else opponent
    score = [0.0, 0.0]

    def announce(actions: Mapping[str, int], rewards: Mapping[str, float]) -> None:
        if spec.turn_based:
            for name, action in actions.items():
                if name != human_agent:
                    console.print(f"League plays {action + 1}")
            return
        other = next(a for a in actions if a != human_agent)
        score[0] += float(rewards[human_agent])
        score[1] += float(rewards[other])
        names = RPS_MOVES if game == "rps" else tuple(str(i + 1) for i in range(env.action_space(other).n))
        console.print(f"you: {names[actions[human_agent]]}, League: {names[actions[other]]} "
                      f"(score {score[0]:+g} : {score[1]:+g})")

    result = play_game_in_arena(game, person, agent, a_seat=human, seed=seed, env=env, on_step=announce)
    if show is not None:
        show()
    env.close()
    you, theirs = result.a, result.b
    console.print("You win!" if you > theirs else "League wins." if theirs > you else "Draw.")
    return you, theirs
