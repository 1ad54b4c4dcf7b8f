"""Mouthpiece's HTTP inference service and the `mouthpiece` command line."""
