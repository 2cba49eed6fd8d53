"""Translating images of any size with a generator trained on `crop`-sized squares.

Modes:

* `auto` (default): `tile` for images whose longer side exceeds twice the crop size, `resize` for the
  others (a 32-px CycleGAN squeezes a 450-px photo into a blur; a 256-px one sees a 300-px photo whole).
* `resize`: the image is resized to crop_size x crop_size, translated, and resized back to its
  own size. Whole-image context at the training scale (training images are whole photos resized to
  load_size); fine detail of large images is lost, except in colorization runs (pix2pix with
  model.colorization), which keep the input's full-resolution luma and take only the chroma.
* `tile`: the image is covered with overlapping crop_size tiles (stride crop_size / 2, the image padded
  by mirroring), each tile is translated at full resolution, and the tiles are blended with a Hann
  window so that no seams show. Keeps the resolution; objects appear at the photo's own scale.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ganjax.errors import UsageError


MODES = ("auto", "resize", "tile")


AUTO_TILE_FACTOR = 2  # auto: tile when the longer side > this x crop_size


TILE_BATCH = 8


def _to_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 127.5 - 1.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def translate_resize(fn, image: np.ndarray, crop: int, recombine=None) -> np.ndarray:
    """Resize to crop², translate, resize back (bicubic both ways).

    `recombine(input, output)` (floats in [-1, 1], full size) may restore what the model only copies;
    a colorization run keeps the input's full-resolution luma and takes only the chroma from the model.
    """
    h, w, c = image.shape
    x = np.asarray(pil_image(image).resize((crop, crop), Image.BICUBIC)).reshape(1, crop, crop, c)
    y = _to_uint8(fn(_to_float(x)))[0]
    y = np.asarray(pil_image(y).resize((w, h), Image.BICUBIC)).reshape(h, w, c)
    if recombine is not None:
        y = _to_uint8(recombine(_to_float(image), _to_float(y)))
    return y


def _starts(length: int, crop: int, stride: int) -> list[int]:
    n = max(1, -(-(length - crop) // stride) + 1)
    return [min(i * stride, max(length - crop, 0)) for i in range(n)]


def translate_tile(fn, image: np.ndarray, crop: int, batch: int = TILE_BATCH) -> np.ndarray:
    """Overlapping crop² tiles (stride crop/2) translated and blended with a Hann window."""
    h, w, c = image.shape
    margin = crop // 4
    pad_h, pad_w = max(crop - h - 2 * margin, 0), max(crop - w - 2 * margin, 0)
    padded = np.pad(image, ((margin, margin + pad_h), (margin, margin + pad_w), (0, 0)), mode="symmetric")
    ph, pw = padded.shape[:2]
    stride = max(crop // 2, 1)
    boxes = [(y, x) for y in _starts(ph, crop, stride) for x in _starts(pw, crop, stride)]
    window = np.hanning(crop + 2)[1:-1]
    weight = (np.outer(window, window) + 1e-3)[..., None].astype(np.float32)
    acc = np.zeros((ph, pw, c), np.float32)
    norm = np.zeros((ph, pw, 1), np.float32)
    x = _to_float(padded)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        tiles = np.stack([x[y:y + crop, q:q + crop] for y, q in chunk])
        if len(chunk) < batch:  # one compiled shape
            tiles = np.concatenate([tiles, np.repeat(tiles[-1:], batch - len(chunk), 0)])
        out = np.asarray(fn(tiles), np.float32)
        for (y, q), t in zip(chunk, out):
            acc[y:y + crop, q:q + crop] += t * weight
            norm[y:y + crop, q:q + crop] += weight
    return _to_uint8((acc / norm)[margin:margin + h, margin:margin + w])


def pil_image(arr: np.ndarray) -> Image.Image:
    """A PIL image of a uint8 (H, W, C) array (C = 1: mode L)."""
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def choose_mode(mode: str, shape, crop: int) -> str:
    """`auto` → tile for images whose longer side exceeds AUTO_TILE_FACTOR x the crop, else resize."""
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "auto":
        return mode
    return "tile" if max(shape[:2]) > AUTO_TILE_FACTOR * crop else "resize"


def translate_image(fn, image: np.ndarray, crop: int, mode: str = "auto", recombine=None) -> np.ndarray:
    """Translate one uint8 (H, W, C) image of any size with `fn` (crop² float batches in [-1, 1] → the same)."""
    if choose_mode(mode, image.shape, crop) == "resize":
        return translate_resize(fn, image, crop, recombine)
    return translate_tile(fn, image, crop)
