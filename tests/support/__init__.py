"""Helpers the test packages share."""
