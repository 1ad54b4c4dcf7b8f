"""`mouthpiece render-video`: a talking-portrait mp4 from a bfm track, a portrait and speech (PIRenderer)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "render a talking-portrait video (StyleTalk's PIRenderer) from a bfm track, a portrait and the audio"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.model_files import RENDERER

    parser.add_argument(
        "--track",
        required=True,
        type=Path,
        help="a bfm track: .npz/.json track file, StyleTalk .npy (T,73) or SadTalker .mat",
    )
    parser.add_argument("--image", required=True, type=Path, help="portrait (PNG/JPEG…); centre-cropped to a square")
    parser.add_argument("--audio", required=True, type=Path, help="the speech to mux into the video")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output video, .mp4")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help=f"{RENDERER.name} (default: <models>/{RENDERER.layout})",
    )
    parser.add_argument(
        "--model-config",
        type=Path,
        help="renderer yaml (official renderer_conf.yaml layout, optional image_size / semantic_radius)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--batch", type=int, help="frames per forward pass (default: sized to the device)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from core.render.pipeline import render_video

    kwargs = {
        "device": args.device,
        "batch": args.batch,
        "checkpoint": args.checkpoint,
        "model_config": args.model_config,
    }
    if args.quiet:
        render_video(args.track, args.image, args.audio, args.output, **kwargs)
        return 0
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def progress(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        result = render_video(args.track, args.image, args.audio, args.output, progress=progress, **kwargs)
    print(
        f"wrote {result.path}: {result.frames} frames at {result.fps:g} fps ({result.seconds:.2f} s), "
        f"{result.device}, batch {result.batch}"
    )
    return 0
