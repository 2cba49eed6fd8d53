"""Image sources named by a string: `digits`, `idx:PATH`, `folder:PATH`, `tfds:NAME[:split]`.

Every source returns uint8 images (N, H, W, C) and integer labels or None. Conversion to [-1, 1] floats
happens on the device, inside the compiled step (uint8 keeps the device copy four times smaller).
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import glob
import gzip
import math
import os
import struct
import threading
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class DataError(GanjaxError, ValueError):
    """A data problem the user must fix; its message is one line."""


def load_digits():
    """scikit-learn's 1 797 real 8x8 handwritten digits (ships with the package; offline)."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    images = np.round(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int32)


IDX_TYPES = {0x08: np.uint8}  # the IDX type codes ganjax reads (MNIST's images and labels are unsigned bytes)
IDX_MAX_DIMS = 4


def _read_idx(path: str) -> np.ndarray:
    """An IDX array, its header checked against the file: magic number, a sane rank, and dimensions whose
    product is exactly the number of values the file holds. Every problem is a one-line DataError naming
    the file."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError; a corrupt body: zlib.error
        raise DataError(f"cannot read IDX file {path}: {e or type(e).__name__}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if not 1 <= ndim <= IDX_MAX_DIMS:
        raise DataError(f"{path}: IDX header says {ndim} dimensions; expected 1 to {IDX_MAX_DIMS}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than its {header}-byte IDX header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = math.prod(shape)  # Python ints: absurd dimensions cannot overflow
    if len(raw) - header != expected:
        what = "truncated" if len(raw) - header < expected else "longer than its header says"
        raise DataError(f"{path} is {what}: header says {shape}, found {len(raw) - header} values")
    return np.frombuffer(raw, dtype=IDX_TYPES[raw[2]], offset=header).reshape(shape)


def _find_idx(path: str, kind: str) -> str | None:
    pats = [f"train-{kind}-idx*", f"*{kind}-idx*", f"*{kind}*idx*"]
    for pat in pats:
        hits = sorted(glob.glob(os.path.join(path, pat)))
        if hits:
            return hits[0]
    return None


def load_idx(path: str):
    """MNIST-format IDX files: a folder holding `*images-idx3-ubyte[.gz]` (+ labels), or an images file."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        img_path = _find_idx(path, "images")
        if img_path is None:
            raise DataError(f"no '*images-idx3-ubyte[.gz]' file in {path}")
    elif os.path.isfile(path):
        img_path = path
    else:
        raise DataError(f"data path not found: {path}")
    images = _read_idx(img_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected an N x H x W image array, got shape {images.shape}")
    lbl_path = img_path.replace("images-idx3", "labels-idx1")
    labels = _read_idx(lbl_path).astype(np.int32) if lbl_path != img_path and os.path.exists(lbl_path) else None
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{lbl_path} holds {len(labels)} labels for {len(images)} images")
    return images[..., None], labels


def list_images(path: str) -> list[str]:
    """Image files under `path`, recursively, in sorted order. Symlinked folders are followed once: a
    folder whose real path was already visited (a link to itself or to a parent) is not entered again."""
    found, seen = [], set()
    for folder, subdirs, files in os.walk(path, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subdirs[:] = []
            continue
        seen.add(real)
        subdirs[:] = [d for d in subdirs if os.path.realpath(os.path.join(folder, d)) not in seen]
        found += [os.path.join(folder, f) for f in files
                  if f.lower().endswith(IMAGE_EXTS) and os.path.isfile(os.path.join(folder, f))]
    return sorted(found)


GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def to_8bit(im: Image.Image) -> Image.Image:
    """An 8-bit version of a 16-bit, 32-bit integer or float image, by the range its values are stored in
    (Pillow's own conversion clips them, so 16-bit images come out almost white and [0, 1] floats black):
    16-bit (I;16*) and integer (I) values in [0, 65535] are divided by 257; float (F) values in [0, 1]
    are multiplied by 255, values in [0, 255] kept, values in [0, 65535] divided by 257. Anything else
    (negative, larger, nan) is a ValueError naming the range. Other modes are returned as they are."""
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return im
    a = np.asarray(im).astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("float image with non-finite values")
    if im.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255.0
    elif im.mode == "F" and lo >= 0 and hi <= 255:
        pass
    elif lo >= 0 and hi <= 65535:
        a = a / 257.0
    else:
        raise ValueError(f"{'float' if im.mode == 'F' else '32-bit'} image with values in [{lo:g}, {hi:g}]; "
                         f"expected [0, 1], [0, 255] (float) or [0, 65535]")
    return Image.fromarray(np.round(a).clip(0, 255).astype(np.uint8), "L")


def has_colour(im: Image.Image, tolerance: int = 8) -> bool:
    """Whether an image holds colour (channels that differ by more than `tolerance` somewhere), not just
    gray pixels stored as RGB."""
    if im.mode in GRAY_MODES:
        return False
    a = np.asarray(im.convert("RGB"), dtype=np.int16)
    return bool(np.abs(a[..., 0] - a[..., 1]).max(initial=0) > tolerance
                or np.abs(a[..., 1] - a[..., 2]).max(initial=0) > tolerance)


READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def open_image(path, channels: int) -> tuple[Image.Image, bool]:
    """(image fully decoded, EXIF orientation applied, 16-bit / float converted by range (to_8bit), in
    mode RGB for channels=3 or L for channels=1; whether colour was lost to gray). Raises READ_ERRORS."""
    with Image.open(path) as im:
        im.load()
        im = to_8bit(ImageOps.exif_transpose(im))
    lost = channels == 1 and has_colour(im)
    return im.convert("RGB" if channels == 3 else "L"), lost


def warn_skipped(root, skipped: list, stacklevel: int = 3) -> None:
    """One warning: `ROOT: skipped N unreadable image file(s) (a.png, b.png, c.png, ...)`."""
    if skipped:
        shown = ", ".join(os.path.basename(str(s)) for s in skipped[:3])
        warnings.warn(f"{root}: skipped {len(skipped)} unreadable image file(s) ({shown}"
                      f"{', ...' if len(skipped) > 3 else ''})", stacklevel=stacklevel)


def warn_gray(root, n: int, key: str, stacklevel: int = 3) -> None:
    """One warning: `ROOT: N colour image(s) converted to gray for a 1-channel model (...)`."""
    if n:
        warnings.warn(f"{root}: {n} colour image(s) converted to gray for a 1-channel model "
                      f"(set {key}=3 to keep colour)", stacklevel=stacklevel)


def load_folder(path: str, channels: int, image_size: int, resize: bool):
    """A folder (searched recursively) of images in any format Pillow reads; labels from sub-folder names.
    Unreadable files are skipped with one warning (an error only when none is readable); colour images
    loaded for a 1-channel model are counted in another."""
    path = os.path.expanduser(path)
    if not os.path.isdir(path):
        raise DataError(f"data path not found or not a folder: {path}")
    files = list_images(path)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTS)}) in {path}")
    images, kept, skipped, grayed, first = [], [], [], 0, None
    for f in files:
        try:
            im, lost = open_image(f, channels)
            if resize:
                im = center_square(im).resize((image_size, image_size), Image.BICUBIC)
            arr = np.asarray(im, dtype=np.uint8)
        except READ_ERRORS:
            skipped.append(f)
            continue
        if first is None:
            first = (f, arr.shape)
        elif arr.shape != first[1]:
            raise DataError(f"images of mixed sizes: {first[0]} is {first[1][1]}x{first[1][0]}, {f} is "
                            f"{arr.shape[1]}x{arr.shape[0]}; set --config.data.resize=true to resize all")
        images.append(arr.reshape(arr.shape[0], arr.shape[1], channels))
        kept.append(f)
        grayed += lost
    if not images:
        raise DataError(f"none of the {len(files)} image file(s) in {path} could be read "
                        f"({', '.join(os.path.basename(f) for f in files[:3])}{', ...' if len(files) > 3 else ''})")
    warn_skipped(path, skipped)
    warn_gray(path, grayed, "model.channels")
    subdirs = [os.path.relpath(os.path.dirname(f), path) for f in kept]
    names = sorted(set(subdirs))
    labels = np.array([names.index(s) for s in subdirs], np.int32) if len(names) > 1 else None
    return np.stack(images), labels


def center_square(im: Image.Image) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    return im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def load_tfds(name: str, split: str, data_dir: str | None, timeout: float = 10.0):
    """A prepared tensorflow-datasets set, read through `tfds.data_source` (no TensorFlow needed).

    Never downloads: a set that is not prepared fails within `timeout` seconds with what to do.
    """
    result: dict = {}

    def work():
        try:
            import tensorflow_datasets as tfds

            src = tfds.data_source(name, split=split, data_dir=data_dir, download=False, try_gcs=False)
            items = [src[i] for i in range(len(src))]
            result["images"] = np.stack([np.asarray(it["image"]) for it in items])
            result["labels"] = (np.array([it["label"] for it in items], np.int32)
                                if "label" in items[0] else None)
        except BaseException as e:  # reported in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    hint = (f"prepare it once where there is network, with TensorFlow, in ArrayRecord format (python -c \"import "
            f"tensorflow_datasets as tfds; tfds.builder('{name}', data_dir='tfds_data', file_format='array_record')"
            f".download_and_prepare()\") and point --config.data.tfds_dir at that folder (docs/training.md)")
    if thread.is_alive():
        raise DataError(f"tfds:{name} did not load within {timeout:.0f} s (no network?); {hint}")
    if "error" in result:
        err = result["error"]
        if isinstance(err, ImportError):
            raise DataError("tfds sources need tensorflow-datasets: pip install 'ganjax[tfds]'")
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"tfds:{name}:{split} is not available offline ({first[:160]}); {hint}")
    images = result["images"]
    return (images if images.ndim == 4 else images[..., None]).astype(np.uint8), result["labels"]
