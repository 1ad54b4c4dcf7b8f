"""`mouthpiece bench closures`: train and measure the bilabial-closure classifier
(:mod:`core.engines.builtin.closures`) on the voices set.

Every closure candidate of every clip is labelled by the synthesizer's phones (a p/b/m within
LABEL_TOLERANCE_S of its deepest point); the classifier is fitted (L2-regularised logistic regression)
on the clips of even-numbered sentences and measured on those of odd-numbered ones: precision and
recall per condition at the engine's threshold. ``--write`` saves the fitted weights as the engine's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.engines.builtin import closures as cl
from core.engines.builtin.visemes import BILABIALS

LABEL_TOLERANCE_S = 0.02
REGULARISATION = 10.0


def clip_examples(folder: Path, clip) -> tuple[np.ndarray, np.ndarray, float]:
    """(features, is-bilabial, the engine's threshold for the room) of one clip's closure candidates,
    found as the engine finds them."""
    from core.audio import load_audio
    from core.engines.builtin.engine import WINDOW_CENTRE, second_opinions
    from core.engines.builtin.prosody import analyse
    from core.phonetics import recognize_phones

    audio = load_audio(folder / clip.wav)
    prosody = analyse(audio)
    closures = cl.find_closures(prosody)
    if not closures or not prosody.has_speech:
        return np.zeros((0, cl.FEATURES)), np.zeros(0, bool), cl.threshold(prosody.rt60)
    word = recognize_phones(audio)
    _, loop = second_opinions(audio, word, prosody.rt60)
    x = cl.features(prosody, closures, word, loop, WINDOW_CENTRE)
    y = np.array(
        [
            any(
                p.phone in BILABIALS and p.end > c.time - LABEL_TOLERANCE_S and p.start < c.time + LABEL_TOLERANCE_S
                for p in clip.phones
            )
            for c in closures
        ]
    )
    return x, y, cl.threshold(prosody.rt60)


def fit(x: np.ndarray, y: np.ndarray, regularisation: float = REGULARISATION) -> cl.Classifier:
    """L2-regularised logistic regression on standardised features (the bias is not regularised)."""
    from scipy.optimize import minimize

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    target = y.astype(float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logit = z @ w[:-1] + w[-1]
        p = 1.0 / (1.0 + np.exp(-logit))
        value = np.sum(np.logaddexp(0.0, logit) - target * logit) + 0.5 * regularisation * w[:-1] @ w[:-1]
        grad = np.concatenate([z.T @ (p - target) + regularisation * w[:-1], [np.sum(p - target)]])
        return float(value), grad

    w = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return cl.Classifier(w[:-1], float(w[-1]), mean, scale)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.lipsync import VOICES_DIR
    from core.atomic import replacing
    from core.testing.voices import CONDITIONS, generate

    parser = argparse.ArgumentParser(prog="mouthpiece bench closures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices-dir", type=Path, default=VOICES_DIR, help="where the voices set is (made if absent)")
    parser.add_argument("--write", action="store_true", help=f"save the fitted weights to {cl.WEIGHTS}")
    args = parser.parse_args(argv)
    clips = generate(args.voices_dir, progress=lambda line: print(line, file=sys.stderr))
    examples = []
    for k, clip in enumerate(clips):
        examples.append((clip, *clip_examples(args.voices_dir, clip)))
        print(f"\r{k + 1}/{len(clips)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def stack(rows):
        """(features, is-bilabial, threshold per candidate) of some clips."""
        x = np.concatenate([e[1] for e in rows])
        y = np.concatenate([e[2] for e in rows])
        return x, y, np.concatenate([np.full(len(e[2]), e[3]) for e in rows])

    model = fit(*stack([e for e in examples if e[0].sentence % 2 == 0])[:2])
    print(f"closure candidates: {sum(len(e[2]) for e in examples)}, bilabial {sum(e[2].sum() for e in examples)}")
    print("\nheld-out half (odd sentences), at the engine's threshold for each clip's room")
    print(f"{'condition':<12}{'candidates':>12}{'precision':>11}{'recall':>9}")
    for name in (*CONDITIONS, "all"):
        rows = [e for e in examples if e[0].sentence % 2 == 1 and name in (e[0].condition, "all")]
        if not rows:
            continue
        x, y, least = stack(rows)
        said = model.probability(x) >= least
        precision = (said & y).sum() / max(said.sum(), 1)
        print(f"{name:<12}{len(y):>12}{precision:>11.3f}{(said & y).sum() / max(y.sum(), 1):>9.3f}")
    if args.write:
        with replacing(cl.WEIGHTS) as tmp:
            tmp.write_text(json.dumps(model.to_json()) + "\n")
        print(f"\nwrote {cl.WEIGHTS}")
    return 0
