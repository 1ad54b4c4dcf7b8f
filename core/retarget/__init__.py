"""Retargeting (DESIGN §8): any engine's take onto the built-in ARKit head's channels, and back.

:func:`retarget` is the entry point. The pieces: :mod:`~core.retarget.register` (landmark-guided
non-rigid ICP, cached per source rig by :mod:`~core.retarget.cache`), :mod:`~core.retarget.transfer`
(displacement transfer in local frames) and :mod:`~core.retarget.solve` (bounded, smooth least squares).
"""

from core.retarget.take import RigPair, SolveSettings, check_rigs, from_arkit, retarget, rig_pair, to_arkit

__all__ = ["RigPair", "SolveSettings", "check_rigs", "from_arkit", "retarget", "rig_pair", "to_arkit"]
