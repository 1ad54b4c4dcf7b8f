"""The take's sound (and a rendered portrait video) as sequencer strips; the scene's frame range grows to fit."""

from __future__ import annotations

import os
from typing import cast

import bpy

SOUND_CHANNEL = 1


def _strips(editor: bpy.types.SequenceEditor) -> bpy.types.StripsTopLevel:
    """Top-level strips: ``strips`` since 4.4, ``sequences`` before."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences  # type: ignore[attr-defined]


def sound_strips(scene: bpy.types.Scene) -> list[bpy.types.SoundStrip]:
    editor = scene.sequence_editor
    return [cast("bpy.types.SoundStrip", s) for s in _strips(editor) if s.type == "SOUND"] if editor else []


def _settle(strip: bpy.types.Strip, others: list[bpy.types.Strip], top: int) -> None:
    """Move ``strip`` (added on channel ``top``) down to the lowest channel free over its length."""
    start, end = strip.frame_final_start, strip.frame_final_end
    for channel in range(SOUND_CHANNEL, top):
        if not any(s.channel == channel and s.frame_final_start < end and start < s.frame_final_end for s in others):
            strip.channel = channel
            return


def _grow_range(scene: bpy.types.Scene, strip: bpy.types.Strip) -> None:
    scene.frame_start = min(scene.frame_start, int(strip.frame_final_start))
    scene.frame_end = max(scene.frame_end, int(strip.frame_final_end) - 1)


def sync_to_audio(scene: bpy.types.Scene) -> None:
    """Playback keeps pace with the sound (frames are dropped rather than the voice drifting)."""
    scene.sync_mode = "AUDIO_SYNC"


def place_sound(
    scene: bpy.types.Scene, filepath: str, frame_start: int, name: str | None = None
) -> bpy.types.SoundStrip:
    """Add ``filepath`` as a sound strip starting at ``frame_start`` on the lowest channel free over
    its length, grow the scene's frame range to its end and sync playback to the sound."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = _strips(editor)
    others = list(strips)
    top = max((s.channel for s in others), default=0) + 1
    strip = cast("bpy.types.SoundStrip", strips.new_sound(name or os.path.basename(filepath), filepath, top,
                                                          int(frame_start)))  # fmt: skip
    _settle(strip, others, top)
    _grow_range(scene, strip)
    sync_to_audio(scene)
    return strip


def find_sound(scene: bpy.types.Scene, filepath: str, frame_start: int) -> bpy.types.SoundStrip | None:
    """The sound strip playing ``filepath`` from ``frame_start``, if there is one."""
    path = os.path.normpath(bpy.path.abspath(filepath))
    for strip in sound_strips(scene):
        if int(strip.frame_start) == int(frame_start) and os.path.normpath(strip_filepath(strip)) == path:
            return strip
    return None


def take_sound(scene: bpy.types.Scene, filepath: str, frame_start: int, name: str) -> bpy.types.SoundStrip:
    """The sound strip of ``filepath`` at ``frame_start``: the one already there (unmuted), else a new one."""
    strip = find_sound(scene, filepath, frame_start)
    if strip is None:
        return place_sound(scene, filepath, frame_start, name)
    strip.mute = False
    sync_to_audio(scene)
    return strip


def solo(scene: bpy.types.Scene, playing: str, others: set[str]) -> None:
    """Unmute the strip named ``playing`` and mute the strips in ``others`` (other takes' sounds)."""
    for strip in sound_strips(scene):
        if strip.name == playing:
            strip.mute = False
        elif strip.name in others:
            strip.mute = True


def place_movie(
    scene: bpy.types.Scene, filepath: str, frame_start: int, name: str
) -> tuple[bpy.types.Strip, bpy.types.SoundStrip | None]:
    """Add a video file as a movie strip and its sound strip (None when it has no audio) at ``frame_start``,
    each on the lowest channel free over its length, and grow the scene's frame range to fit."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = _strips(editor)
    others = list(strips)
    top = max((s.channel for s in others), default=0) + 1
    movie = strips.new_movie(name, filepath, top, int(frame_start))
    _settle(movie, others, top)
    others.append(movie)
    top = max(top, movie.channel) + 1
    try:
        sound: bpy.types.SoundStrip | None = cast(
            "bpy.types.SoundStrip", strips.new_sound(f"{name} sound", filepath, top, int(frame_start))
        )
    except RuntimeError:  # some versions refuse a file without an audio stream
        sound = None
    if sound is not None and (sound.sound is None or sound.frame_final_duration <= 1):  # no audio stream
        strips.remove(sound)
        sound = None
    if sound is not None:
        _settle(sound, others, top)
    _grow_range(scene, movie)
    return movie, sound


def strip_filepath(strip: bpy.types.SoundStrip) -> str:
    """The absolute path of a sound strip's file ("" for a strip without sound data)."""
    return bpy.path.abspath(strip.sound.filepath) if strip.sound is not None else ""
