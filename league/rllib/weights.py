"""A policy's weights and learner state in League's canonical form, for torch and tf2 policies.

League keeps weights (snapshots, ``<run_dir>/players``, exports, checkpoints) as
one dict, name -> numpy array, in the torch model's layout
(``_policy_trunk.0.weight``, ...). RLlib's torch policies give and take exactly
that dict. Its TF2 eager policies give and take a *list* in the order of their
model's variables, with Keras kernels transposed relative to torch;
:class:`agents.tf_models.TFActionMaskModel` converts both ways, so a snapshot is
the same file whichever framework froze it.

A learner's state (RLlib's ``Policy.get_state``) differs too: torch's optimizer
state is a ``state_dict`` of arrays; TF's is a list of live ``tf.Variable``s
(Adam's step count, then its moments), which are read into arrays here so that
checkpoints hold only arrays and JSON. Restoring assigns them back in order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ray.rllib.policy.policy import Policy

_OPTIMIZER = "_optimizer_variables"


def model_of(policy: Policy) -> Any:
    """``policy``'s ModelV2: RLlib's torch and TF2 policies set ``model``; the base ``Policy`` does not declare it."""
    return policy.model  # type: ignore[attr-defined]


def is_tf(policy: Policy) -> bool:
    """Whether ``policy`` is one of RLlib's TF2 (eager) policies."""
    return getattr(policy, "framework", None) == "tf2"


def named_weights(policy: Policy) -> dict[str, np.ndarray]:
    """A copy of ``policy``'s weights in League's canonical layout (CPU torch returns views of live parameters)."""
    if is_tf(policy):
        return model_of(policy).canonical_weights()
    return {k: copy.deepcopy(v) for k, v in policy.get_weights().items()}


def native_weights(policy: Policy, weights: Mapping[str, Any]) -> Any:
    """Canonical ``weights`` as ``policy.set_weights`` takes them (a dict for torch, a list for tf2)."""
    if is_tf(policy):
        return model_of(policy).native_weights(weights)
    return {k: v for k, v in weights.items()}


def set_named_weights(policy: Policy, weights: Mapping[str, Any]) -> None:
    """Give ``policy`` canonical ``weights``."""
    policy.set_weights(native_weights(policy, weights))


def copy_native_weights(policy: Policy) -> Any:
    """A copy of ``policy``'s weights as its own ``set_weights`` takes them (to send to its copies elsewhere)."""
    return copy.deepcopy(policy.get_weights())


def learner_state(policy: Policy, keys: Sequence[str]) -> dict[str, Any]:
    """A deep copy of the ``keys`` of ``policy.get_state()``, weights canonical, optimizer state as arrays."""
    state = policy.get_state()
    out: dict[str, Any] = {k: state[k] for k in keys if k in state}
    if is_tf(policy):
        if "weights" in out:
            out["weights"] = model_of(policy).canonical_weights()
        if _OPTIMIZER in out:
            out[_OPTIMIZER] = [np.array(v.numpy()) for v in out[_OPTIMIZER]]
        if "global_timestep" in out:
            out["global_timestep"] = int(out["global_timestep"])
    return copy.deepcopy(out)


def load_learner_state(policy: Policy, state: Mapping[str, Any]) -> None:
    """Put ``policy`` back to a :func:`learner_state`; without ``global_timestep`` it keeps its own."""
    restored = copy.deepcopy(dict(state))
    if "global_timestep" not in restored:  # RLlib's set_state always sets it
        restored["global_timestep"] = int(np.asarray(policy.global_timestep))
    if is_tf(policy):
        if "weights" in restored:
            restored["weights"] = model_of(policy).native_weights(restored["weights"])
        if _OPTIMIZER in restored:
            restored[_OPTIMIZER] = _optimizer_values(policy, restored[_OPTIMIZER])
    policy.set_state(restored)


def _optimizer_values(policy: Policy, saved: Sequence[Any]) -> list[np.ndarray]:
    """Values for every variable of a TF policy's optimizer from a saved list of them.

    Keras creates Adam's step count with the optimizer and its moments at the first
    update: a state saved before that (a player's initial state) holds a prefix of
    the list, and the moments it lacks are a fresh Adam's, zeros; a policy that has
    not updated yet gets its moments built here. Shapes come from the variables
    (safetensors stores a scalar as one element).
    """
    optimizer = policy._optimizer  # type: ignore[attr-defined]  # set by RLlib's eager TF2 policies
    variables = list(optimizer.variables()) if optimizer is not None else []
    if len(saved) > len(variables) and optimizer is not None:
        # A fresh policy (a resumed run) has no moments yet: build them as its first update
        # would, over the same variables in the same order, then assign the saved values.
        optimizer.build(model_of(policy).trainable_variables())
        variables = list(optimizer.variables())
    if len(saved) > len(variables):
        raise ValueError(f"the saved optimizer state has {len(saved)} variables, this policy's optimizer "
                         f"{len(variables)}: was it saved from another network?")
    values = [np.reshape(np.asarray(value), var.shape) for value, var in zip(saved, variables, strict=False)]
    return values + [np.zeros(var.shape, var.dtype.as_numpy_dtype) for var in variables[len(saved):]]
