"""The ``voices`` development set: unseen synthetic voices, scripts and rooms, with exact phone times.

Eight voices from Debian's packages — festival (kal and ked diphones, the SLT HTS voice), flite
(awb, rms, slt, kal16) and espeak-ng — speak sentences written for this set (names, digits,
ordinals, times, money, abbreviations, acronyms, interjections, questions, long sentences) under
seven conditions: clean, fast, slow, room reverb, pink noise at 20 dB SNR, 8 kHz telephone band,
and 2 s of room tone before and after. Phone times come from each synthesizer's own segment output
(festival ``utt.save.segs``, flite ``-psdur``, espeak-ng phoneme events), moved with the audio by
each condition. ``python -m core.testing.voices DIR`` writes the WAVs and ``manifest.json`` there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio import SAMPLE_RATE, to_mono_16k, write_wav
from core.errors import MouthpieceError
from core.phonetics.segments import SIL, PhoneSegment, tile

VERSION = 1
SENTENCES: tuple[str, ...] = (
    "Amazing!",
    "Mom!",
    "Jump, Bob, jump!",
    "Oh no, not the bees!",
    "Really? Maybe next time.",
    "Call me at 555 0192 before noon.",
    "Her flight number is 2704, gate 31.",
    "The meeting moved to 9:15 on the 14th.",
    "We open at 10:30 a.m. and close at 6 p.m.",
    "Dr. Palmer was born in 1998, not 1989.",
    "Mr. Brown paid $5.50 for a map of Boston.",
    "The B-52 flew over the base at 3:45.",
    "Is the 3rd of March a Monday or a Tuesday?",
    "Pam bought 12 plums and 3 apples for $4.",
    "The FBI and NASA met on the 21st floor.",
    "Meet me on St. Paul Street at 7 p.m.",
    "Why did Barbara move to Memphis in 2012?",
    "My PIN is 0 4 7 1, please keep it safe.",
    "About 45% of the members voted by mail.",
    "Number 9 bus leaves from platform 2B.",
    "Could you pass the butter, please?",
    "Where is the museum of modern art?",
    "Maybe Ben will bring the bikes home by Monday.",
    "A big brown bear ambled past the empty cabin.",
    "The pilot spoke to the passengers about the bumpy weather over the mountains.",
    "Every morning my brother makes pancakes with maple syrup and blueberries for the whole family.",
    "Please remember to lock the back door, feed the cat, and water the plants.",
    "Patrick Miller met Emma Parker at the bookshop in Bristol.",
    "The 2nd and 3rd prizes went to Mike and Pablo.",
    "Hmm, I am not sure about that.",
    "Bravo! Well played!",
    "Stop!",
    "Happy birthday, Maria!",
    "Prof. Baker will speak at 8:05 in room 101.",
    "The population grew from 1,200 to 15,000 in a decade.",
    "Did Bill pay the 50 dollar bill or the 20?",
    "Please buy milk, bread, eggs, etc. at the market.",
    "On May 1st, 1945, the war in Europe was almost over.",
    "The temperature dropped to 2.5 degrees by midnight.",
    "Whoa, what a beautiful view of the bay!",
    "Bob, Pam and Max played ball by the pump.",
    "Mrs. Campbell moved to apartment 4B in 2009.",
)
"""Sentences written for this set; the engine was never tuned on them."""

CONDITIONS: tuple[str, ...] = ("clean", "fast", "slow", "reverb", "noise", "telephone", "padded")
SPEED = {"fast": 1.3, "slow": 0.75}
"""Speaking rate against normal, for the fast and slow conditions."""
PAD_S = 2.0
ROOM_TONE_DBFS = -60.0
NOISE_SNR_DB = 20.0
REVERB_RT60_S = 0.6
TELEPHONE_RATE = 8000
PER_PAIR = 6
"""Sentences per (voice, condition): 8 voices x 7 conditions x 6 = 336 clips."""


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str  # festival, flite, espeak
    id: str  # the engine's name for it


VOICES: tuple[Voice, ...] = (
    Voice("festival-kal", "festival", "kal_diphone"),
    Voice("festival-ked", "festival", "ked_diphone"),
    Voice("festival-slt-hts", "festival", "cmu_us_slt_arctic_hts"),
    Voice("flite-awb", "flite", "awb"),
    Voice("flite-rms", "flite", "rms"),
    Voice("flite-slt", "flite", "slt"),
    Voice("flite-kal16", "flite", "kal16"),
    Voice("espeak-en-us", "espeak", "en-us"),
)
NATIVE_STRETCH = frozenset({"kal_diphone", "ked_diphone", "awb", "rms", "slt", "kal16", "en-us"})
"""Voices whose synthesizer changes its own rate (exact timings); the others are time-stretched."""

# festival's and flite's phone set (radio/CMU) → ARPAbet; pauses and breaths are silence.
FESTIVAL_PHONES: dict[str, tuple[str, ...]] = {
    "ax": ("AH",), "axr": ("ER",), "el": ("AH", "L"), "em": ("AH", "M"), "en": ("AH", "N"),
    "dx": ("T",), "nx": ("N",), "hv": ("HH",), "pau": (SIL,), "h#": (SIL,), "brth": (SIL,), "ssil": (SIL,),
}  # fmt: skip


@dataclass(frozen=True)
class Clip:
    name: str
    voice: str
    condition: str
    text: str
    wav: str  # file name in the set's folder
    phones: tuple[PhoneSegment, ...]

    @property
    def sentence(self) -> int:
        return SENTENCES.index(self.text)


def plan() -> list[tuple[Voice, str, int]]:
    """(voice, condition, sentence index) of every clip: each pair gets PER_PAIR sentences in turn,
    so every sentence is heard in several voices and conditions."""
    out = []
    for v, voice in enumerate(VOICES):
        for c, condition in enumerate(CONDITIONS):
            j = v * len(CONDITIONS) + c
            out += [(voice, condition, (j * PER_PAIR + i) % len(SENTENCES)) for i in range(PER_PAIR)]
    return out


def to_arpabet(phone: str) -> list[str]:
    p = phone.strip().lower()
    return list(FESTIVAL_PHONES.get(p, (p.upper(),)))


def _segments(ends: list[tuple[str, float]]) -> list[PhoneSegment]:
    """(phone, end time) pairs in order → segments (a multi-phone unit splits its time equally)."""
    out: list[PhoneSegment] = []
    t = 0.0
    for name, end in ends:
        phones = to_arpabet(name)
        step = (end - t) / len(phones)
        out += [PhoneSegment(p, t + k * step, t + (k + 1) * step) for k, p in enumerate(phones)]
        t = end
    return out


def _run(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        raise MouthpieceError(f"{cmd[0]} is not installed; run `apt-get install festival flite festvox-kallpc16k "
                              "festvox-kdlpc16k festvox-us-slt-hts`")  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise MouthpieceError(f"{cmd[0]} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def synth_festival(voice: str, texts: Sequence[str], stretch: float, work: Path) -> list[tuple[np.ndarray, list]]:
    """One festival process for all texts: (16 kHz audio, segments) each."""
    lines = [f"(voice_{voice})", f"(Parameter.set 'Duration_Stretch {stretch})"]
    for i, text in enumerate(texts):
        lines += [
            f"(set! utt (SynthText {_scheme_string(text)}))",
            f'(utt.save.wave utt "{work / f"f{i}.wav"}" \'riff)',
            f'(utt.save.segs utt "{work / f"f{i}.segs"}")',
        ]
    script = work / "synth.scm"
    script.write_text("\n".join(lines) + "\n")
    _run(["festival", "-b", str(script)])
    out = []
    for i in range(len(texts)):
        audio, rate = sf.read(work / f"f{i}.wav", dtype="float32")
        rows = [ln.split() for ln in (work / f"f{i}.segs").read_text().split("#", 1)[1].splitlines()]
        ends = [(r[2], float(r[0])) for r in rows if len(r) == 3]
        out.append((to_mono_16k(audio, rate), _segments(ends)))
    return out


def synth_flite(voice: str, text: str, stretch: float, work: Path) -> tuple[np.ndarray, list]:
    wav = work / "flite.wav"
    cmd = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-psdur", "-t", text, "-o", str(wav)]
    ends = [(name, float(end)) for name, end in (tok.rsplit(":", 1) for tok in _run(cmd).split())]
    audio, rate = sf.read(wav, dtype="float32")
    return to_mono_16k(audio, rate), _segments(ends)


def synth_espeak(text: str, stretch: float) -> tuple[np.ndarray, list]:
    from core.testing.espeak import synthesize

    audio, phones = synthesize(text, rate=round(160 / stretch))
    return audio, list(phones)


def time_stretch(audio: np.ndarray, phones: list[PhoneSegment], speed: float, work: Path) -> tuple[np.ndarray, list]:
    """sox ``tempo`` (pitch kept) for a synthesizer that cannot change its own rate; times scale by 1/speed."""
    src, dst = work / "in.wav", work / "out.wav"
    write_wav(src, audio)
    _run(["sox", str(src), str(dst), "tempo", "-s", str(speed)])
    out, rate = sf.read(dst, dtype="float32")
    return to_mono_16k(out, rate), [PhoneSegment(p.phone, p.start / speed, p.end / speed) for p in phones]


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS 1/f noise (white noise shaped in the frequency domain)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def speech_rms(audio: np.ndarray) -> float:
    """RMS over the active 20 ms frames (within 30 dB of the loudest)."""
    n = len(audio) // 320
    frames = audio[: n * 320].reshape(n, 320).astype(np.float64)
    power = (frames**2).mean(axis=1)
    active = power > power.max() * 1e-3
    return float(np.sqrt(power[active].mean())) if active.any() else 0.0


def reverb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A room: direct sound plus exponentially decaying diffuse reflections (RT60 0.6 s) from 5 ms on;
    the tail rings on past the speech."""
    from scipy.signal import fftconvolve

    n = int(REVERB_RT60_S * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    rir = rng.standard_normal(n) * 10.0 ** (-3.0 * t / REVERB_RT60_S) * (t > 0.005)
    rir *= 0.7 / np.sqrt(np.sum(rir**2))  # reverberant energy about 3 dB under the direct sound
    rir[0] = 1.0
    wet = fftconvolve(audio, rir)[: len(audio) + n // 2]
    return (wet * (speech_rms(audio) / max(speech_rms(wet), 1e-9))).astype(np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """300–3400 Hz band at 8 kHz (the clip is stored at 8 kHz, as a phone recording would be)."""
    from scipy.signal import butter, resample_poly, sosfilt

    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return resample_poly(sosfilt(sos, audio), 1, SAMPLE_RATE // TELEPHONE_RATE).astype(np.float32)


def apply(
    condition: str, audio: np.ndarray, phones: list[PhoneSegment], rng: np.random.Generator
) -> tuple[np.ndarray, int, list[PhoneSegment]]:
    """A condition's audio (and its rate) and phones; fast and slow are made at synthesis."""
    if condition == "reverb":
        audio = reverb(audio, rng)
    elif condition == "noise":
        audio = audio + pink_noise(len(audio), rng) * speech_rms(audio) * 10.0 ** (-NOISE_SNR_DB / 20.0)
    elif condition == "telephone":
        return telephone(audio), TELEPHONE_RATE, phones
    elif condition == "padded":
        pad = round(PAD_S * SAMPLE_RATE)
        tone = pink_noise(len(audio) + 2 * pad, rng) * 10.0 ** (ROOM_TONE_DBFS / 20.0)
        tone[pad : pad + len(audio)] += audio
        audio = tone
        phones = [PhoneSegment(p.phone, p.start + PAD_S, p.end + PAD_S) for p in phones]
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    return audio.astype(np.float32), SAMPLE_RATE, phones


def generate(folder: Path, progress: Callable[[str], None] = print) -> list[Clip]:
    """Write every clip of the set into ``folder`` (reusing a complete set already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        ready = load(folder)
        if ready and all((folder / c.wav).is_file() for c in ready):
            return ready
    todo = plan()
    clips: list[Clip] = []
    with tempfile.TemporaryDirectory(prefix="mouthpiece-voices-") as tmp:
        work = Path(tmp)
        for voice in VOICES:
            progress(f"synthesizing {voice.name}")
            mine = [(c, s) for v, c, s in todo if v == voice]
            for speed_name in ("normal", "fast", "slow"):
                wanted = [(c, s) for c, s in mine if SPEED.get(c) is None] if speed_name == "normal" else [
                    (c, s) for c, s in mine if c == speed_name
                ]  # fmt: skip
                speed = SPEED.get(speed_name, 1.0)
                native = voice.id in NATIVE_STRETCH
                stretch = 1.0 / speed if native else 1.0
                texts = [SENTENCES[s] for _, s in wanted]
                spoken = _synthesize(voice, texts, stretch, work)
                for (condition, s), (audio, phones) in zip(wanted, spoken, strict=True):
                    if not native and speed != 1.0:
                        audio, phones = time_stretch(audio, phones, speed, work)
                    rng = np.random.default_rng([VERSION, VOICES.index(voice), CONDITIONS.index(condition), s])
                    out, rate, moved = apply(condition, audio, phones, rng)
                    name = f"{voice.name}_{condition}_s{s:02d}"
                    write_wav(folder / f"{name}.wav", out, rate)
                    segments = tuple(tile(moved, len(out) / rate))
                    clips.append(Clip(name, voice.name, condition, SENTENCES[s], f"{name}.wav", segments))
    rows = [
        {**{k: getattr(c, k) for k in ("name", "voice", "condition", "text", "wav")},
         "phones": [[p.phone, round(p.start, 4), round(p.end, 4)] for p in c.phones]}
        for c in clips
    ]  # fmt: skip
    manifest.write_text(json.dumps({"version": VERSION, "clips": rows}))
    return clips


def _synthesize(voice: Voice, texts: list[str], stretch: float, work: Path) -> list[tuple[np.ndarray, list]]:
    if not texts:
        return []
    if voice.engine == "festival":
        return synth_festival(voice.id, texts, stretch, work)
    if voice.engine == "flite":
        return [synth_flite(voice.id, t, stretch, work) for t in texts]
    return [synth_espeak(t, stretch) for t in texts]


def load(folder: Path) -> list[Clip]:
    """The clips listed in a generated set's manifest ([] if it is from another version)."""
    data = json.loads((folder / "manifest.json").read_text())
    if data.get("version") != VERSION:
        return []
    return [
        Clip(r["name"], r["voice"], r["condition"], r["text"], r["wav"],
             tuple(PhoneSegment(p, s, e) for p, s, e in r["phones"]))
        for r in data["clips"]
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.testing.voices", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where the WAVs and manifest.json go")
    args = parser.parse_args(argv)
    clips = generate(args.folder)
    seconds = sum(c.phones[-1].end for c in clips)
    print(f"{len(clips)} clips, {seconds / 60:.1f} minutes of audio in {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
