"""The source portrait: any image FFmpeg (PyAV) decodes → centre square crop → size×size RGB.

The renderer was trained on 256×256 face crops aligned like Deep3DFaceRecon's; a portrait framed the same
way (face centred, filling about half the frame) works best. Transparent pixels are composited on white.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np

from core.errors import InputError, UnsupportedMediaError


def _decode(source: str | Path | bytes, name: str) -> av.VideoFrame:
    target: str | io.BytesIO = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with av.open(target, mode="r") as container:
            if not container.streams.video:
                raise UnsupportedMediaError(f"{name}: not an image (no picture in the file)")
            for frame in container.decode(video=0):
                return frame
    except FileNotFoundError:
        raise InputError(f"portrait image not found: {name}") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise UnsupportedMediaError(f"{name}: cannot read the image ({why}); use a PNG or JPEG file") from None
    raise UnsupportedMediaError(f"{name}: the file holds no decodable picture")


def _to_rgb(frame: av.VideoFrame, name: str) -> np.ndarray:
    fmt = frame.format
    colour = [c for c in fmt.components if not c.is_alpha]
    if not fmt.has_palette and len(colour) < 3:
        raise InputError(f"{name}: the portrait is greyscale; the renderer needs a colour (RGB) image")
    if fmt.has_palette or any(c.is_alpha for c in fmt.components):
        rgba = frame.to_ndarray(format="rgba").astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return frame.to_ndarray(format="rgb24")


def center_square(rgb: np.ndarray) -> np.ndarray:
    """The largest centred square of an (H, W, 3) image."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return rgb[top : top + side, left : left + side]


def load_portrait(
    source: str | Path | bytes | np.ndarray,
    size: int = 256,
    min_side: int | None = None,
    name: str | None = None,
) -> np.ndarray:
    """(size, size, 3) uint8 RGB from an image file, its bytes, or an (H, W, 3) uint8 array.

    The image is centre-cropped to a square and resized (area filter when shrinking, bicubic when
    growing). A shorter side below ``min_side`` (default ``size // 2``) is refused as too small.
    """
    label = name or (str(source) if isinstance(source, str | Path) else "portrait")
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise InputError(f"{label}: expected an (H, W, 3) uint8 RGB array, got {source.dtype} {source.shape}")
        rgb = source
    else:
        rgb = _to_rgb(_decode(source, label), label)
    h, w = rgb.shape[:2]
    need = size // 2 if min_side is None else min_side
    if min(h, w) < need:
        raise InputError(
            f"{label}: the portrait is {w}×{h}; it needs at least {need} px on its shorter side "
            f"(it is centre-cropped to a square and resized to {size}×{size})"
        )
    square = np.ascontiguousarray(center_square(rgb))
    if square.shape[0] == size:
        return square
    frame = av.VideoFrame.from_ndarray(square, format="rgb24")
    method = "AREA" if square.shape[0] > size else "BICUBIC"
    return frame.reformat(width=size, height=size, interpolation=method).to_ndarray(format="rgb24")


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (1, 3, H, W) float32 in [-1, 1] (ToTensor then Normalize(0.5, 0.5))."""
    return (rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0 - 0.5) / 0.5
