"""SadTalker (Zhang et al., CVPR 2023): ExpNet expression and PoseVAE head motion from audio, BFM rig.

The engine (``engine``) imports torch only when it runs; the nets live in ``expnet``/``posevae``, their
loading in ``loader``, PoseVAE head motion for any take in ``headmotion``.
"""
