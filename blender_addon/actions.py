"""Takes as actions: one new action per take on the slotted API (4.4+), or one per animated
data-block on the classic API (4.2–4.3). Keys are written in bulk with ``foreach_set``."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import bpy
import numpy as np

TAKE_PROP = "mouthpiece_take"  # int: the take number; marks an action as the add-on's
HEAD_PROP = "mouthpiece_head"  # str: the head object the take was made for
META_PROP = "mouthpiece_meta"  # str: JSON of the track's meta
ROLE_PROP = "mouthpiece_role"  # classic API: which data-block the action animates
SLOTS_PROP = "mouthpiece_slots"  # slotted API: JSON {role: slot identifier}
JOB_PROP = "mouthpiece_job"  # str: the server job whose track the take holds
TRACK_RIG_PROP = "mouthpiece_track_rig"  # str: the track's rig id (bfm takes can drive the portrait renderer)
GROUP = "Mouthpiece"


def slotted_actions() -> bool:
    """Whether this Blender has slotted (layered) actions, 4.4 and newer."""
    return "slots" in bpy.types.Action.bl_rna.properties


@functools.lru_cache(maxsize=4)
def _linear(n: int) -> np.ndarray:
    """``n`` copies of the LINEAR interpolation enum, shared by every F-curve of a bake."""
    value = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    return np.full(n, value, dtype=np.int32)


def write_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Key ``values`` at ``frames`` on an empty F-curve: one ``add`` and two ``foreach_set``."""
    n = len(frames)
    co = np.empty((n, 2), dtype=np.float32)
    co[:, 0] = frames
    co[:, 1] = values
    points = fcurve.keyframe_points
    points.add(n)
    points.foreach_set("co", co.ravel())
    points.foreach_set("interpolation", _linear(n))


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and TAKE_PROP in action


def next_take_number() -> int:
    return 1 + max((int(a[TAKE_PROP]) for a in bpy.data.actions if TAKE_PROP in a), default=0)


class Take:
    """The action(s) of one take; :meth:`fcurves` adds channels for a data-block (a 'role')."""

    def __init__(self, name: str, number: int, head: str, meta: dict) -> None:
        self.name = name
        self.number = number
        self.head = head
        self.meta = meta
        self.actions: list[bpy.types.Action] = []
        self._slots: dict[str, str] = {}
        if slotted_actions():
            self._new_action(name)

    def _new_action(self, name: str) -> bpy.types.Action:
        action = bpy.data.actions.new(name)
        action[TAKE_PROP] = self.number
        action[HEAD_PROP] = self.head
        action[META_PROP] = json.dumps(self.meta)
        action.use_fake_user = True  # earlier takes survive saving while not assigned
        self.actions.append(action)
        return action

    def fcurves(self, role: str, id_block: bpy.types.ID, paths: list[tuple[str, int]]) -> list[bpy.types.FCurve]:
        """New F-curves for ``(data_path, index)`` on ``id_block``, which this take now animates."""
        if slotted_actions():
            action = self.actions[0]
            slot = action.slots.new(id_type=id_block.id_type, name=id_block.name)
            layer = action.layers[0] if action.layers else action.layers.new("Mouthpiece")
            strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
            bag = strip.channelbag(slot, ensure=True)
            curves = [bag.fcurves.new(path, index=index, group_name=GROUP) for path, index in paths]
            self._slots[role] = slot.identifier
            action[SLOTS_PROP] = json.dumps(self._slots)
            assign(id_block, action, slot)
            return curves
        suffix = {"shape_keys": "", "bones": " bones", "object": " head pose"}.get(role, f" {role}")
        action = self._new_action(self.name + suffix)
        action[ROLE_PROP] = role
        action.id_root = id_block.id_type
        curves = [action.fcurves.new(path, index=index, action_group=GROUP) for path, index in paths]
        assign(id_block, action, None)
        return curves


def assign(id_block: bpy.types.ID, action: bpy.types.Action, slot: bpy.types.ActionSlot | None) -> None:
    """Make ``action`` (and ``slot``) the active animation of ``id_block``.

    An action the artist assigned is kept: it gets a fake user so saving never drops it.
    """
    data = id_block.animation_data or id_block.animation_data_create()
    previous = data.action
    if previous is not None and previous != action and not is_take(previous):
        previous.use_fake_user = True
    data.action = action
    if slot is not None:
        data.action_slot = slot


def take_actions(number: int) -> list[bpy.types.Action]:
    return [a for a in bpy.data.actions if a.get(TAKE_PROP) == number]


def takes_of(head_name: str) -> list[tuple[int, str]]:
    """(number, name) of the takes made for a head, oldest first (classic: the shape-key action's name)."""
    seen: dict[int, str] = {}
    for action in bpy.data.actions:
        if TAKE_PROP in action and action.get(HEAD_PROP) == head_name:
            number = int(action[TAKE_PROP])
            if number not in seen or action.get(ROLE_PROP, "shape_keys") == "shape_keys":
                seen[number] = action.name
    return sorted(seen.items())


def _role_actions(number: int) -> Iterator[tuple[str, bpy.types.Action, str | None]]:
    """(role, action, slot identifier or None) of every data-block a take animates."""
    for action in take_actions(number):
        if SLOTS_PROP in action:
            for role, identifier in json.loads(action[SLOTS_PROP]).items():
                yield role, action, identifier
        elif ROLE_PROP in action:
            yield action[ROLE_PROP], action, None


def tag_take(number: int, job_id: str, rig: str) -> None:
    """Remember on take ``number`` the server job it came from and its track's rig."""
    for action in take_actions(number):
        action[JOB_PROP] = job_id
        action[TRACK_RIG_PROP] = rig


def current_take(ids: dict[str, bpy.types.ID]) -> bpy.types.Action | None:
    """The take action active on the head's data-blocks (the first found), or None."""
    for id_block in ids.values():
        data = id_block.animation_data
        if data is not None and is_take(data.action):
            return data.action
    return None


def take_meta(action: bpy.types.Action) -> dict:
    """The meta a take was baked with (the track's meta plus fps and frame_start)."""
    try:
        return json.loads(action.get(META_PROP, "{}"))
    except json.JSONDecodeError:
        return {}


def use_take(number: int, ids: dict[str, bpy.types.ID]) -> None:
    """Switch the head's data-blocks (by role) to take ``number``."""
    for role, action, identifier in _role_actions(number):
        if role in ids:
            slot = action.slots.get(identifier) if identifier else None
            assign(ids[role], action, slot)


def push_to_nla(ids: dict[str, bpy.types.ID]) -> int:
    """Move each data-block's active take onto a new NLA track; returns how many were pushed."""
    pushed = 0
    for id_block in ids.values():
        data = id_block.animation_data
        if data is None or not is_take(data.action):
            continue
        action = data.action
        track = data.nla_tracks.new()
        track.name = action.name
        strip = track.strips.new(action.name, int(action.frame_range[0]), action)
        if slotted_actions() and data.action_slot is not None:
            strip.action_slot = data.action_slot
        data.action = None
        pushed += 1
    return pushed
