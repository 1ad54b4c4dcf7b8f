"""SadTalker (Zhang et al., CVPR 2023): ExpNet expression and PoseVAE head motion from audio, BFM rig."""

from core.engines.sadtalker.engine import SadTalkerEngine
from core.engines.sadtalker.headmotion import add_head_motion
from core.engines.sadtalker.loader import load_expnet, load_posevae, load_sadtalker

__all__ = ["SadTalkerEngine", "add_head_motion", "load_expnet", "load_posevae", "load_sadtalker"]
