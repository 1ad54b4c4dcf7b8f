"""The built-in engine: audio (+ transcript) → 52 ARKit channels, head rotation; no weights, no torch."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from core.arkit import ARKIT_CHANNELS, EMOTIONS
from core.audio import SAMPLE_RATE
from core.engines.base import EngineOptions, ProgressFn, check_cancel, check_loudness
from core.engines.builtin import emotion as emo
from core.engines.builtin.closures import add_closures, classifier, features, find_closures, threshold
from core.engines.builtin.coarticulation import blend, fill_voiced_silence, open_for_speech
from core.engines.builtin.filters import gaussian
from core.engines.builtin.life import blinks, gaze_channels, head_motion, head_rotvec, saccades
from core.engines.builtin.mouth import SPEECH_CHANNELS, lip_activity, mouth_channels
from core.engines.builtin.prosody import Prosody, analyse
from core.engines.builtin.room import REVERBERANT_RT60_S, suppress_late_reverb
from core.engines.builtin.visemes import PARAMS, P
from core.errors import InputError
from core.phonetics.segments import (
    STYLETALK_FPS,
    PhoneSegment,
    check_styletalk_indices,
    styletalk_segments,
    tile,
)
from core.track import Track

VERSION = "1.0"
NATIVE_FPS = 60.0
LEAD = 0.04
"""Seconds by which the mouth leads the sound (lips move before they are heard)."""
JAW_AT_SILENCE, JAW_AT_PEAK = 0.4, 1.15
"""Jaw opening scale from the quietest to the loudest moments of the voice (the energy envelope)."""
WINDOW_CENTRE = 0.0128
"""pocketsphinx times a phone by the start of its 25.6 ms analysis windows; the sound is half a
window later."""
CONTACT_PARAMS = frozenset({"close", "press", "roll_lower"})
SMOOTHING = 0.016
"""Seconds (Gaussian sigma) of the final smoothing of the mouth: no articulator jumps in one frame."""
PHONEMES_SLACK_S = 0.1
"""Given phonemes may end this much before or after the audio without a warning."""
HEAD_AXES = "axis-angle radians in the head's frame (Z up, front -Y, left +X): x chin down, z turn left, y tilt"


class BuiltinEngine:
    """Phones (pocketsphinx) → visemes with co-articulation, energy-scaled jaw, emotion, blinks, head.

    Native rate 60 fps: short closures (p/b/m last 50–100 ms) need it; any ``options.fps`` is
    generated directly at that rate (the curves are continuous in time), so no resampling blurs them.
    """

    name = "builtin"
    rig = "arkit"
    native_fps = NATIVE_FPS

    def __init__(
        self,
        *,
        model_dir: str | None = None,
        checkpoint: str | None = None,
        model_config: str | None = None,
        device: str = "cpu",
    ) -> None:
        # the builtin engine has no weights; the arguments exist for the common factory signature
        del model_dir, checkpoint, model_config, device

    def status(self) -> tuple[bool, str]:
        return True, "built in: needs no weights"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rig": self.rig,
            "native_fps": self.native_fps,
            "emotions": list(EMOTIONS),
            "styles": [],
            "transcript": True,
            "extra": {"blinks": True, "eye_motion": True, "head_motion": True, "loudness": "absolute"},
        }

    def run(
        self,
        audio: np.ndarray,
        options: EngineOptions,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Track:
        audio = _check_audio(audio)
        loudness_mode = check_loudness(options.extra.get("loudness", "absolute"))
        report = progress or (lambda fraction, message: None)
        warnings: list[str] = []
        fps = float(options.fps or NATIVE_FPS)
        duration = audio.size / SAMPLE_RATE
        times = np.arange(max(1, round(duration * fps))) / fps

        report(0.05, "analysing the voice")
        prosody = analyse(audio)
        check_cancel(cancel)

        given = options.extra.get("phonemes")
        transcript = _usable_transcript(options.transcript, warnings)
        phones: list[PhoneSegment] = []
        if given is not None:
            phones = _given_phones(given, duration, warnings)
            if transcript:
                warnings.append("phonemes were given; the transcript was ignored")
                transcript = None
        elif transcript and not prosody.has_speech:
            warnings.append("the audio is silent; the transcript was ignored")
        elif prosody.has_speech:
            report(0.15, "aligning phones" if transcript else "recognizing phones")
            from core.phonetics import phones_for

            phones, front_warnings = phones_for(audio, transcript)
            warnings.extend(front_warnings)
            if not _transcript_used(transcript, warnings):
                phones = more_bilabials(audio, phones, prosody)
        trusted = given is not None or _transcript_used(transcript, warnings)
        check_cancel(cancel)

        report(0.7, "animating")
        centred = [PhoneSegment(p.phone, p.start + WINDOW_CENTRE, p.end + WINDOW_CENTRE) for p in phones]
        if given is not None:
            prosody = prosody.spoken_over(centred)
        voiced = fill_voiced_silence(centred, prosody.speaking)
        params = blend(
            voiced,
            times,
            LEAD,
            1.0 / fps,
            dip=lambda t: prosody.at("dip", t),
            room=lambda t: prosody.at("room", t),
            trust_phones=trusted,
        )
        weights = emo.emotion_weights(times, options.emotion, options.intensity, options.emotion_keys)
        # the mouth opens ahead of the sound and closes with it
        voice = np.maximum(prosody.at("voice", times), prosody.at("voice", times + LEAD))
        level = np.maximum(prosody.at("level", times), prosody.at("level", times + LEAD))
        loudness = prosody.loudness_gain() if loudness_mode == "absolute" else 1.0
        jaw = (JAW_AT_SILENCE + (JAW_AT_PEAK - JAW_AT_SILENCE) * level) * loudness
        params[:, P["jaw"]] *= jaw * emo.jaw_gain(weights)
        # the voice gate sends the mouth to rest; a lip contact is rest-compatible and may fall
        # where the voice has stopped (the closure of a final b, a reverberant tail)
        params[:, _FREE] *= voice[:, None]
        open_for_speech(params, prosody.openness(times), prosody.speaking(times))
        params = _smooth(params, SMOOTHING * fps)
        values = self._channels(params, weights, times, options, check=lambda: check_cancel(cancel))
        check_cancel(cancel)

        rotations: dict[str, np.ndarray] = {}
        deg = emo.head_offset(weights)
        if options.extra.get("head_motion", True):
            rng = np.random.default_rng([options.seed, 3])
            deg = deg + head_motion(times, level, voice, prosody.at("f0", times) * (voice > 0.5), rng)
        rotations["head"] = head_rotvec(deg).astype(np.float32)
        report(1.0, "done")
        return Track(
            fps=fps,
            rig=self.rig,
            channels=list(ARKIT_CHANNELS),
            values=values,
            rotations=rotations,
            meta={
                "engine": self.name,
                "version": VERSION,
                "emotion": options.emotion,
                "intensity": float(options.intensity),
                "emotion_keys": [list(k) for k in options.emotion_keys or []],
                "seed": int(options.seed),
                "audio_duration": round(duration, 4),
                "transcript_used": _transcript_used(transcript, warnings),
                "phonemes": "given" if given is not None else "pocketsphinx",
                "warnings": warnings,
                "head_axes": HEAD_AXES,
                "phones": [[p.phone, round(float(p.start), 3), round(float(p.end), 3)] for p in phones],
            },
        )

    @staticmethod
    def _channels(
        params: np.ndarray,
        weights: np.ndarray,
        times: np.ndarray,
        options: EngineOptions,
        check: Callable[[], None],
    ) -> np.ndarray:
        """(T, 52): speech on the mouth, emotion around it, blinks and gaze on the eyes."""
        index = {c: i for i, c in enumerate(ARKIT_CHANNELS)}
        values = np.zeros((times.size, len(ARKIT_CHANNELS)))
        speech = mouth_channels(params)
        for name, curve in speech.items():
            values[:, index[name]] = curve
        # emotion yields to the lips: corners give way to closures and rounding, lip shapes to the jaw too
        over = emo.overlay(weights, ARKIT_CHANNELS)
        busy = lip_activity(params)
        open_jaw = np.clip(2.5 * params[:, P["jaw"]], 0.0, 1.0)
        for name, i in index.items():
            if name in emo.CORNER_CHANNELS:
                over[:, i] *= 1.0 - busy
            elif name in emo.LIP_SHAPE_CHANNELS:
                over[:, i] *= (1.0 - busy) * (1.0 - open_jaw)
            if name in SPEECH_CHANNELS:
                values[:, i] = np.maximum(values[:, i], over[:, i])
            else:
                values[:, i] += over[:, i]
        check()
        rng_blink = np.random.default_rng([options.seed, 1])
        rng_eyes = np.random.default_rng([options.seed, 2])
        if options.extra.get("eye_motion", True):
            for name, curve in gaze_channels(saccades(times, rng_eyes)).items():
                values[:, index[name]] += curve
        if options.extra.get("blinks", True):
            blink, _ = blinks(times, rng_blink)
            for side in ("Left", "Right"):
                i = index[f"eyeBlink{side}"]
                values[:, i] = np.maximum(values[:, i], blink)
                # a blink hides the upward gaze and widening
                for other in (f"eyeWide{side}", f"eyeLookUp{side}"):
                    values[:, index[other]] *= 1.0 - blink
        return np.clip(values, 0.0, 1.0).astype(np.float32)


_FREE = [k for k, name in enumerate(PARAMS) if name not in CONTACT_PARAMS]


def _smooth(params: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing over time of the free articulators; contacts keep their own ramps."""
    if sigma_frames < 0.5:
        return params
    out = params.copy()
    for k, name in enumerate(PARAMS):
        if name not in CONTACT_PARAMS:
            out[:, k] = gaussian(params[:, k], sigma_frames)
    return out


def more_bilabials(audio: np.ndarray, phones: list[PhoneSegment], prosody: Prosody) -> list[PhoneSegment]:
    """Recognized ``phones`` with the bilabials heard by second opinions (:func:`second_opinions`) and
    the closures of the sound that the classifier of :mod:`.closures` takes for bilabials (more
    readily in a reverberant room: :func:`.closures.threshold`)."""
    more, loop = second_opinions(audio, phones, prosody.rt60)
    closures = find_closures(prosody)
    if not closures:
        return more
    probability = classifier().probability(features(prosody, closures, phones, loop, WINDOW_CENTRE))
    return add_closures(more, closures, probability, WINDOW_CENTRE, threshold(prosody.rt60))


def second_opinions(
    audio: np.ndarray, phones: list[PhoneSegment], rt60: float
) -> tuple[list[PhoneSegment], list[PhoneSegment]]:
    """(``phones`` with the bilabials other recognitions hear where word recognition put another
    consonant (see :mod:`core.phonetics.labials`), the phone loop's phones): the phone loop, in a
    reverberant room on the clip with its late reverberation suppressed. (Word recognition again on
    that clip added 0.008 to bilabial closure in reverb on the voices set for 0.06 x real time.)"""
    from core.phonetics.labials import add_labials
    from core.phonetics.sphinx import recognize

    heard = audio if rt60 < REVERBERANT_RT60_S else suppress_late_reverb(audio, rt60)
    loop = [scored.segment for scored in recognize(heard)]
    return add_labials(phones, loop), loop


def _check_audio(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise InputError(f"audio must be mono (1-D), got shape {x.shape}")
    if x.size == 0:
        raise InputError("the audio holds no samples")
    if not np.isfinite(x).all():
        raise InputError("the audio contains NaN or infinite samples")
    return x


def _given_phones(phonemes: Any, duration: float, warnings: list[str]) -> list[PhoneSegment]:
    """The phones of 30 fps StyleTalk phoneme indices over the clip, timed as recognized phones are."""
    seq = check_styletalk_indices(phonemes)
    covered = seq.size / STYLETALK_FPS
    if abs(covered - duration) > PHONEMES_SLACK_S:
        warnings.append(f"the phonemes cover {covered:.2f} s of the {duration:.2f} s audio")
    return tile(styletalk_segments(seq), duration)


def _transcript_used(transcript: str | None, warnings: list[str]) -> bool:
    """Whether the phones came from aligning the transcript (the front end warns when it falls back
    to recognition or ignores the transcript)."""
    return bool(transcript) and not any("recognized" in w or "ignored" in w for w in warnings)


def _usable_transcript(text: str | None, warnings: list[str]) -> str | None:
    """The transcript if it can be aligned with the English dictionary; else None with a warning."""
    if not text or not text.strip():
        return None
    latin = re.findall(r"[A-Za-z]", text)
    letters = re.findall(r"[^\W\d_]", text)
    if len(latin) < 0.8 * len(letters):
        warnings.append("the transcript is not English; animated from the audio alone (phone recognition)")
        return None
    return text.strip()
