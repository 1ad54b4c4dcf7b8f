"""`mouthpiece animate`: run an engine on an audio clip and write the track, without a server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "animate an audio clip with an engine and write the track (.npz or .json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "audio", nargs="?", type=Path, help="speech clip (WAV/FLAC/OGG/MP3...); optional with --phonemes"
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="track file to write (.npz or .json)")
    add_engine_arguments(parser)
    parser.add_argument("--fps", help="frame rate of the track (default: the engine's native rate)")
    parser.add_argument("--phonemes", type=Path, help="JSON list of 30 fps phoneme indices (StyleTalk)")
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


def retarget_take(track, rig: str | None):  # -> Track
    """The take on ``rig`` (retargeted through the built-in ARKit head when it is another rig)."""
    if rig is None or rig == track.rig:
        return track
    from core.retarget import retarget

    return retarget(track, rig)


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
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device (default auto)")


def add_head_motion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--head-motion",
        choices=("engine", "sadtalker", "none"),
        default="engine",
        help="head motion: the engine's own (default), SadTalker's PoseVAE (needs its weights), or none",
    )
    parser.add_argument("--pose-style", default="0", help="SadTalker pose style 0..45 (with --head-motion sadtalker)")


def check_head_motion(args: argparse.Namespace) -> None:
    """Fail before the engine runs when SadTalker head motion cannot be added (bad style, no weights)."""
    from core.errors import InputError

    if args.head_motion != "sadtalker":
        if args.pose_style != "0" and args.engine != "sadtalker":
            raise InputError("--pose-style only applies with --head-motion sadtalker")
        return
    from core.engines.sadtalker.posevae import parse_pose_style
    from core.errors import ModelMissingError
    from core.model_files import SADTALKER

    parse_pose_style(args.pose_style)
    if args.engine != "sadtalker" and not SADTALKER.default_path().is_file():
        raise ModelMissingError(SADTALKER.missing_message())


def apply_head_motion(track, audio, args: argparse.Namespace):  # -> Track
    """Replace the track's head rotation with SadTalker's PoseVAE motion when asked to.

    The sadtalker engine makes that motion itself (with its translation), from ``extra["pose_style"]``.
    """
    if args.head_motion != "sadtalker" or args.engine == "sadtalker":
        return track
    from core.engines.sadtalker import add_head_motion

    return add_head_motion(
        track, audio, _number(args.pose_style, "pose-style", int), _seed(args.seed), device=args.device
    )


def _number(value: str, name: str, kind: type = float) -> Any:
    from core.errors import InputError

    try:
        return kind(value)
    except ValueError:
        raise InputError(f"--{name} must be a {'whole ' if kind is int else ''}number, got '{value}'") from None


def _seed(value: str) -> int:
    """--seed as the server takes it: a whole number 0..2³¹-1."""
    from core.errors import InputError

    seed = _number(value, "seed", int)
    if not 0 <= seed < 2**31:
        raise InputError(f"--seed must be a whole number from 0 to {2**31 - 1}, got {seed}")
    return int(seed)


def _phonemes(path: Path) -> list[int]:
    from core.errors import InputError

    if not path.is_file():
        raise InputError(f"phoneme file not found: {path}")
    try:
        seq = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path.name}: not a JSON list of phoneme indices") from None
    if not isinstance(seq, list) or not seq or not all(isinstance(i, int) and i >= 0 for i in seq):
        raise InputError(f"{path.name}: expected a non-empty JSON list of phoneme indices (whole numbers ≥ 0)")
    return seq


def _transcript(args: argparse.Namespace) -> str | None:
    from core.errors import InputError

    if args.transcript_file is None:
        return args.transcript
    if not args.transcript_file.is_file():
        raise InputError(f"transcript file not found: {args.transcript_file}")
    try:
        return args.transcript_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{args.transcript_file.name}: the transcript must be UTF-8 text") from None


def engine_options(args: argparse.Namespace, *, fps: float | None = None, phonemes: list[int] | None = None):
    """EngineOptions from the arguments of :func:`add_engine_arguments` (raises InputError on bad values)."""
    from core.engines.base import EngineOptions

    extra: dict[str, Any] = {
        "blinks": not args.no_blinks,
        "head_motion": args.head_motion == "engine" or (args.engine == "sadtalker" and args.head_motion != "none"),
        "eye_motion": not args.no_eye_motion,
    }
    if args.engine == "sadtalker":
        extra["pose_style"] = _number(args.pose_style, "pose-style", int)
    if args.identity is not None:
        extra["identity"] = int(args.identity) if args.identity.isdigit() else args.identity
    if phonemes is not None:
        extra["phonemes"] = phonemes
    return EngineOptions(
        emotion=args.emotion,
        intensity=_number(args.intensity, "intensity"),
        style=args.style,
        seed=_seed(args.seed),
        transcript=_transcript(args),
        fps=fps,
        extra=extra,
    )


def check_style(args: argparse.Namespace, engine: Any) -> None:
    """Refuse --style for an engine that takes none, as the server does, instead of ignoring it."""
    from core.errors import InputError

    info = engine.describe()
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

    if args.output.suffix.lower() not in (".npz", ".json"):
        raise InputError(f"the output must end in .npz or .json, not '{args.output.suffix or args.output.name}'")
    if not args.output.parent.is_dir():
        raise InputError(f"the output folder does not exist: {args.output.parent}")
    if args.audio is None and args.phonemes is None:
        raise InputError("give an AUDIO file (or --phonemes for an engine that animates from phonemes)")
    options = engine_options(
        args,
        fps=_number(args.fps, "fps") if args.fps is not None else None,
        phonemes=_phonemes(args.phonemes) if args.phonemes is not None else None,
    )
    check_head_motion(args)
    if args.audio is not None:
        audio = load_audio(args.audio)
    else:  # phonemes only: silent audio as long as the phoneme sequence (30 fps)
        audio = np.zeros(round(len(options.extra["phonemes"]) / 30.0 * SAMPLE_RATE), dtype=np.float32)
    engine = get_engine(
        args.engine,
        model_dir=args.model_dir,
        checkpoint=args.checkpoint,
        model_config=args.model_config,
        device=args.device,
    )
    check_style(args, engine)
    if args.rig is not None:
        from core.retarget import check_rigs

        check_rigs(engine.rig, args.rig)
    track = _run_with_progress(engine, audio, options, quiet=args.quiet)
    track = apply_head_motion(track, audio, args)
    track = retarget_take(track, args.rig)
    track.save(args.output)
    for warning in track.meta.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(
            f"wrote {args.output}: {track.num_frames} frames at {track.fps:g} fps "
            f"({track.duration:.2f} s, {track.rig} rig, engine {args.engine})"
        )
    return 0


def _run_with_progress(engine, audio, options, quiet: bool):  # -> Track
    """Run the engine with a progress bar on the terminal (none when quiet or not a terminal)."""
    if quiet or not sys.stderr.isatty():
        return engine.run(audio, options)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<24}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=1.0)

        def progress(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        return engine.run(audio, options, progress=progress)
