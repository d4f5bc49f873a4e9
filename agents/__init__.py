"""Agents: the action-masking model, scripted policies and their pure choosers.

Importing this package does not import Ray; import :mod:`agents.models` or
:mod:`agents.scripted` for the RLlib pieces.
"""
