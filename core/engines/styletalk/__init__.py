"""StyleTalk (Ma et al., AAAI 2023) on the BFM 3DMM: style clip + phonemes → expression.

The engine (``engine``) imports torch only when it runs; the net is ``model``, its loading ``loader``.
"""
