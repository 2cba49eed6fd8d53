"""Image sources named by a string: `digits`, `idx:PATH`, `folder:PATH`, `tfds:NAME[:split]`.

Every source returns uint8 images (N, H, W, C) and integer labels or None. Conversion to [-1, 1] floats
happens on the device, inside the compiled step (uint8 keeps the device copy four times smaller).
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import glob
import gzip
import os
import struct
import threading

import numpy as np
from PIL import Image

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class DataError(GanjaxError, ValueError):
    """A data problem the user must fix; its message is one line."""


def load_digits():
    """scikit-learn's 1 797 real 8x8 handwritten digits (ships with the package; offline)."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    images = np.round(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int32)


def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read IDX file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: header says {shape}, found {body.size} values")
    return body.reshape(shape)


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
    return sorted(p for p in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                  if p.lower().endswith(IMAGE_EXTS) and os.path.isfile(p))


def load_folder(path: str, channels: int, image_size: int, resize: bool):
    """A folder (searched recursively) of images in any format Pillow reads; labels from sub-folder names."""
    path = os.path.expanduser(path)
    if not os.path.isdir(path):
        raise DataError(f"data path not found or not a folder: {path}")
    files = list_images(path)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTS)}) in {path}")
    mode = "L" if channels == 1 else "RGB"
    images, first = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert(mode)
                if resize:
                    im = center_square(im).resize((image_size, image_size), Image.BICUBIC)
                arr = np.asarray(im, dtype=np.uint8)
        except (OSError, Image.DecompressionBombError) as e:
            raise DataError(f"cannot read image {f}: {e}") from None
        if first is None:
            first = (f, arr.shape)
        elif arr.shape != first[1]:
            raise DataError(f"images of mixed sizes: {first[0]} is {first[1][1]}x{first[1][0]}, {f} is "
                            f"{arr.shape[1]}x{arr.shape[0]}; set --config.data.resize=true to resize all")
        images.append(arr.reshape(arr.shape[0], arr.shape[1], channels))
    subdirs = [os.path.relpath(os.path.dirname(f), path) for f in files]
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
    hint = (f"prepare it once where there is network (python -c \"import tensorflow_datasets as tfds; "
            f"tfds.builder('{name}').download_and_prepare()\") and point --config.data.tfds_dir at it")
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
