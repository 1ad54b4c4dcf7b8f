"""Takes as actions: one new action per take on the slotted API (4.4+), or one per animated
data-block on the classic API (4.2–4.3). Keys are written in bulk with ``foreach_set``.

A take never takes over animation the artist made: on a data-block with animation of its own (a body
armature with a walk, an object with its own motion) the take plays from a "Mouthpiece take" NLA track in
Combine mode, so the artist's action keeps evaluating exactly as before. Only the shape keys get the take
as their active action; the artist's shape-key action it replaces is remembered and comes back with
:func:`use_own`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator

import bpy
import numpy as np

from .reduce import reduce_keys

TAKE_PROP = "mouthpiece_take"  # int: the take number; marks an action as the add-on's
HEAD_PROP = "mouthpiece_head"  # str: the head object the take was made for
META_PROP = "mouthpiece_meta"  # str: JSON of the track's meta
ROLE_PROP = "mouthpiece_role"  # classic API: which data-block the action animates
SLOTS_PROP = "mouthpiece_slots"  # slotted API: JSON {role: slot identifier}
JOB_PROP = "mouthpiece_job"  # str: the server job whose track the take holds
TRACK_RIG_PROP = "mouthpiece_track_rig"  # str: the track's rig id (bfm takes can drive the portrait renderer)
SOUND_PROP = "mouthpiece_sound"  # str: the take's sound strip
OWN_ACTION_PROP = "mouthpiece_own_action"  # on a data-block: the artist's action a take replaced
OWN_SLOT_PROP = "mouthpiece_own_slot"  # and its slot identifier (slotted API)
REST_VALUES_PROP = "mouthpiece_rest_values"  # on a data-block: JSON [[path, index, value]] before any take
NLA_TRACK = "Mouthpiece take"  # the NLA track a take plays from on a data-block with animation of its own
GROUP = "Mouthpiece"

Animated = bpy.types.Object | bpy.types.Key  # the data-blocks a take animates (shape keys, armature, object)


def slotted_actions() -> bool:
    """Whether this Blender has slotted (layered) actions, 4.4 and newer."""
    return "slots" in bpy.types.Action.bl_rna.properties


@functools.lru_cache(maxsize=4)
def _linear(n: int) -> np.ndarray:
    """``n`` copies of the LINEAR interpolation enum, shared by every F-curve of a bake."""
    interpolation = bpy.types.Keyframe.bl_rna.properties["interpolation"]
    assert isinstance(interpolation, bpy.types.EnumProperty)
    value = interpolation.enum_items["LINEAR"].value
    return np.full(n, value, dtype=np.int32)


def write_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, tolerance: float = 0.0) -> None:
    """Key ``values`` at ``frames`` on an empty F-curve: one ``add`` and two ``foreach_set``, then handles.

    With ``tolerance`` > 0 only the keys needed to stay within it (linear between keys) are written."""
    if tolerance > 0:
        keep = reduce_keys(values, tolerance)
        frames, values = frames[keep], values[keep]
    n = len(frames)
    co = np.empty((n, 2), dtype=np.float32)
    co[:, 0] = frames
    co[:, 1] = values
    points = fcurve.keyframe_points
    points.add(n)
    points.foreach_set("co", co.ravel())
    points.foreach_set("interpolation", _linear(n))
    fcurve.update()  # handles follow the keys, so switching to Bezier evaluates as it should


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and action.get(TAKE_PROP) is not None


def next_take_number() -> int:
    return 1 + max((int(a[TAKE_PROP]) for a in bpy.data.actions if a.get(TAKE_PROP) is not None), default=0)


def has_own_animation(id_block: Animated) -> bool:
    """Whether the artist animated ``id_block`` (an action that is no take, or NLA tracks of their own)."""
    data = id_block.animation_data
    if data is None:
        return False
    if data.action is not None and not is_take(data.action):
        return True
    return any(track.name != NLA_TRACK for track in data.nla_tracks)


def _layered(role: str, id_block: Animated) -> bool:
    """Whether a take plays on ``id_block`` from the NLA (shape keys always get it as their action)."""
    if role == "shape_keys":
        return False
    data = id_block.animation_data
    return has_own_animation(id_block) or (data is not None and NLA_TRACK in data.nla_tracks)


class Take:
    """The action(s) of one take; :meth:`fcurves` adds channels for a data-block (a 'role').

    Everything a take changes is undone by :meth:`discard`, so a bake that fails leaves nothing behind."""

    def __init__(self, name: str, number: int, head: str, meta: dict) -> None:
        self.name = name
        self.number = number
        self.head = head
        self.meta = meta
        self.actions: list[bpy.types.Action] = []
        self._slots: dict[str, str] = {}
        self._undo: list[Callable[[], None]] = []
        self._pending: list[tuple[str, Animated, bpy.types.Action, bpy.types.ActionSlot | None]] = []
        self._paths: list[list[tuple[str, int]]] = []
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

    def fcurves(self, role: str, id_block: Animated, paths: list[tuple[str, int]]) -> list[bpy.types.FCurve]:
        """New F-curves for ``(data_path, index)`` on ``id_block``, which this take now animates."""
        if slotted_actions():
            action = self.actions[0]
            slot = action.slots.new(id_type=id_block.id_type, name=id_block.name)
            layer = action.layers[0] if action.layers else action.layers.new("Mouthpiece")
            strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
            assert isinstance(strip, bpy.types.ActionKeyframeStrip)
            bag = strip.channelbag(slot, ensure=True)
            curves = [bag.fcurves.new(path, index=index, group_name=GROUP) for path, index in paths]
            self._slots[role] = slot.identifier
            action[SLOTS_PROP] = json.dumps(self._slots)
        else:
            suffix = {"shape_keys": "", "bones": " bones", "object": " head pose"}.get(role, f" {role}")
            action = self._new_action(self.name + suffix)
            action[ROLE_PROP] = role
            action.id_root = id_block.id_type  # type: ignore[attr-defined]  # Blender 4.2-4.3's classic actions
            curves = [action.fcurves.new(path, index=index, action_group=GROUP)  # type: ignore[attr-defined]
                      for path, index in paths]  # fmt: skip
            slot = None
        self._pending.append((role, id_block, action, slot))
        self._paths.append(paths)
        return curves

    def show(self) -> None:
        """Make the take play on every data-block it animates (after all its keys are written)."""
        for (role, id_block, action, slot), paths in zip(self._pending, self._paths, strict=True):
            self._undo.append(_saved_state(id_block))
            _remember_rest(id_block, paths)
            _play(role, id_block, action, slot)

    def on_discard(self, undo: Callable[[], None]) -> None:
        """Also run ``undo`` when the take is discarded."""
        self._undo.append(undo)

    def discard(self) -> None:
        """Undo everything the take did and delete its actions."""
        for undo in reversed(self._undo):
            undo()
        for action in self.actions:
            bpy.data.actions.remove(action)
        self.actions.clear()


def _saved_state(id_block: Animated) -> Callable[[], None]:
    """A function that puts back ``id_block``'s animation data as it is now (action, slot, NLA track)."""
    had_data = id_block.animation_data is not None
    data = id_block.animation_data
    action = data.action if data else None
    slot = data.action_slot if data is not None and slotted_actions() else None
    strips = [(s.action, s.action_slot if slotted_actions() else None) for t in data.nla_tracks
              if t.name == NLA_TRACK for s in t.strips] if data else []  # fmt: skip
    own = {k: id_block[k] for k in (OWN_ACTION_PROP, OWN_SLOT_PROP, REST_VALUES_PROP) if id_block.get(k) is not None}

    def undo() -> None:
        current = id_block.animation_data
        if current is None:
            return
        track = current.nla_tracks.get(NLA_TRACK)
        if track is not None:
            current.nla_tracks.remove(track)
        for strip_action, strip_slot in strips:
            if strip_action is not None:
                _nla_strip(id_block, strip_action, strip_slot)
        current.action = action
        if slot is not None:
            current.action_slot = slot
        for key in (OWN_ACTION_PROP, OWN_SLOT_PROP, REST_VALUES_PROP):
            if key in own:
                id_block[key] = own[key]
            elif id_block.get(key) is not None:
                del id_block[key]
        if not had_data:
            id_block.animation_data_clear()

    return undo


def _remember_rest(id_block: Animated, paths: list[tuple[str, int]]) -> None:
    """Remember the values a take's channels had before any take (what :func:`use_own` puts back)."""
    rest = json.loads(id_block.get(REST_VALUES_PROP, "[]"))
    known = {(path, index) for path, index, _ in rest}
    for path, index in paths:
        if (path, index) in known:
            continue
        try:
            value = id_block.path_resolve(path)
        except ValueError:
            continue
        rest.append([path, index, float(value if isinstance(value, float | int) else value[index])])
    id_block[REST_VALUES_PROP] = json.dumps(rest)


def _put_back_rest(id_block: Animated) -> None:
    for path, index, value in json.loads(id_block.get(REST_VALUES_PROP, "[]")):
        owner_path, _, prop = path.rpartition(".")
        try:
            owner = id_block.path_resolve(owner_path) if owner_path else id_block
        except ValueError:
            continue
        current = getattr(owner, prop)
        if isinstance(current, float | int):
            setattr(owner, prop, value)
        else:
            current[index] = value


def _play(role: str, id_block: Animated, action: bpy.types.Action, slot: bpy.types.ActionSlot | None) -> None:
    if _layered(role, id_block):
        _nla_strip(id_block, action, slot)
    else:
        assign(id_block, action, slot)


def _nla_strip(id_block: Animated, action: bpy.types.Action, slot: bpy.types.ActionSlot | None) -> None:
    """Play ``action`` from the id's Mouthpiece NLA track (made on top), in Combine mode, nothing outside it."""
    data = id_block.animation_data or id_block.animation_data_create()
    track = data.nla_tracks.get(NLA_TRACK)
    if track is None:
        track = data.nla_tracks.new()
        track.name = NLA_TRACK
    for strip in list(track.strips):
        track.strips.remove(strip)
    start = action.frame_range[0]
    strip = track.strips.new(action.name, int(np.floor(start)), action)
    if slot is not None:
        strip.action_slot = slot
    strip.frame_start_ui = start
    strip.blend_type = "COMBINE"
    strip.extrapolation = "NOTHING"
    track.mute = False


def assign(id_block: Animated, action: bpy.types.Action, slot: bpy.types.ActionSlot | None) -> None:
    """Make ``action`` (and ``slot``) the active animation of ``id_block``.

    An action the artist assigned is kept: it gets a fake user so saving never drops it, and the
    data-block remembers it for :func:`use_own`.
    """
    data = id_block.animation_data or id_block.animation_data_create()
    previous = data.action
    if previous is not None and previous != action and not is_take(previous):
        previous.use_fake_user = True
        id_block[OWN_ACTION_PROP] = previous.name
        if slotted_actions() and data.action_slot is not None:
            id_block[OWN_SLOT_PROP] = data.action_slot.identifier
        elif id_block.get(OWN_SLOT_PROP) is not None:
            del id_block[OWN_SLOT_PROP]
    data.action = action
    if slot is not None:
        data.action_slot = slot


def take_actions(number: int) -> list[bpy.types.Action]:
    return [a for a in bpy.data.actions if a.get(TAKE_PROP) == number]


def takes_of(head_name: str) -> list[tuple[int, str]]:
    """(number, name) of the takes made for a head, oldest first (classic: the shape-key action's name)."""
    seen: dict[int, str] = {}
    for action in bpy.data.actions:
        if action.get(TAKE_PROP) is not None and action.get(HEAD_PROP) == head_name:
            number = int(action[TAKE_PROP])
            if number not in seen or action.get(ROLE_PROP, "shape_keys") == "shape_keys":
                seen[number] = action.name
    return sorted(seen.items())


def _role_actions(number: int) -> Iterator[tuple[str, bpy.types.Action, str | None]]:
    """(role, action, slot identifier or None) of every data-block a take animates."""
    for action in take_actions(number):
        if action.get(SLOTS_PROP) is not None:
            for role, identifier in json.loads(action[SLOTS_PROP]).items():
                yield role, action, identifier
        elif action.get(ROLE_PROP) is not None:
            yield action[ROLE_PROP], action, None


def tag_take(number: int, job_id: str, rig: str) -> None:
    """Remember on take ``number`` the server job it came from and its track's rig."""
    for action in take_actions(number):
        action[JOB_PROP] = job_id
        action[TRACK_RIG_PROP] = rig


def tag_sound(number: int, strip: str) -> None:
    """Remember the sound strip take ``number`` plays with."""
    for action in take_actions(number):
        action[SOUND_PROP] = strip


def take_sounds(head_name: str) -> dict[int, str]:
    """Take number → its sound strip's name, for the takes of a head."""
    return {int(a[TAKE_PROP]): str(a[SOUND_PROP]) for a in bpy.data.actions
            if a.get(HEAD_PROP) == head_name and a.get(SOUND_PROP) is not None}  # fmt: skip


def _playing(id_block: Animated) -> bpy.types.Action | None:
    """The take playing on ``id_block`` (its action, or its unmuted Mouthpiece NLA track's), or None."""
    data = id_block.animation_data
    if data is None:
        return None
    if is_take(data.action):
        return data.action
    track = data.nla_tracks.get(NLA_TRACK)
    if track is not None and not track.mute:
        return next((s.action for s in track.strips if is_take(s.action)), None)
    return None


def current_take(ids: dict[str, Animated]) -> bpy.types.Action | None:
    """The take action playing on the head's data-blocks (the first found), or None."""
    for id_block in ids.values():
        action = _playing(id_block)
        if action is not None:
            return action
    return None


def own_action(ids: dict[str, Animated]) -> str:
    """The name of the artist's shape-key action that takes replaced ('' when there is none)."""
    keys = ids.get("shape_keys")
    name = keys.get(OWN_ACTION_PROP, "") if keys is not None else ""
    return name if name in bpy.data.actions else ""


def take_meta(action: bpy.types.Action) -> dict:
    """The meta a take was baked with (the track's meta plus fps and frame_start)."""
    try:
        return json.loads(action.get(META_PROP, "{}"))
    except json.JSONDecodeError:
        return {}


def use_take(number: int, ids: dict[str, Animated]) -> None:
    """Switch the head's data-blocks (by role) to take ``number``."""
    for role, action, identifier in _role_actions(number):
        if role in ids:
            slot = action.slots.get(identifier) if identifier else None
            _play(role, ids[role], action, slot)


def use_own(ids: dict[str, Animated]) -> None:
    """Back to the artist's own animation: their replaced actions return, takes stop playing, and what takes
    keyed is back at its value from before the first take (until the artist's animation sets it)."""
    for id_block in ids.values():
        data = id_block.animation_data
        if data is None:
            continue
        _put_back_rest(id_block)
        track = data.nla_tracks.get(NLA_TRACK)
        if track is not None:
            track.mute = True
        if not is_take(data.action):
            continue
        own = bpy.data.actions.get(id_block.get(OWN_ACTION_PROP, ""))
        data.action = own
        if own is not None and slotted_actions() and id_block.get(OWN_SLOT_PROP) is not None:
            slot = own.slots.get(id_block[OWN_SLOT_PROP])
            if slot is not None:
                data.action_slot = slot


def push_to_nla(ids: dict[str, Animated]) -> int:
    """Move each data-block's active take onto a new NLA track; returns how many were pushed."""
    pushed = 0
    for id_block in ids.values():
        data = id_block.animation_data
        action = data.action if data is not None else None
        if data is None or action is None or not is_take(action):
            continue
        track = data.nla_tracks.new()
        track.name = action.name
        strip = track.strips.new(action.name, int(action.frame_range[0]), action)
        if slotted_actions() and data.action_slot is not None:
            strip.action_slot = data.action_slot
        data.action = None
        pushed += 1
    return pushed
