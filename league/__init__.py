"""League: multi-agent league training on Ray RLlib's Policy API.

Glossary:
    player: A member of the league; one RLlib policy id (``main``, ``main_v3``, ``random``).
    role: What a player is for: ``main``, ``main_exploiter``, ``league_exploiter``
        (trainable, AlphaStar's roles), ``snapshot`` (frozen copy), ``scripted`` (fixed program).
    learner: The trainable player a match was chosen for; only its experience trains.
    mirror: A non-training copy of a trainable player, refreshed every iteration, under
        which it plays matches chosen for another learner.
    snapshot: A frozen copy of a trainable player's weights at some iteration, kept in the
        snapshot store and never trained.
    snapshot store: Where snapshots live (a folder or S3): safetensors weights plus a JSON
        manifest with their sha256, verified before every load.
    match: One finished episode; every seat has a player, a return and an outcome.
    ledger: The Redis store where every match is written exactly once, with
        win/draw/loss counters per ordered pair of players.
    payoff: A player's score (wins + draws/2) / games against another, from the ledger.
    rating: Elo and OpenSkill (mu, sigma) estimates folded from every ledger match.
    PFSP: Prioritized fictitious self-play: opponents weighted by how hard they are to beat.
    matchmaker: Decides each learner's opponent distribution before an iteration.
    resident pool: The frozen players currently loaded in the Algorithm and its env runners,
        at most ``max_resident_opponents``; the least recently used is dropped first.

Where to start reading: ``league/manager.py`` (one iteration), then
``league/matchmaking.py``, ``league/rllib/`` (the RLlib boundary) and ``league/ledger/``.
"""

from typing import Any

import agents  # noqa: F401  - sets up TensorFlow's Keras before Ray imports it (agents.use_legacy_keras)

__version__ = "0.1.0"

__all__ = ["League", "LeagueConfig", "Matchmaker", "load_config"]

_EXPORTS = {
    "League": "league.manager",
    "LeagueConfig": "league.config",
    "load_config": "league.config",
    "Matchmaker": "league.matchmaking",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import league` stays light (no Ray) for the CLI and tools.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'league' has no attribute {name!r}")
