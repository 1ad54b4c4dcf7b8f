"""One module per `mouthpiece` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``.

Modules import heavy dependencies (torch, bpy, FastAPI) inside ``run`` only, so that
``mouthpiece animate --engine builtin`` stays fast.
"""
