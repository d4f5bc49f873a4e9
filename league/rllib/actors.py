"""Acting with an RLlib policy outside of RLlib's samplers (the arena's games, :mod:`league.arena`)."""

from __future__ import annotations

import numpy as np
from ray.rllib.policy.policy import Policy

from envs.encoding import ACTION_MASK_KEY, OBSERVATION_KEY
from league.rllib.weights import is_tf, model_of


class PolicyActor:
    """Chooses moves for a batch of observations with an RLlib policy's model (torch or TF2).

    A :class:`league.arena.Actor`: it takes League-encoded observations, as the arena hands them.

    Args:
        policy: A torch policy built on :class:`agents.models.ActionMaskModel`, or a
            TF2 one built on :class:`agents.tf_models.TFActionMaskModel`.
        explore: Sample from the action distribution (True) or take its mode.
        rng: Generator for sampling when ``explore`` is True.
    """

    def __init__(self, policy: Policy, *, explore: bool, rng: np.random.Generator) -> None:
        self._model = model_of(policy)
        self._tf = is_tf(policy)
        self._explore = explore
        self._rng = rng

    def action_probs(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Probability of every action for each observation (zero on illegal ones)."""
        observations = np.asarray(observations, dtype=np.float32)
        action_masks = np.asarray(action_masks, dtype=np.float32)
        if self._tf:
            import tensorflow as tf

            obs = {OBSERVATION_KEY: tf.convert_to_tensor(observations),
                   ACTION_MASK_KEY: tf.convert_to_tensor(action_masks)}
            logits, _ = self._model.forward({"obs": obs}, [], None)
            return tf.nn.softmax(logits, axis=-1).numpy()
        import torch

        obs = {OBSERVATION_KEY: torch.as_tensor(observations), ACTION_MASK_KEY: torch.as_tensor(action_masks)}
        with torch.no_grad():
            logits, _ = self._model.forward({"obs": obs}, [], None)
            return torch.softmax(logits, dim=-1).numpy()

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One move per observation."""
        probs = self.action_probs(observations, action_masks)
        if not self._explore:
            return probs.argmax(axis=1)
        cumulative = probs.cumsum(axis=1)
        draws = self._rng.random((len(probs), 1)) * cumulative[:, -1:]
        return (cumulative < draws).sum(axis=1)
