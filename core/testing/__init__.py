"""Test material that benches and tests share, torch-free: synthesized speech with exact phone timings
(espeak-ng, flite, festival), the voices development set, test signals and the lip and phone gauges."""
