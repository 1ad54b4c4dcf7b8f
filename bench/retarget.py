"""`mouthpiece bench retarget`: registration time, per-take time and accuracy of retargeting.

No licensed files: the source rigs are the built-in head remeshed into a FLAME-format model
(5,023 vertices, FLAME's landmark ids, 100 expressions, 5 joints) and a BFM-format one (64
expressions), each with a basis that is a known mix of the ARKit shapes
(:mod:`core.retarget.synthetic`), driven by a speech-like ARKit take whose weights are the answer.

    mouthpiece bench retarget [--frames 1500] [--json]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from core.bfm import bfm_rig
from core.flame import parse_flame
from core.retarget import SolveSettings, from_arkit, rig_pair, to_arkit
from core.retarget.accuracy import accuracy
from core.retarget.register import register, self_correspondence
from core.retarget.synthetic import bfm_arrays, flame_arrays, speech_like_weights
from core.rig import FaceRig
from core.rigs import load_rig
from core.track import Track


def _timed(fn, *args, **kwargs) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _source(name: str, head: FaceRig, seed: int) -> tuple[FaceRig, np.ndarray]:
    if name == "flame":
        arrays, mixing = flame_arrays(head, seed=seed)
        return parse_flame(arrays).to_rig(), mixing
    arrays, mixing = bfm_arrays(head, seed=seed)
    return bfm_rig(arrays), mixing


def measure(frames: int, seed: int = 0, sources: tuple[str, ...] = ("flame", "bfm")) -> dict[str, Any]:
    head = load_rig("arkit")
    truth = speech_like_weights(frames, seed=seed + 1)
    result: dict[str, Any] = {"frames": frames, "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]}
    for name in sources:
        rig, mixing = _source(name, head, seed)
        corr, wall, _ = _timed(register, rig, head)
        result[f"{name}_registration_s"] = round(wall, 2)
        result[f"{name}_region_vertices"] = corr.stats["source_region_vertices"]
        pair, wall, _ = _timed(rig_pair, rig, head, corr)
        result[f"{name}_rig_preparation_s"] = round(wall, 3)
        take = Track(25.0, name, rig.channels, truth @ mixing.T)
        out, wall, cpu = _timed(to_arkit, take, pair)
        result[f"{name}_take_s"] = round(wall, 3)
        result[f"{name}_take_cpu_s"] = round(cpu, 3)
        for k, v in accuracy(head, truth, out.values).items():
            result[f"{name}_{k}"] = round(v, 4)
        if name == "flame":
            back, wall, _ = _timed(from_arkit, Track(25.0, "arkit", head.channels, truth), pair)
            result["arkit_to_flame_take_s"] = round(wall, 3)
            again = to_arkit(back, pair)
            result["round_trip_mean_abs_error"] = round(accuracy(head, truth, again.values)["mean_abs_error"], 4)
    ident = rig_pair(head, head, self_correspondence(head))
    out = to_arkit(Track(25.0, "arkit", head.channels, truth), ident, SolveSettings(smooth=0.0, quiet=0.0))
    result["identity_max_error"] = float(f"{np.abs(out.values - truth).max():.2e}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench retarget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1500, help="frames of the test take (default 1500: 60 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("flame", "bfm"), help="measure one source rig")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    if args.frames < 10:
        parser.error("--frames must be at least 10")
    from bench.figures import print_figures

    sources = (args.only,) if args.only else ("flame", "bfm")
    print_figures(measure(args.frames, args.seed, sources), args.json)
    return 0
