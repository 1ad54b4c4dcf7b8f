"""`mouthpiece blend`: animate a clip in-process and save a Blender scene, optionally with a preview
video — the add-on's own head-building and baking code, run in the bpy module (no server)."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cli.commands.animate import add_engine_arguments

if TYPE_CHECKING:
    from rich.progress import Progress

HELP = "animate a voice clip on a head and save a Blender scene (.blend), optionally with a preview .mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", type=Path, help="speech clip (WAV/FLAC/OGG/MP3...)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="Blender scene to write (.blend)")
    parser.add_argument("--video", type=Path, help="also render a preview with the sound (.mp4)")
    parser.add_argument("--resolution", default="640x640", help="preview size WxH (default 640x640)")
    parser.add_argument("--rig", help="head to build: arkit, flame or bfm (default: the engine's rig)")
    parser.add_argument(
        "--start-frame", type=int, default=1, help="frame where the animation and sound start (default 1)"
    )
    parser.add_argument(
        "--fps", type=_rate, default=30.0, help="scene frame rate, also fractional: 23.976, 29.97 (default 30)"
    )
    add_engine_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("--verbose", action="store_true", help="show Blender's own log lines")


def _rate(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a frame rate like 24, 23.976 or 29.97, not '{text}'") from None


def scene_rate(fps: float) -> tuple[int, float]:
    """Blender's (fps, fps_base) for a rate: 30 → (30, 1.0); the NTSC rates 23.976 and 29.97 → (24, 1.001) and
    (30, 1.001); any other fraction → the next whole rate slowed to it."""
    whole = round(fps)
    if abs(fps - whole) < 1e-6:
        return whole, 1.0
    ntsc = round(fps * 1.001)
    if abs(ntsc / 1.001 - fps) < 5e-3:
        return ntsc, 1.001
    whole = math.ceil(fps)
    return whole, whole / fps


def _resolution(text: str) -> tuple[int, int]:
    from core.errors import InputError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--resolution must look like 640x640, got '{text}'") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise InputError(f"--resolution must be between 16x16 and 4096x4096, got '{text}'")
    return w, h


def _check_paths(args: argparse.Namespace) -> None:
    from core.errors import InputError

    if not args.audio.is_file():
        raise InputError(f"audio file not found: {args.audio}")
    if args.output.suffix.lower() != ".blend":
        raise InputError(f"the output must end in .blend, not '{args.output.suffix or args.output.name}'")
    if args.video is not None and args.video.suffix.lower() != ".mp4":
        raise InputError(f"--video must end in .mp4, not '{args.video.suffix or args.video.name}'")
    for path in (args.output, args.video):
        if path is not None and not path.resolve().parent.is_dir():
            raise InputError(f"the output folder does not exist: {path.parent}")
    if not 1 <= args.fps <= 240:
        raise InputError(f"--fps must be between 1 and 240, got {args.fps}")


@contextlib.contextmanager
def _quiet_fds(enabled: bool) -> Iterator[tuple[TextIO, TextIO]]:
    """Silence Blender's C-level stdout/stderr chatter; yields streams on the real stdout and stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    if not enabled:
        yield sys.stdout, sys.stderr
        return
    saved = os.dup(1), os.dup(2)
    real_out = os.fdopen(os.dup(1), "w", buffering=1)
    real_err = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield real_out, real_err
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
        real_out.close()
        real_err.close()


def _animate(args: argparse.Namespace):  # -> tuple[Track, FaceRig]
    """Run the engine in-process on the clip, at its native rate; returns the track and the rig it animates."""
    from cli.commands.animate import check_engine_options, print_warnings, progress_bar
    from core.audio import load_audio
    from core.engines import get_engine
    from core.errors import InputError, ModelMissingError
    from core.pipeline import AnimateRequest, animate
    from core.rigs import load_rig

    request = AnimateRequest.from_args(args, fps=None, rig=None)  # the bake fits the take to the scene's rate
    engine = get_engine(args.engine, device=args.device)
    check_engine_options(args, engine)
    ready, why = engine.status()
    if not ready:
        raise ModelMissingError(why)
    rig = load_rig(args.rig or engine.rig)
    if rig.name != engine.rig:
        raise InputError(
            f"engine '{args.engine}' animates the '{engine.rig}' rig, not '{rig.name}'; leave out --rig "
            f"or choose --rig {engine.rig}"
        )
    audio = load_audio(args.audio)
    with progress_bar(args.quiet) as progress:
        track = animate(engine, audio, request, progress, posevae_device=args.device)
    print_warnings(track)
    return track, rig


def _build_scene(args: argparse.Namespace, track, rig, resolution: tuple[int, int], path: Path):  # -> BakeResult
    """The add-on's own head building, baking, sound and preview set-up, in a fresh scene saved at ``path``."""
    import bpy

    from blender_addon.bake import bake_track
    from blender_addon.head import HEAD_NAMES, build_head
    from blender_addon.preview import add_key_light, frame_camera, setup_preview_render
    from blender_addon.sound import place_sound
    from blender_addon.wire import read_rig, read_track
    from core.errors import MouthpieceError

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = scene_rate(args.fps)
    scene.frame_start = scene.frame_end = args.start_frame
    head = build_head(read_rig(rig.to_npz_bytes()), name=HEAD_NAMES.get(rig.name, f"{rig.name} Head"))
    result = bake_track(head, read_track(track.to_npz_bytes()), frame_start=args.start_frame)
    strip = place_sound(scene, str(args.audio.resolve()), args.start_frame, name=args.audio.stem)
    strip.sound.pack()  # the .blend keeps its sound wherever it is opened
    # the preview goes beside the .blend unless --video says where ("//" is the .blend's folder)
    video = str(args.video.resolve()) if args.video else f"//{args.output.stem}.mp4"
    setup_preview_render(scene, video, resolution)
    frame_camera(scene, head)
    add_key_light(scene, head)
    bpy.context.view_layer.objects.active = head
    head.select_set(True)
    bpy.context.preferences.filepaths.save_version = 0  # no scene.blend1 backup beside it
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=True)
    except RuntimeError as exc:
        raise MouthpieceError(f"Blender could not save {args.output}: {exc}") from None
    return result


def run(args: argparse.Namespace) -> int:
    from core.atomic import atomic_path

    _check_paths(args)
    resolution = _resolution(args.resolution)
    started = time.monotonic()
    track, rig = _animate(args)
    seconds = time.monotonic() - started
    # the scene and its preview are written together once both are done: a Ctrl-C or a failed render
    # leaves neither (older files stay as they were)
    with _quiet_fds(not args.verbose) as (_, err), atomic_path(args.output.resolve()) as scene_tmp:
        result = _build_scene(args, track, rig, resolution, scene_tmp)
        if args.video is not None:
            started = time.monotonic()
            with atomic_path(args.video.resolve()) as video_tmp:
                frames = _render(video_tmp, err, quiet=args.quiet)
            rendering = time.monotonic() - started
    if not args.quiet:
        print(f"wrote {args.output}: take '{result.name}', {track.duration:.1f} s animated in {seconds:.1f} s, "
              f"frames {result.frame_start}–{result.frame_end} at {args.fps:g} fps")  # fmt: skip
        if args.video is not None:
            print(f"wrote {args.video}: {resolution[0]}x{resolution[1]}, {frames} frames with sound, "
                  f"rendered in {rendering:.0f} s")  # fmt: skip
    return 0


def _render(path: Path, err: TextIO, quiet: bool) -> int:
    """Render the scene's preview to ``path`` with a progress bar fed by Blender's render_post handler; the
    number of frames. Ctrl-C stops it after the frame being rendered (KeyboardInterrupt)."""
    import bpy

    from blender_addon.preview import render_animation
    from core.errors import MouthpieceError

    scene = bpy.context.scene
    scene.render.filepath = str(path)
    total = scene.frame_end - scene.frame_start + 1
    bars: contextlib.AbstractContextManager[Progress | None]
    if quiet:
        bars = contextlib.nullcontext(None)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bars = Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(file=err), transient=True)  # fmt: skip
    with bars as bar, _ctrl_c_ends_render(scene) as frame_done:
        task = bar.add_task("render", total=total) if bar else None

        def advance(*_args) -> None:
            frame_done()
            if bar and task is not None:
                bar.advance(task)

        bpy.app.handlers.render_post.append(advance)
        try:
            render_animation(scene)
        except RuntimeError as exc:
            raise MouthpieceError(f"Blender could not render the preview: {exc}") from None
        finally:
            bpy.app.handlers.render_post.remove(advance)
    return total


@contextlib.contextmanager
def _ctrl_c_ends_render(scene) -> Iterator[Callable[[], None]]:
    """Make Ctrl-C end a blocking render: yields the function to call after each frame.

    Blender swallows an exception raised in its handlers and renders on, and Python cannot stop its frame
    loop; but the loop counts on the scene's current frame. So SIGINT is only noted, the call after the next
    frame makes that frame the last, and KeyboardInterrupt is raised once the render has returned.
    """
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    def frame_done() -> None:
        if interrupted:
            scene.frame_current = scene.frame_end

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield frame_done
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
