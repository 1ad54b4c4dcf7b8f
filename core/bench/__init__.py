"""Benchmarks and their test material: synthesized speech with phone timings, phoneme agreement."""
