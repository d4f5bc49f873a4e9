"""The league loop's seeded random streams, each named, all in one place.

Every random choice the loop makes between iterations (which frozen players
become resident, whether an exploiter is reset, the games of an evaluation or
of a new snapshot's anchor matches) draws from its own stream,
``default_rng([seed, LOOP, purpose, iteration, *index])``. The second entry,
:data:`LOOP`, is a value no iteration number reaches, so no loop stream is
ever one of the match decisions' streams, ``[seed, iteration, worker, episode]``
(:meth:`league.matchmaking.MatchPlan.decide`), and two purposes never share one.

Example:
    >>> a = stream(7, Purpose.EVALUATION_PLAYER, 3).integers(1000)
    >>> b = stream(7, Purpose.EVALUATION_PLAYER, 3).integers(1000)
    >>> c = stream(7, Purpose.EVALUATION_SCRIPTED, 3).integers(1000)
    >>> bool(a == b), bool(a == c)
    (True, False)
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

#: The namespace entry of every loop stream: no iteration number reaches it.
LOOP = 2**32 - 1


class Purpose(IntEnum):
    """What a loop stream is drawn for."""

    #: The evaluated player's sampling and the evaluation games' env seeds (index: the opponent's position).
    EVALUATION_PLAYER = 1
    #: The scripted opponent's choices in evaluation games (index: the opponent's position).
    EVALUATION_SCRIPTED = 2
    #: Whether a learner is reset after its snapshot (index: the learner's position).
    RESET = 3
    #: Which frozen players become resident for the iteration.
    RESIDENTS = 4
    #: A new snapshot's sampling and env seeds in its anchor games (index: the scripted player's position).
    ANCHOR_PLAYER = 5
    #: The scripted player's choices in anchor games (index: its position).
    ANCHOR_SCRIPTED = 6


def stream(seed: int, purpose: Purpose, iteration: int, *index: int) -> np.random.Generator:
    """The generator for ``purpose`` at ``iteration`` (and ``index``, where the purpose has several)."""
    return np.random.default_rng([seed, LOOP, int(purpose), iteration, *index])
