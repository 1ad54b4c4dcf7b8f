"""`mouthpiece batch`: manifest lines → tracks on a local process pool or a Ray cluster (DESIGN §8).

The driver (:mod:`cli.batch.driver`) reads the audio, decides what to run and writes every file; the
workers (:mod:`cli.batch.line`, one engine set per process or Ray actor) only turn bytes into tracks.
"""
