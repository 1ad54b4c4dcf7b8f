"""`mouthpiece bench NAME`: the speed and quality benches (their test material is in :mod:`core.testing`)."""
