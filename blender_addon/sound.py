"""The take's sound as a sequencer strip, and the scene's frame range grown to fit."""

from __future__ import annotations

import os

import bpy

SOUND_CHANNEL = 1


def _strips(editor: bpy.types.SequenceEditor) -> bpy.types.bpy_prop_collection:
    """Top-level strips: ``strips`` since 4.4, ``sequences`` before."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def sound_strips(scene: bpy.types.Scene) -> list[bpy.types.Strip]:
    editor = scene.sequence_editor
    return [s for s in _strips(editor) if s.type == "SOUND"] if editor else []


def place_sound(scene: bpy.types.Scene, filepath: str, frame_start: int, name: str | None = None) -> bpy.types.Strip:
    """Add ``filepath`` as a sound strip starting at ``frame_start`` on the lowest channel free over
    its length, and grow the scene's frame range to its end."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = _strips(editor)
    others = list(strips)
    top = max((s.channel for s in others), default=0) + 1
    strip = strips.new_sound(name or os.path.basename(filepath), filepath, top, int(frame_start))
    start, end = strip.frame_final_start, strip.frame_final_end
    for channel in range(SOUND_CHANNEL, top):
        if not any(s.channel == channel and s.frame_final_start < end and start < s.frame_final_end for s in others):
            strip.channel = channel
            break
    scene.frame_start = min(scene.frame_start, int(start))
    scene.frame_end = max(scene.frame_end, int(end) - 1)
    return strip


def strip_filepath(strip: bpy.types.Strip) -> str:
    """The absolute path of a sound strip's file."""
    return bpy.path.abspath(strip.sound.filepath)
