"""Batch animation (DESIGN §8): the manifest of dialogue lines, and the outputs of a batch folder."""
