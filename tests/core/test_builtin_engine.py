"""The built-in engine: phones → 52 ARKit channels with emotion, blinks, gaze and head motion."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.arkit import ARKIT_CHANNELS, EMOTIONS
from core.audio import SAMPLE_RATE
from core.engines import get_engine
from core.engines.base import EngineOptions
from core.engines.builtin.coarticulation import blend
from core.engines.builtin.life import blinks, head_rotvec
from core.engines.builtin.prosody import analyse
from core.errors import Cancelled, InputError
from core.phonetics import PhoneSegment
from core.testing.espeak import synthesize
from core.testing.lips import LipGauge
from meshes import load_head

MOUTH = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthPressLeft")


@pytest.fixture(scope="module")
def engine():
    return get_engine("builtin")


@pytest.fixture(scope="module")
def gauge() -> LipGauge:
    return LipGauge(load_head())


@pytest.fixture(scope="module")
def silence() -> np.ndarray:
    """Six seconds of near silence (a little noise, as a real room has)."""
    return np.random.default_rng(0).normal(0.0, 1e-4, 6 * SAMPLE_RATE).astype(np.float32)


PAPA_BOB = "papa bob papa bob"


@pytest.fixture(scope="module")
def papa_bob():
    """espeak-ng speech with its phone timings; the transcript aligns with it."""
    return synthesize(PAPA_BOB)


@pytest.fixture(scope="module")
def papa_bob_track(engine, papa_bob):
    return engine.run(papa_bob[0], EngineOptions(transcript=PAPA_BOB, seed=1))


def _quiet(**kw) -> EngineOptions:
    """Options with the eyes and head still, so that emotion overlays can be read alone."""
    return EngineOptions(extra={"blinks": False, "eye_motion": False, "head_motion": False}, **kw)


def test_track_has_the_arkit_channels_at_60_fps(papa_bob, papa_bob_track):
    track = papa_bob_track
    duration = papa_bob[0].size / SAMPLE_RATE
    assert track.rig == "arkit" and track.fps == 60.0
    assert track.channels == list(ARKIT_CHANNELS)
    assert track.values.shape == (round(duration * 60), 52) and track.values.dtype == np.float32
    assert track.values.min() >= 0.0 and track.values.max() <= 1.0
    assert set(track.rotations) == {"head"} and track.rotations["head"].shape == (track.num_frames, 3)
    assert np.degrees(np.linalg.norm(track.rotations["head"], axis=1)).max() < 10.0
    meta = track.meta
    assert meta["engine"] == "builtin" and meta["seed"] == 1 and meta["emotion"] == "neutral"
    assert meta["audio_duration"] == pytest.approx(duration, abs=1e-3)
    assert meta["transcript_used"] is True and meta["warnings"] == []
    assert [p[0] for p in meta["phones"] if p[0] != "SIL"] == ["P", "AA", "P", "AH", "B", "AA", "B"] * 2
    assert track.channel("jawOpen").max() > 0.3  # the vowels open the mouth


def test_bilabials_close_the_lips_on_the_head(papa_bob, papa_bob_track, gauge):
    closed = gauge.closed(papa_bob_track)
    times = np.arange(papa_bob_track.num_frames) / papa_bob_track.fps
    bilabials = [p for p in papa_bob[1] if p.phone in ("P", "B", "M")]
    assert len(bilabials) == 8
    for p in bilabials:
        near = (times >= p.start - 0.04) & (times <= p.end + 0.04)
        assert closed[near].any(), f"lips stay open over {p}"
    vowels = [p for p in papa_bob[1] if p.phone == "AA"]
    for p in vowels:
        mid = (times >= p.start + 0.3 * (p.end - p.start)) & (times <= p.end - 0.3 * (p.end - p.start))
        assert not closed[mid].any(), f"lips closed in the middle of {p}"


def test_speech_wins_over_emotion_on_the_lips(engine, papa_bob, gauge):
    track = engine.run(papa_bob[0], EngineOptions(transcript=PAPA_BOB, emotion="happy", intensity=1.0))
    closed = gauge.closed(track)
    times = np.arange(track.num_frames) / track.fps
    for p in (p for p in papa_bob[1] if p.phone in ("P", "B")):
        near = (times >= p.start - 0.04) & (times <= p.end + 0.04)
        assert closed[near].any()
        # the smile gives way while the lips are pressed together
        assert track.channel("mouthSmileLeft")[near & closed].min() < 0.3
    assert track.channel("cheekSquintLeft").mean() > 0.4  # the upper face still smiles


def test_frame_rate_is_generated_directly(engine, papa_bob):
    audio = papa_bob[0]
    track = engine.run(audio, EngineOptions(transcript=PAPA_BOB, fps=24))
    assert track.fps == 24.0 and track.num_frames == round(audio.size / SAMPLE_RATE * 24)


def test_deterministic_per_seed_and_the_seed_moves_blinks(engine, silence):
    a = engine.run(silence, EngineOptions(seed=3))
    b = engine.run(silence, EngineOptions(seed=3))
    c = engine.run(silence, EngineOptions(seed=4))
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.rotations["head"], b.rotations["head"])
    assert not np.array_equal(a.channel("eyeBlinkLeft"), c.channel("eyeBlinkLeft"))
    assert not np.array_equal(a.rotations["head"], c.rotations["head"])


def test_silence_gives_a_resting_blinking_face(engine, silence):
    track = engine.run(silence, EngineOptions(seed=0))
    for name in MOUTH:
        assert track.channel(name).max() == 0.0, name
    blink = track.channel("eyeBlinkLeft")
    assert blink.max() == 1.0
    closures = np.flatnonzero(np.diff((blink > 0.5).astype(int)) == 1)
    assert 1 <= len(closures) <= 5  # 6 s at about 17 a minute
    np.testing.assert_array_equal(blink, track.channel("eyeBlinkRight"))
    assert track.meta["phones"] == [] and track.meta["warnings"] == []
    gaze = track.values[:, [track.channels.index(c) for c in ARKIT_CHANNELS if c.startswith("eyeLook")]]
    assert 0.0 < gaze.max() < 0.35  # slight saccades


@pytest.mark.parametrize(
    ("emotion", "channel"),
    [
        ("happy", "cheekSquintLeft"),
        ("sad", "browInnerUp"),
        ("surprised", "browOuterUpLeft"),
        ("fear", "eyeWideLeft"),
        ("disgusted", "noseSneerLeft"),
        ("angry", "browDownLeft"),
        ("contempt", "mouthDimpleLeft"),
    ],
)
def test_emotion_overlays_scale_with_intensity(engine, silence, emotion, channel):
    full = engine.run(silence, _quiet(emotion=emotion, intensity=1.0))
    half = engine.run(silence, _quiet(emotion=emotion, intensity=0.5))
    neutral = engine.run(silence, _quiet())
    assert full.channel(channel).mean() > 0.3
    assert half.channel(channel).mean() == pytest.approx(0.5 * full.channel(channel).mean(), rel=1e-5)
    assert neutral.values.max() == 0.0
    assert full.channel("jawOpen").max() == 0.0  # emotion does not open the mouth in silence
    assert full.meta["emotion"] == emotion and full.meta["intensity"] == 1.0


def test_contempt_is_one_sided(engine, silence):
    track = engine.run(silence, _quiet(emotion="contempt", intensity=1.0))
    assert track.channel("mouthSmileLeft").mean() > 0.3 > track.channel("mouthSmileRight").mean()


def test_emotion_keys_vary_over_time(engine, silence):
    keys = [(0.0, "neutral", 0.0), (2.0, "happy", 1.0), (4.0, "sad", 1.0)]
    track = engine.run(silence, _quiet(emotion_keys=keys))
    smile, brow = track.channel("cheekSquintLeft"), track.channel("browInnerUp")
    at = lambda t: round(t * track.fps)  # noqa: E731
    assert smile[at(0.0)] == 0.0 and smile[at(1.0)] == pytest.approx(0.5 * smile[at(2.0)], rel=1e-3)
    assert smile[at(2.0)] > 0.4 and brow[at(2.0)] == 0.0
    assert smile[at(5.0)] == 0.0 and brow[at(5.0)] > 0.6


def test_switches_turn_off_blinks_gaze_and_head(engine, silence):
    track = engine.run(silence, _quiet())
    assert track.values.max() == 0.0
    assert np.abs(track.rotations["head"]).max() == 0.0
    moving = engine.run(silence, EngineOptions())
    assert np.degrees(np.abs(moving.rotations["head"]).max()) > 0.2


def test_cancel_raises(engine, papa_bob):
    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled):
        engine.run(papa_bob[0], EngineOptions(), cancel=flag)


def test_progress_is_reported(engine, silence):
    seen: list[float] = []
    engine.run(silence, EngineOptions(), progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_non_english_transcript_falls_back_to_the_audio(engine, papa_bob):
    track = engine.run(papa_bob[0], EngineOptions(transcript="爸爸鲍勃"))
    assert track.meta["transcript_used"] is False
    assert any("not English" in w for w in track.meta["warnings"])
    assert track.channel("jawOpen").max() > 0.2  # still animated, from the audio


@pytest.mark.parametrize("audio", [np.zeros((100, 2), np.float32), np.zeros(0, np.float32)])
def test_bad_audio_is_refused(engine, audio):
    with pytest.raises(InputError):
        engine.run(audio, EngineOptions())


def test_rounded_vowels_round_the_lips():
    phones = [PhoneSegment("SIL", 0, 0.2), PhoneSegment("W", 0.2, 0.28), PhoneSegment("UW", 0.28, 0.5)]
    phones += [PhoneSegment("HH", 0.5, 0.56), PhoneSegment("OW", 0.56, 0.8), PhoneSegment("SIL", 0.8, 1.2)]
    times = np.arange(0, 1.2, 1 / 60)
    from core.engines.builtin.mouth import mouth_channels

    ch = mouth_channels(blend(phones, times, 0.04, 1 / 60))
    rounded = (times >= 0.2) & (times < 0.8)
    assert ((ch["mouthFunnel"] + ch["mouthPucker"])[rounded] >= 0.2).all()


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 60.0])
def test_a_short_bilabial_survives_any_frame_rate(fps):
    phones = [PhoneSegment("AA", 0.0, 0.2), PhoneSegment("B", 0.2, 0.235), PhoneSegment("AA", 0.235, 0.5)]
    times = np.arange(0, 0.5, 1 / fps)
    params = blend(phones, times, 0.04, 1 / fps)
    from core.engines.builtin.visemes import P

    assert params[:, P["close"]].max() == 1.0


def test_blinks_have_natural_timing():
    times = np.arange(0, 600, 1 / 60)
    curve, starts = blinks(times, np.random.default_rng(7))
    gaps = np.diff(starts)
    assert 12 <= len(starts) / 10 <= 22  # per minute
    assert (gaps >= 0.2).all() and ((gaps > 0.2) & (gaps < 0.35)).sum() >= 5  # some double blinks
    closed = np.flatnonzero(np.diff((curve > 0.05).astype(int)) != 0)
    widths = np.diff(closed)[::2] / 60
    assert 0.06 <= np.median(widths) <= 0.15


def test_voice_gate_follows_the_sound():
    rng = np.random.default_rng(1)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    audio = rng.normal(0, 1e-4, t.size)
    burst = (t > 1.0) & (t < 2.0)
    audio[burst] += 0.3 * np.sin(2 * np.pi * 150 * t[burst]) * np.sin(2 * np.pi * 3 * t[burst]) ** 2
    prosody = analyse(audio.astype(np.float32))
    voice = prosody.at("voice", np.array([0.5, 1.25, 1.75, 2.6]))
    assert voice[0] < 0.1 and voice[1] > 0.9 and voice[2] > 0.9 and voice[3] < 0.1
    f0 = prosody.at("f0", np.array([1.25]))
    assert f0[0] == pytest.approx(150, rel=0.05)


def test_head_rotation_axes():
    rv = head_rotvec(np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]]))
    np.testing.assert_allclose(np.degrees(rv), [[10, 0, 0], [0, 0, 10], [0, 10, 0]], atol=1e-9)


def test_describe_and_status(engine):
    ready, message = engine.status()
    assert ready and "no weights" in message
    info = engine.describe()
    assert info["rig"] == "arkit" and info["emotions"] == list(EMOTIONS) and info["native_fps"] == 60.0


# --- noise, rooms and loudness -------------------------------------------------------------------


def _lips_close_at_bilabials(track, phones, gauge) -> list[bool]:
    closed = gauge.closed(track)
    times = np.arange(track.num_frames) / track.fps
    return [bool(closed[(times >= p.start - 0.04) & (times <= p.end + 0.04)].any()) for p in phones if p.phone in "PBM"]


def test_aligned_closures_survive_noise(engine, gauge):
    from core.testing.voices import apply

    text = "My mom made maple muffins on Monday morning."
    audio, phones = synthesize(text)
    noisy, _, _ = apply("noise", audio, phones, np.random.default_rng(2))  # pink noise, 20 dB SNR
    track = engine.run(noisy, EngineOptions(transcript=text))
    assert track.meta["transcript_used"] is True
    hits = _lips_close_at_bilabials(track, phones, gauge)
    assert len(hits) == 9 and all(hits), hits


def test_recognized_phones_shut_the_lips_over_the_heard_closure_only():
    from core.engines.builtin.visemes import P

    segs = [PhoneSegment("SIL", 0.0, 0.2), PhoneSegment("AA", 0.2, 0.38), PhoneSegment("B", 0.38, 0.5),
            PhoneSegment("AA", 0.5, 0.7), PhoneSegment("SIL", 0.7, 1.0)]  # fmt: skip
    times = np.arange(60) / 60.0

    def dip(t: np.ndarray) -> np.ndarray:  # the sound stops over the /b/'s last 40 ms only
        return np.where((t > 0.46) & (t < 0.5), -30.0, 0.0)

    heard = blend(segs, times, 0.04, 1 / 60, dip=dip)[:, P["close"]]
    aligned = blend(segs, times, 0.04, 1 / 60, dip=dip, trust_phones=True)[:, P["close"]]
    early, closure = (times > 0.38) & (times < 0.44), (times > 0.46) & (times < 0.5)
    assert heard[closure].min() == pytest.approx(1.0) and heard[early].max() <= 0.3
    assert aligned[early].min() > 0.7  # an aligned /b/ is believed over its whole span


def test_a_closure_in_steady_noise_dips_as_deep_as_in_a_quiet_room():
    from core.testing.voices import pink_noise, speech_rms

    audio, phones = synthesize("My mom made maple muffins on Monday morning.")
    noise = pink_noise(audio.size, np.random.default_rng(2)) * speech_rms(audio) * 10.0 ** (-10.0 / 20.0)
    prosody = analyse(audio + noise)  # 10 dB SNR: the noise alone sits 10 dB under the speech
    closures = [prosody.at("dip", np.arange(p.start, p.end, 0.005)).min() for p in phones if p.phone in "PBM"]
    assert len(closures) == 9 and max(closures) < -18.0, closures
    vowels = [prosody.at("dip", np.array([(p.start + p.end) / 2]))[0] for p in phones if p.phone in ("EY", "AO")]
    assert vowels and min(vowels) > -6.0, vowels  # vowel nuclei stay near the band's peak


def test_audio_only_in_a_reverberant_room_the_dry_phone_loop_and_the_closures_add_bilabials(engine):
    """Word recognition hears few of the 17 bilabials in a reverberant room; the phone loop on the clip
    with its late reverberation suppressed, and the closure classifier, add more, and the take has
    every one the phone loop added."""
    from core.engines.builtin.room import REVERBERANT_RT60_S, suppress_late_reverb
    from core.phonetics import recognize_phones, sphinx
    from core.phonetics.labials import add_labials
    from core.testing.voices import reverb

    audio, _ = synthesize("Put the paper back on the pile by the pump. Maybe Ben will bring the bikes home by Monday.")
    wet = reverb(np.concatenate([audio, np.zeros(SAMPLE_RATE // 2, np.float32)]), np.random.default_rng(3))
    rt60 = analyse(wet).rt60
    assert rt60 >= REVERBERANT_RT60_S
    words = recognize_phones(wet)
    heard = add_labials(words, [s.segment for s in sphinx.recognize(suppress_late_reverb(wet, rt60))])
    take = [(phone, round(start, 2)) for phone, start, _ in engine.run(wet, EngineOptions()).meta["phones"]]
    assert {(p.phone, round(p.start, 2)) for p in heard if p not in words} <= set(take)
    in_words = sum(p.phone in ("P", "B", "M") for p in words)
    in_take = sum(phone in ("P", "B", "M") for phone, _ in take)
    assert in_take >= in_words + 4, (in_words, in_take)


def test_the_voice_tells_a_reverberant_room_from_a_dry_one():
    from core.engines.builtin.room import REVERBERANT_RT60_S, suppress_late_reverb
    from core.testing.voices import reverb

    for text in ("Put the paper back on the pile.", "Jump, Bob, jump!"):
        audio, phones = synthesize(text)
        dry = np.concatenate([audio, np.zeros(SAMPLE_RATE, np.float32)])
        wet = reverb(dry, np.random.default_rng(3))  # RT60 0.6 s
        assert analyse(dry).rt60 < 0.2 and REVERBERANT_RT60_S <= analyse(wet).rt60 < 0.9
        out = suppress_late_reverb(wet, analyse(wet).rt60)
        end = max(p.end for p in phones if p.phone != "SIL")
        tail = slice(round((end + 0.15) * SAMPLE_RATE), round((end + 0.5) * SAMPLE_RATE))
        vowels = np.concatenate(
            [np.arange(round(p.start * SAMPLE_RATE), round(p.end * SAMPLE_RATE)) for p in phones if p.phone in "AEYAH"]
        )

        def db(x: np.ndarray, at: slice | np.ndarray) -> float:
            return float(10.0 * np.log10(np.mean(x[at].astype(np.float64) ** 2)))

        assert db(out, tail) < db(wet, tail) - 2.0  # the room's tail is quieter
        assert db(out, vowels) > db(wet, vowels) - 1.5  # the voice is not


def test_the_room_ringing_on_is_not_voice():
    from core.testing.voices import reverb

    audio, phones = synthesize("Put the paper back on the pile.")
    wet = reverb(np.concatenate([audio, np.zeros(SAMPLE_RATE, np.float32)]), np.random.default_rng(3))
    end = max(p.end for p in phones if p.phone != "SIL")
    after = np.arange(end + 0.15, end + 0.6, 0.01)
    assert analyse(wet).at("voice", after).max() < 0.5  # the tail rings on 0.6 s, the mouth rests
    during = np.array([(p.start + p.end) / 2 for p in phones if p.phone in ("AE", "EY", "AA", "AY")])
    assert analyse(wet).at("voice", during).min() > 0.5


def test_loudness_opens_a_shouted_line_wider_than_a_whispered_one(engine, papa_bob):
    audio = papa_bob[0]
    jaw = {}
    for gain in (0.1, 1.0):
        for mode in ("absolute", "clip"):
            options = EngineOptions(transcript=PAPA_BOB, extra={"loudness": mode, "head_motion": False})
            jaw[gain, mode] = engine.run(audio * gain, options).channel("jawOpen").max()
    assert jaw[0.1, "absolute"] < 0.85 * jaw[1.0, "absolute"]  # 20 dB quieter opens less
    assert jaw[0.1, "clip"] == pytest.approx(jaw[1.0, "clip"], rel=0.05)  # per-clip normalisation
    assert jaw[1.0, "absolute"] == pytest.approx(jaw[1.0, "clip"], rel=0.1)  # espeak is near the reference
    with pytest.raises(InputError, match="loudness must be one of absolute, clip, not 'loud'"):
        engine.run(audio, EngineOptions(extra={"loudness": "loud"}))


def _labelled_clip(samples_dir, name: str = "feifeili_clip3") -> tuple[np.ndarray, list[int]]:
    """A real clip and its 30 fps StyleTalk phoneme indices."""
    import json

    from core.audio import load_audio

    audio = load_audio(samples_dir / "source_video" / "wav" / f"{name}.wav")
    seq = json.loads((samples_dir / "source_video" / "phoneme" / f"{name}_seq.json").read_text())
    return audio, seq[: round(audio.size / SAMPLE_RATE * 30)]


def test_given_phonemes_shut_the_lips_on_every_labelled_bilabial(engine, gauge, samples_dir):
    from bench.lipsync import clip_labels
    from core.phonetics.segments import STYLETALK_LAG_S
    from core.testing.lips import score

    audio, seq = _labelled_clip(samples_dir)
    track = engine.run(audio, EngineOptions(extra={"phonemes": seq}))
    assert track.meta["phonemes"] == "given" and track.meta["warnings"] == []
    labels = clip_labels(samples_dir / "source_video" / "phoneme" / "feifeili_clip3_seq.json", audio.size / SAMPLE_RATE)
    scores = score(labels, track, gauge, 1.0, 1.0, label_lag=STYLETALK_LAG_S)
    hit, runs = scores.bilabial
    assert runs >= 5 and hit == runs
    # the phones are the labels', 40 ms earlier (recognized phones' timing), not recognized ones
    m = next(p for p in track.meta["phones"] if p[0] == "M")
    first = seq.index(21)  # StyleTalk's M
    assert m[1] == pytest.approx(first / 30 - STYLETALK_LAG_S, abs=1e-3)


def test_given_phonemes_set_a_transcript_aside_and_say_when_they_miss_the_audio(engine, samples_dir):
    audio, seq = _labelled_clip(samples_dir)
    track = engine.run(audio, EngineOptions(transcript="something else", extra={"phonemes": seq[:60]}))
    assert track.meta["transcript_used"] is False
    assert track.meta["warnings"] == [
        "the phonemes cover 2.00 s of the 7.01 s audio",
        "phonemes were given; the transcript was ignored",
    ]
    assert all(p[0] == "SIL" for p in track.meta["phones"] if p[1] >= 2.0)


@pytest.mark.parametrize("phonemes", [[41], [-1], [[0, 1]], ["AA"], [0.5]])
def test_bad_phonemes_are_refused(engine, phonemes):
    with pytest.raises(InputError, match="phoneme"):
        engine.run(np.zeros(SAMPLE_RATE, np.float32), EngineOptions(extra={"phonemes": phonemes}))


def test_given_phonemes_keep_the_mouth_open_where_the_sound_fades(engine, gauge):
    from core.phonetics import styletalk_indices

    audio, phones = synthesize("pa", rate=100)  # a long AA, then the end of the clip
    vowel = next(p for p in phones if p.phone == "AA")
    faded = audio.copy()
    faded[round((vowel.start + 0.5 * (vowel.end - vowel.start)) * SAMPLE_RATE) :] *= 0.003  # -50 dB
    t = vowel.start + 0.8 * (vowel.end - vowel.start)  # silence to the voice gate, still AA to the labels
    assert analyse(faded).at("voice", np.array([t]))[0] < 0.5
    seq = styletalk_indices(phones, round(audio.size / SAMPLE_RATE * 30))
    track = engine.run(faded, EngineOptions(extra={"phonemes": seq.tolist()}))
    assert not gauge.closed(track)[round(t * track.fps)]
