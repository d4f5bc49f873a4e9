"""RLlib's learner statistics under League's names (the report's and TensorBoard's ``learner/*`` scalars)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: RLlib's learner statistics (old stack ``stats_fn`` of PPO, APPO, IMPALA) under League's names.
_STAT_NAMES = {"cur_lr": "lr", "cur_kl_coeff": "kl_coeff", "KL_Coeff": "kl_coeff", "var_gnorm": "weights_norm",
               "mean_IS": "is_ratio_mean", "var_IS": "is_ratio_var"}


def learner_stats(info: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Policy id -> its scalar learner statistics, from RLlib's learner info (``result["info"]["learner"]``).

    Every scalar RLlib reports is kept; ``cur_lr`` becomes ``lr``, PPO's
    ``cur_kl_coeff`` and APPO's ``KL_Coeff`` ``kl_coeff``, ``var_gnorm``
    (the weights' global norm) ``weights_norm``; ``policy_loss``, ``vf_loss``,
    ``total_loss``, ``entropy``, ``kl``, ``entropy_coeff``, ``vf_explained_var``
    keep their names.

    Example:
        >>> learner_stats({"main": {"learner_stats": {"cur_lr": 0.1, "kl": 0.5, "x": [1, 2]}}})
        {'main': {'kl': 0.5, 'lr': 0.1}}
    """
    out: dict[str, dict[str, float]] = {}
    for pid, entry in info.items():
        stats = entry.get("learner_stats") if isinstance(entry, Mapping) else None
        if not isinstance(stats, Mapping):
            continue
        scalars: dict[str, float] = {}
        for name, value in stats.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            scalars[_STAT_NAMES.get(str(name), str(name))] = number
        out[pid] = dict(sorted(scalars.items()))
    return out
