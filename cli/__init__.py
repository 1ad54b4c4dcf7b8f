"""The `mouthpiece` command line: the one composition root (DESIGN §1): argument parsing, commands, progress."""
