"""The arena: every game League plays outside RLlib, with one actor protocol.

Evaluation and anchor games (the manager), ``league eval`` and ``league play``
all play here. One loop, :func:`_game`, plays one game of a PettingZoo env
(AEC for turn-based games, parallel for simultaneous ones) with an actor per
side; every actor sees League's encoded observation (:class:`ObservationEncoder`,
as the training env emits it) and the legal-action mask, and answers with
:meth:`Actor.act_batch`. The drivers differ only in how they seed and batch:

* :func:`play_games`: ``games`` games in lockstep, so a neural actor picks the
  moves of every waiting game in one forward pass; both actors keep their own
  generator across the games (the manager's evaluation and anchor games).
* :func:`play_seeded_games`: game ``k`` on its own, each side's actor built for
  it from ``np.random.default_rng([seed, k, side])`` (``league eval``: any game
  replays alone).

In both, game ``k`` resets the env with seed ``seed + k`` and A sits in seat
``k % num_seats``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agents.heuristics import Chooser
from agents.opponent import Opponent
from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY, ObservationEncoder
from envs.registry import get_spec
from league.types import PairCounts


class Actor(Protocol):
    """Anything that picks moves: one action index per (observation, action mask) row."""

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One action index per row of League-encoded observations and float32 masks."""
        ...


class MoveByMove(ABC):
    """An :class:`Actor` that picks one move at a time (:meth:`act`), row after row."""

    @abstractmethod
    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The action for one encoded observation and its legal-action mask."""

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """:meth:`act` on each row, in order."""
        return np.array([self.act(o, m) for o, m in zip(observations, action_masks, strict=True)])


@dataclass
class ScriptedActor(MoveByMove):
    """A chooser from :mod:`agents.heuristics`, its ties broken by ``rng``."""

    chooser: Chooser
    rng: np.random.Generator

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The chooser's move."""
        return int(self.chooser(np.asarray(observation), np.asarray(action_mask), self.rng))


@dataclass
class OpponentActor(MoveByMove):
    """An exported opponent: its most probable legal move, or one sampled from ``rng`` with ``explore``."""

    opponent: Opponent
    explore: bool = False
    rng: np.random.Generator | None = None

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The opponent's move (as :meth:`Opponent.act` on the game's own observation)."""
        probs = self.opponent.action_probs_batch(np.asarray(observation)[None], np.asarray(action_mask)[None],
                                                 encoded=True)[0]
        if not self.explore:
            return int(probs.argmax())
        return int((self.rng or np.random.default_rng()).choice(len(probs), p=probs))


@dataclass(frozen=True)
class GameResult:
    """One game of A against B: each side's return, A's seat and the moves played."""

    a: float
    b: float
    a_seat: int
    length: int


#: Called after every env step with the actions just played and the rewards that step gave, by agent.
StepWatcher = Callable[[Mapping[str, int], Mapping[str, float]], None]
#: One waiting move: (side, agent, encoded observation dict).
_Request = tuple[int, str, dict]
_GameLoop = Generator[list[_Request], dict[str, int], GameResult]


def _game(env: Any, turn_based: bool, a_seat: int, seed: int, on_step: StepWatcher | None) -> _GameLoop:
    """Play one game: yield the moves wanted (side 0 is A), receive the actions, return the result."""
    agent0 = env.possible_agents[0]
    encode = ObservationEncoder(env.observation_space(agent0), int(env.action_space(agent0).n))
    side = {agent: 0 if seat == a_seat else 1 for seat, agent in enumerate(env.possible_agents)}
    returns = dict.fromkeys(env.possible_agents, 0.0)
    length = 0
    if turn_based:
        env.reset(seed=seed)
        while env.agents:
            agent = env.agent_selection
            raw, reward, terminated, truncated, _ = env.last()
            returns[agent] += float(reward)
            if terminated or truncated:
                env.step(None)
                continue
            actions = yield [(side[agent], agent, encode(raw))]
            env.step(actions[agent])
            length += 1
            if on_step is not None:
                on_step(actions, env.rewards)
    else:
        observations, _ = env.reset(seed=seed)
        while env.agents:
            actions = yield [(side[agent], agent, encode(observations[agent])) for agent in env.agents]
            observations, rewards, terms, truncs, _ = env.step({agent: actions[agent] for agent in env.agents})
            length += 1
            for agent, reward in rewards.items():
                returns[agent] += float(reward)
            if on_step is not None:
                on_step(actions, rewards)
            if all(terms[a] or truncs[a] for a in terms):
                break
    a = sum(r for agent, r in returns.items() if side[agent] == 0)
    b = sum(r for agent, r in returns.items() if side[agent] == 1)
    return GameResult(a, b, a_seat, length)


def _lockstep(games: Sequence[tuple[_GameLoop, tuple[Actor, Actor]]]) -> list[GameResult]:
    """Run the games side by side; each round, each actor picks all its waiting moves in one call.

    Side A's moves are asked before side B's, each in game order: an actor playing both
    sides (self-play) is asked twice a round.
    """
    results: list[GameResult | None] = [None] * len(games)
    waiting: dict[int, list[_Request]] = {}
    for k, (loop, _) in enumerate(games):
        try:
            waiting[k] = next(loop)
        except StopIteration as done:
            results[k] = done.value
    while waiting:
        chosen: dict[int, dict[str, int]] = {k: {} for k in waiting}
        for side in (0, 1):
            batches: dict[int, tuple[Actor, list[tuple[int, str, dict]]]] = {}
            for k, requests in waiting.items():
                actor = games[k][1][side]
                for request_side, agent, observation in requests:
                    if request_side == side:
                        batches.setdefault(id(actor), (actor, []))[1].append((k, agent, observation))
            for actor, mine in batches.values():
                observations = np.stack([o[OBSERVATION_KEY] for _, _, o in mine])
                masks = np.stack([o[ACTION_MASK_KEY] for _, _, o in mine])
                for (k, agent, _), action in zip(mine, actor.act_batch(observations, masks), strict=True):
                    chosen[k][agent] = int(action)
        for k in list(waiting):
            try:
                waiting[k] = games[k][0].send(chosen[k])
            except StopIteration as done:
                results[k] = done.value
                del waiting[k]
    return [r for r in results if r is not None]


def play_game(game: str, actor_a: Actor, actor_b: Actor, *, a_seat: int, seed: int,
              env_config: Mapping[str, Any] | None = None, env: Any = None,
              on_step: StepWatcher | None = None) -> GameResult:
    """One game of A (in seat ``a_seat``) against B, the env reset with ``seed``.

    Args:
        env: The raw env to play on (made from ``game`` and ``env_config`` when None,
            and closed after; a given env is left open, so the caller can still draw it).
        on_step: Called after every step with the actions played and the step's rewards.
    """
    spec = get_spec(game)
    own = env is None
    env = spec.make_raw(**dict(env_config or {})) if own else env
    (result,) = _lockstep([(_game(env, spec.turn_based, a_seat, seed, on_step), (actor_a, actor_b))])
    if own:
        env.close()
    return result


def play_games(game: str, actor_a: Actor, actor_b: Actor, *, games: int, seed: int,
               env_config: Mapping[str, Any] | None = None) -> list[GameResult]:
    """Play ``games`` games of A against B in lockstep (A in seat ``k % num_seats`` in game ``k``)."""
    spec = get_spec(game)
    envs = [spec.make_raw(**dict(env_config or {})) for _ in range(games)]
    loops = [(_game(env, spec.turn_based, k % len(env.possible_agents), seed + k, None), (actor_a, actor_b))
             for k, env in enumerate(envs)]
    results = _lockstep(loops)
    for env in envs:
        env.close()
    return results


#: Builds one side's actor for one game from that game's generator (``league eval``'s players).
ActorFactory = Callable[[np.random.Generator], Actor]


def play_seeded_games(game: str, make_a: ActorFactory, make_b: ActorFactory, *, games: int, seed: int,
                      env_config: Mapping[str, Any] | None = None,
                      progress: Callable[[int], None] | None = None) -> list[GameResult]:
    """Play ``games`` games one at a time; game ``k``'s actors draw from ``default_rng([seed, k, side])``.

    Side 0 is A, 1 is B; ``progress`` is told how many games are done after each.
    """
    results = []
    for k in range(games):
        env = get_spec(game).make_raw(**dict(env_config or {}))
        actor_a, actor_b = (make(np.random.default_rng([seed, k, side])) for side, make in enumerate((make_a, make_b)))
        results.append(play_game(game, actor_a, actor_b, a_seat=k % len(env.possible_agents), seed=seed + k,
                                 env=env))
        env.close()
        if progress is not None:
            progress(k + 1)
    return results


def pair_counts(results: Sequence[GameResult]) -> PairCounts:
    """A's wins, draws and losses over ``results``."""
    return PairCounts(wins=sum(r.a > r.b for r in results), draws=sum(r.a == r.b for r in results),
                      losses=sum(r.a < r.b for r in results))


def head_to_head(game: str, actor_a: Actor, actor_b: Actor, *, games: int, seed: int,
                 env_config: Mapping[str, Any] | None = None) -> PairCounts:
    """Wins, draws and losses of A against B over ``games`` lockstep games with seats alternating."""
    return pair_counts(play_games(game, actor_a, actor_b, games=games, seed=seed, env_config=env_config))
