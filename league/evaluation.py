"""Head-to-head games between two actors on a plain PettingZoo env (no RLlib sampler).

Used for League's evaluation games (main against a scripted player, never used
for training) and later for ``league eval``. Games run in lockstep batches so a
neural actor chooses moves for every waiting game in one forward pass. Seats
alternate: in game ``k`` actor A sits in seat ``k % num_seats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from agents.heuristics import Chooser
from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY, ObservationEncoder
from envs.registry import get_spec
from league.types import PairCounts


class Actor(Protocol):
    """Anything that picks moves for a batch of (observation, action mask) pairs."""

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One action index per row."""
        ...


@dataclass
class ScriptedActor:
    """An :class:`Actor` over a pure chooser from :mod:`agents.heuristics`."""

    chooser: Chooser
    rng: np.random.Generator

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Apply the chooser to each row."""
        return np.array([self.chooser(o, m, self.rng) for o, m in zip(observations, action_masks)])


def _encoder(env: Any) -> ObservationEncoder:
    agent = env.possible_agents[0]
    return ObservationEncoder(env.observation_space(agent), int(env.action_space(agent).n))


def _act(actors: Sequence[Actor], requests: list[tuple[int, int, str, dict]]) -> dict[tuple[int, str], int]:
    """Batch the waiting (game, actor, agent, observation) requests per actor."""
    chosen: dict[tuple[int, str], int] = {}
    for actor_index, actor in enumerate(actors):
        mine = [r for r in requests if r[1] == actor_index]
        if not mine:
            continue
        observations = np.stack([r[3][OBSERVATION_KEY] for r in mine])
        masks = np.stack([r[3][ACTION_MASK_KEY] for r in mine])
        for (game, _, agent, _), action in zip(mine, actor.act_batch(observations, masks)):
            chosen[(game, agent)] = int(action)
    return chosen


@dataclass(frozen=True)
class GameResult:
    """One game of A against B: each side's return, A's seat and the moves played."""

    a: float
    b: float
    a_seat: int
    length: int


def play_games(
    game: str,
    actor_a: Actor,
    actor_b: Actor,
    *,
    games: int,
    seed: int,
    env_config: Mapping[str, Any] | None = None,
) -> list[GameResult]:
    """Play ``games`` games of A against B (A in seat ``k % num_seats`` in game ``k``)."""
    spec = get_spec(game)
    envs = [spec.make_raw(**dict(env_config or {})) for _ in range(games)]
    actors = (actor_a, actor_b)
    returns = [dict.fromkeys(env.possible_agents, 0.0) for env in envs]
    lengths = [0] * games
    owner = [
        {agent: 0 if seat == k % len(env.possible_agents) else 1 for seat, agent in enumerate(env.possible_agents)}
        for k, env in enumerate(envs)
    ]
    if spec.turn_based:
        _play_turn_based(envs, actors, owner, returns, lengths, seed)
    else:
        _play_simultaneous(envs, actors, owner, returns, lengths, seed)
    results = []
    for k, env in enumerate(envs):
        a = sum(r for agent, r in returns[k].items() if owner[k][agent] == 0)
        b = sum(r for agent, r in returns[k].items() if owner[k][agent] == 1)
        results.append(GameResult(a, b, k % len(env.possible_agents), lengths[k]))
    return results


def _play_turn_based(envs, actors, owner, returns, lengths, seed) -> None:
    encode = _encoder(envs[0])
    for k, env in enumerate(envs):
        env.reset(seed=seed + k)
    active = set(range(len(envs)))
    while active:
        requests = []
        for k in sorted(active):
            env = envs[k]
            while env.agents:
                agent = env.agent_selection
                raw, reward, terminated, truncated, _ = env.last()
                returns[k][agent] += float(reward)
                if terminated or truncated:
                    env.step(None)
                    continue
                requests.append((k, owner[k][agent], agent, encode(raw)))
                break
            if not env.agents:
                active.discard(k)
        for (k, agent), action in _act(actors, requests).items():
            envs[k].step(action)
            lengths[k] += 1


def _play_simultaneous(envs, actors, owner, returns, lengths, seed) -> None:
    encode = _encoder(envs[0])
    observations = {k: env.reset(seed=seed + k)[0] for k, env in enumerate(envs)}
    active = set(range(len(envs)))
    while active:
        requests = [(k, owner[k][a], a, encode(observations[k][a])) for k in sorted(active) for a in envs[k].agents]
        chosen = _act(actors, requests)
        for k in sorted(active):
            env = envs[k]
            obs, rewards, terms, truncs, _ = env.step({a: chosen[(k, a)] for a in env.agents})
            lengths[k] += 1
            observations[k] = obs
            for agent, reward in rewards.items():
                returns[k][agent] += float(reward)
            if not env.agents or all(terms[a] or truncs[a] for a in terms):
                active.discard(k)


def head_to_head(
    game: str,
    actor_a: Actor,
    actor_b: Actor,
    *,
    games: int,
    seed: int,
    env_config: Mapping[str, Any] | None = None,
) -> PairCounts:
    """Wins, draws and losses of A against B over ``games`` games with seats alternating."""
    wins = draws = losses = 0
    for result in play_games(game, actor_a, actor_b, games=games, seed=seed, env_config=env_config):
        wins += result.a > result.b
        draws += result.a == result.b
        losses += result.a < result.b
    return PairCounts(wins=wins, draws=draws, losses=losses)
