"""`ganjax translate RUN --input FILE|DIR --output DIR`: a trained CycleGAN / pix2pix run on images of any size.

Modes (the generator is trained on `data.crop_size` squares):

* `auto` (default): `tile` for images whose longer side exceeds twice the crop size, `resize` for the
  others (a 32-px CycleGAN squeezes a 450-px photo into a blur; a 256-px one sees a 300-px photo whole);
  the counts of each are printed.
* `resize`: the image is resized to crop_size x crop_size, translated, and resized back to its
  own size. Whole-image context at the training scale (training images are whole photos resized to
  load_size); fine detail of large images is lost, except in colorization runs (pix2pix with
  model.colorization), which keep the input's full-resolution luma and take only the chroma.
* `tile`: the image is covered with overlapping crop_size tiles (stride crop_size / 2, the image padded
  by mirroring), each tile is translated at full resolution, and the tiles are blended with a Hann
  window so that no seams show. Keeps the resolution; objects appear at the photo's own scale.

Every input gets one PNG of its own size, `OUTPUT/<name>.png` (`--side-by-side`: input | output).
Existing files are never overwritten without `--overwrite`, and this is checked before anything is
written. Grayscale and RGB inputs are converted to the run's channel count; EXIF orientation is applied.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from ganjax.data.translation import IMG_EXTENSIONS, decode_image
from ganjax.errors import UsageError

MODES = ("auto", "resize", "tile")
AUTO_TILE_FACTOR = 2  # auto: tile when the longer side > this x crop_size
TILE_BATCH = 8


def input_files(path: str) -> list[Path]:
    """The image file `path`, or the image files (by extension) directly inside the folder `path`."""
    p = Path(os.path.expanduser(path))
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise UsageError(f"--input {path} does not exist")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMG_EXTENSIONS
                   and not f.name.startswith("."))
    if not files:
        raise UsageError(f"--input {path} holds no image files ({', '.join(IMG_EXTENSIONS)})")
    return files


def output_paths(files: list[Path], output: str, overwrite: bool) -> list[Path]:
    """OUTPUT/<stem>.png per input (<stem>_<ext>.png where stems collide); refuses existing files."""
    out = Path(os.path.expanduser(output))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder")
    stems = [f.stem for f in files]
    paths = [out / (f"{f.stem}_{f.suffix.lstrip('.').lower()}.png" if stems.count(f.stem) > 1 else f"{f.stem}.png")
             for f in files]
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise FileExistsError(f"{taken[0]} exists{more}; use --overwrite or another --output")
    return paths


def read_image(path: Path, channels: int) -> np.ndarray | None:
    """uint8 (H, W, channels), or None when the file cannot be decoded."""
    im = decode_image(path, channels)
    if im is None:
        return None
    arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def _pil(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


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
    x = np.asarray(_pil(image).resize((crop, crop), Image.BICUBIC)).reshape(1, crop, crop, c)
    y = _to_uint8(fn(_to_float(x)))[0]
    y = np.asarray(_pil(y).resize((w, h), Image.BICUBIC)).reshape(h, w, c)
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


def translate_run(run: str, input: str, output: str, direction: str = "AtoB", mode: str = "auto",
                  side_by_side: bool = False, step: int | None = None, overwrite: bool = False) -> list[str]:
    """Translate `input` (a file or folder) with the run's generator; returns the written paths."""
    from ganjax.recipes import TRANSLATION
    from ganjax.runs import load_run
    from ganjax.train.workdir import load_config

    cfg = load_config(run)
    if cfg.experiment not in TRANSLATION:
        raise UsageError(f"{run} is a {cfg.experiment} run; translate needs a cyclegan or pix2pix run")
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if direction not in ("AtoB", "BtoA") or (direction == "BtoA" and cfg.experiment == "pix2pix"):
        raise UsageError(f"--direction {direction} is not available for a {cfg.experiment} run "
                         f"(cyclegan: AtoB or BtoA; pix2pix: AtoB)")
    files = input_files(input)
    targets = output_paths(files, output, overwrite)
    _, recipe, state = load_run(run, step)
    translate = jax.jit(recipe.translator(direction))
    fn = lambda x: translate(state, x)
    written, skipped, used = [], [], {"resize": 0, "tile": 0}
    for src, dst in zip(files, targets):
        image = read_image(src, recipe.channels)
        if image is None:
            skipped.append(src.name)
            continue
        how = mode if mode != "auto" else (
            "tile" if max(image.shape[:2]) > AUTO_TILE_FACTOR * recipe.crop else "resize")
        used[how] += 1
        if how == "resize":
            out = translate_resize(fn, image, recipe.crop, recipe.recombine)
        else:
            out = translate_tile(fn, image, recipe.crop)
        if side_by_side:
            out = np.concatenate([image, out], axis=1)
        os.makedirs(os.path.expanduser(output), exist_ok=True)  # only once something is to be written
        tmp = dst.with_name(dst.name + ".tmp.png")
        _pil(out).save(tmp)
        os.replace(tmp, dst)
        written.append(str(dst))
    if skipped:
        print(f"ganjax: warning: skipped {len(skipped)} unreadable file(s): {', '.join(skipped[:3])}"
              f"{', ...' if len(skipped) > 3 else ''}", file=sys.stderr)
    if not written:
        raise UsageError(f"none of the {len(files)} input file(s) could be read as an image")
    if mode == "auto":
        print(f"auto mode: tiled {used['tile']} image(s) longer than {AUTO_TILE_FACTOR}x the {recipe.crop}-px "
              f"training crop, resized {used['resize']} (--mode tile|resize to choose)")
    return written
