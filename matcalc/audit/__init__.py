"""Checks of a user's own work: a hand-written backward pass (backward.py), with the kinds of mistake named by differences.py."""
