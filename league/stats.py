"""Small statistics for match results (pure, no I/O)."""

from __future__ import annotations

import math


def wilson_interval(score: float, games: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for the default ``z``).

    ``score`` is the observed proportion (for match results: (wins + draws/2) / games).
    Wilson (1927), "Probable inference, the law of succession, and statistical inference".

    Example:
        >>> tuple(round(x, 4) for x in wilson_interval(0.5, 100))
        (0.4038, 0.5962)
    """
    if games <= 0:
        return (0.0, 1.0)
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    z2 = z * z
    denominator = 1 + z2 / games
    centre = (score + z2 / (2 * games)) / denominator
    half = z * math.sqrt(score * (1 - score) / games + z2 / (4 * games * games)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
