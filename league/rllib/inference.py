"""One batched forward pass of a policy, as League's sampler calls it.

RLlib's ``TorchPolicyV2.compute_actions`` costs about a millisecond and a half
per call on this project's 2-core machine whatever the batch, mostly in its
per-call set-up (a lazy tensor ``SampleBatch``, switching the model to eval
mode, ``tree`` conversions). League's sampler calls it once per policy per
lockstep step, so that set-up is paid many times per iteration.
:func:`batched_actor` returns the cheapest exact way to act for a policy:

* a torch policy whose actions come from its model, its action distribution
  class and RLlib's ``StochasticSampling`` exploration (PPO, APPO, IMPALA on the
  old stack, with League's models) gets :class:`TorchActor`: the same calls
  ``_compute_action_helper`` makes (model forward, ``dist_class``,
  ``exploration.get_exploration_action``, ``extra_action_out``, the global
  timestep), with the model put in eval mode once per sample call instead of
  per step, and numpy conversion done directly with RLlib's type reduction
  (int64 -> int32, float64 -> float32) as ``convert_to_numpy`` does;
* any other policy (TF2, scripted players, a custom ``action_sampler_fn``)
  goes through its own ``compute_actions``.

``tests/league/rllib/test_sampler.py`` checks :class:`TorchActor` against
``compute_actions`` output for output (same actions without exploration, same
values, distribution inputs and log-likelihoods, same dtypes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: ``act(observations) -> (actions, extra outputs)`` for one policy.
Actor = Callable[[np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]


def _reduced(array: np.ndarray) -> np.ndarray:
    """RLlib's ``convert_to_numpy(..., reduce_type=True)``: 64-bit numbers become 32-bit."""
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64:
        return array.astype(np.int32)
    return array


class TorchActor:
    """A torch policy's ``compute_actions`` without its per-call set-up (see the module docstring).

    Build one per sample call (it puts the model in eval mode when built).

    Args:
        policy: An old-stack ``TorchPolicyV2`` accepted by :func:`fast_path_applies`.
    """

    def __init__(self, policy: Any) -> None:
        import torch
        from ray.rllib.policy.sample_batch import SampleBatch

        self._torch = torch
        self._sample_batch = SampleBatch
        self.policy = policy
        # Eval mode once, as compute_actions switches per call: an actor lives for one sample call,
        # and the learner may have switched the model to training mode since the last one.
        policy.model.eval()

    def __call__(self, observations: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Actions and extra outputs (``vf_preds``, ``action_dist_inputs``, ``action_prob``, ``action_logp``)."""
        torch, policy, SampleBatch = self._torch, self.policy, self._sample_batch
        with policy._lock, torch.no_grad():
            obs = torch.from_numpy(observations).to(policy.device)
            input_dict = SampleBatch({SampleBatch.CUR_OBS: obs, "is_training": False})
            seq_lens = torch.ones(len(observations), dtype=torch.int32)
            explore = policy.config["explore"]
            timestep = policy.global_timestep
            policy.exploration.before_compute_actions(explore=explore, timestep=timestep)
            dist_inputs, _ = policy.model(input_dict, [], seq_lens)
            distribution = policy.dist_class(dist_inputs, policy.model)
            actions, logp = policy.exploration.get_exploration_action(
                action_distribution=distribution, timestep=timestep, explore=explore)
            extras = policy.extra_action_out(input_dict, [], policy.model, distribution)
            extras[SampleBatch.ACTION_DIST_INPUTS] = dist_inputs
            extras[SampleBatch.ACTION_PROB] = torch.exp(logp.float())
            extras[SampleBatch.ACTION_LOGP] = logp
            policy.global_timestep += len(observations)
            out = {k: _reduced(v.cpu().numpy()) for k, v in extras.items()}
            return _reduced(actions.cpu().numpy()), out


def fast_path_applies(policy: Any) -> bool:
    """Whether ``policy`` acts exactly through :class:`TorchActor`.

    True for an old-stack torch policy with a non-recurrent model that uses
    neither a custom ``action_sampler_fn`` nor ``action_distribution_fn``, and
    whose exploration is RLlib's ``StochasticSampling`` (the default of PPO,
    APPO and IMPALA).
    """
    try:
        from ray.rllib.policy.torch_policy_v2 import TorchPolicyV2
        from ray.rllib.utils.annotations import is_overridden
        from ray.rllib.utils.exploration.stochastic_sampling import StochasticSampling
    except ImportError:  # pragma: no cover - torch missing: no torch policies either
        return False
    return (isinstance(policy, TorchPolicyV2) and policy.model is not None and not policy.is_recurrent()
            and not is_overridden(policy.action_sampler_fn) and not is_overridden(policy.action_distribution_fn)
            and type(policy.exploration) is StochasticSampling)


def batched_actor(policy: Any) -> Actor:
    """The cheapest exact batched ``act`` of ``policy`` (see the module docstring)."""
    if fast_path_applies(policy):
        return TorchActor(policy)

    def act(observations: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        actions, _, extras = policy.compute_actions(observations, explore=None, timestep=policy.global_timestep)
        return np.asarray(actions), extras

    return act
