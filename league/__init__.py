"""League: multi-agent league training on Ray RLlib's Policy API.

Glossary:
    player: A member of the league; one RLlib policy id (``main``, ``main_v3``, ``random``).
    role: What a player is for: ``main`` (trainable), ``snapshot`` (frozen copy), ``scripted``.
    snapshot: A frozen copy of a trainable player's weights at some iteration, added
        to the running Algorithm with ``add_policy`` and never trained.
    match: One finished episode; every seat has a player, a return and an outcome.
    ledger: The Redis store where every match is written exactly once, with
        win/draw/loss counters per ordered pair of players.
    payoff: A player's score (wins + draws/2) / games against another, from the ledger.
    rating: A skill estimate derived from the ledger's matches.
    resident pool: The frozen players currently loaded in the Algorithm and its env runners.

Where to start reading: ``league/manager.py`` (one iteration), then
``league/matchmaking.py``, ``league/rllib/`` (the RLlib boundary) and ``league/ledger/``.
"""

__version__ = "0.1.0"
