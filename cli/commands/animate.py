"""`mouthpiece animate`: run an engine on an audio clip and write the track, without a server."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.engines.base import ProgressFn
    from core.pipeline import AnimateRequest

HELP = (
    "animate an audio clip with an engine and write the track (.npz or .json; .csv Live Link Face, "
    ".pkl EMOTE, .npy StyleTalk, .mat SadTalker)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "audio", nargs="?", type=Path, help="speech clip (WAV/FLAC/OGG/MP3...); optional with --phonemes"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="track file to write: .npz or .json, or .csv (Live Link Face, ARKit), .pkl (EMOTE, FLAME), "
        ".npy (StyleTalk, BFM), .mat (SadTalker, BFM)",
    )
    add_engine_arguments(parser)
    parser.add_argument("--fps", help="frame rate of the track (default: the engine's native rate)")
    parser.add_argument(
        "--phonemes",
        type=Path,
        help="JSON list of 30 fps phoneme indices (StyleTalk's phindex), used instead of finding phones in the audio",
    )
    parser.add_argument("--model-dir", type=Path, help="folder with the engine's weights")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file of the engine")
    parser.add_argument("--model-config", help="model configuration file of the engine")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_rig_argument(parser)


def add_rig_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rig",
        choices=("arkit", "flame", "bfm"),
        help="retarget the take onto this rig (arkit: any ARKit-named character); default: the engine's own",
    )


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine and its options, shared by `animate` and `blend`."""
    parser.add_argument("--engine", default="builtin", help="builtin (default), emote, styletalk or sadtalker")
    text = parser.add_mutually_exclusive_group()
    text.add_argument("--transcript", help="what is said (better lip sync for the builtin engine)")
    text.add_argument("--transcript-file", type=Path, help="a text file with what is said")
    parser.add_argument(
        "--emotion", default="neutral", help="neutral, happy, sad, surprised, fear, disgusted, angry, contempt"
    )
    parser.add_argument("--intensity", default="0.5", help="emotion intensity 0..1 (default 0.5)")
    parser.add_argument("--seed", default="0", help="random seed for blinks and head motion (default 0)")
    parser.add_argument("--style", help="speaking style (engine-specific: StyleTalk style clip, SadTalker pose style)")
    parser.add_argument("--identity", help="training identity, by name or index (EMOTE)")
    parser.add_argument("--no-blinks", action="store_true", help="no blinks")
    add_head_motion_arguments(parser)
    parser.add_argument("--no-eye-motion", action="store_true", help="no eye saccades")
    parser.add_argument(
        "--loudness",
        choices=("absolute", "clip"),
        default="absolute",
        help="builtin engine: absolute (default) opens the mouth wider for a louder recording (a shout wider "
        "than a whisper); clip normalises every clip to its own level",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device (default auto)")


def add_head_motion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--head-motion",
        choices=("engine", "sadtalker", "none"),
        default="engine",
        help="head motion: the engine's own (default), SadTalker's PoseVAE (needs its weights), or none",
    )
    parser.add_argument("--pose-style", help="SadTalker pose style 0..45, default 0 (with --head-motion sadtalker)")


def check_engine_options(args: argparse.Namespace, engine: Any) -> None:
    """Refuse --style or --loudness clip for an engine that has no such option, as the server does,
    instead of ignoring it."""
    from core.engines.base import check_loudness_offered
    from core.errors import InputError

    info = engine.describe()
    check_loudness_offered(args.loudness, args.engine, info, "--loudness")
    if args.style is not None and not info.get("styles") and "style_help" not in info:
        raise InputError(
            f"engine '{args.engine}' takes no style; leave --style out "
            "(a speaking style from a reference clip is StyleTalk's: --engine styletalk --style CLIP)"
        )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from core.audio import SAMPLE_RATE, load_audio
    from core.engines import get_engine
    from core.errors import InputError
    from core.pipeline import AnimateRequest, animate

    kind = output_kind(args.output)
    if not args.output.parent.is_dir():
        raise InputError(f"the output folder does not exist: {args.output.parent}")
    if args.audio is None and args.phonemes is None:
        raise InputError("give an AUDIO file (or --phonemes for an engine that animates from phonemes)")
    request = AnimateRequest.from_args(args)
    if args.audio is not None:
        audio = load_audio(args.audio)
    else:  # phonemes only: silent audio as long as the phoneme sequence (30 fps)
        audio = np.zeros(round(len(request.phonemes or ()) / 30.0 * SAMPLE_RATE), dtype=np.float32)
    engine = get_engine(
        args.engine,
        model_dir=args.model_dir,
        checkpoint=args.checkpoint,
        model_config=args.model_config,
        device=args.device,
    )
    check_engine_options(args, engine)
    request = fit_to_file(request, engine.rig, kind, args.output)
    with progress_bar(args.quiet) as progress:
        track = animate(engine, audio, request, progress, posevae_device=args.device)
    if kind == "track":
        track.save(args.output)
    else:
        from core.adapters import export_track

        export_track(track, args.output, kind)  # whole or not at all
    print_warnings(track)
    if not args.quiet:
        print(
            f"wrote {args.output}: {track.num_frames} frames at {track.fps:g} fps "
            f"({track.duration:.2f} s, {track.rig} rig, engine {args.engine})"
        )
    return 0


def output_kind(path: Path) -> str:
    """The track format that ``path``'s suffix names (``track`` for .npz/.json: no adapter is imported)."""
    if path.suffix.lower() in (".npz", ".json"):
        return "track"
    from core.adapters import kind_for, known_suffixes
    from core.errors import InputError

    try:
        return kind_for(path)
    except InputError:
        known = ", ".join(known_suffixes())
        raise InputError(f"the output must end in {known}, not '{path.suffix or path.name}'") from None


def fit_to_file(request: AnimateRequest, engine_rig: str, kind: str, path: Path) -> AnimateRequest:
    """``request`` on the rig and at the rate that ``kind``'s file holds; refuses what cannot fit."""
    if kind == "track":
        return request
    from dataclasses import replace

    from core.adapters import FILE_RIGS
    from core.errors import InputError

    rig, fps = FILE_RIGS[kind]
    what = f"{path.suffix.lower()} file"
    if (request.rig or engine_rig) != rig:
        hint = f"add --rig {rig}" if request.rig is None else f"choose --rig {rig}"
        raise InputError(
            f"a {what} holds the {rig} rig; this take is on the {request.rig or engine_rig} rig: {hint}, or write .npz"
        )
    if fps is None:
        return request
    if request.fps is not None and float(request.fps) != fps:
        raise InputError(f"a {what} is written at {fps:g} fps; leave out --fps or write .npz")
    return replace(request, fps=fps)


def print_warnings(track: Any) -> None:
    """The take's warnings on stderr, one line each."""
    for warning in track.meta.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[ProgressFn | None]:
    """A progress callback drawing a bar on the terminal (None when quiet or not a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<24}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=1.0)
        yield lambda fraction, message: bar.update(task, completed=fraction, description=message)
