"""Built-in offline translation tasks with a known answer, cut from shipped photos.

Sources are the colour photos that ship inside installed packages (no
network): scikit-image's ``astronaut``, ``chelsea``, ``coffee`` and ``rocket``
and scikit-learn's ``china`` and ``flower`` sample images. A source that fails
to load offline is skipped; the ones used are listed in ``SOURCES``' order.

Crops are square windows of ``size``, ``1.5 * size`` and ``2 * size`` pixels on
a grid with half-window stride, resized (bicubic, antialiased) to ``size``.
Every photo is cut into vertical bands so that held-out crops never share a
pixel with training crops: the right-most quarter of each photo is the test
band, the rest the training band. Everything is deterministic.

Tasks (all arrays uint8 RGB, ``(N, size, size, 3)``):

* ``colorize`` (paired): A is the grayscale crop (ITU-R 601 luma, replicated
  to 3 channels), B the colour crop.
* ``tone`` (unpaired): A is a photo crop, B a crop under :func:`tone_transform`
  (a fixed sepia-like channel mix, then gamma 0.8). ``test_b`` holds the transformed test crops in
  a fixed shuffled order; ``test_b_truth[i] = tone_transform(test_a[i])``.
  The training band is tiled in squares of ``TILE`` pixels (or the largest window) like a
  checkerboard: train A is cut from the dark squares, train B from the light
  ones, so no training pixel appears in both domains and both domains hold the
  same kind of content. (Halves of the band, A from the left and B from the
  right, give domains whose toned brightness differs: median 90 against 105
  levels at size 32; a GAN that matches B's distribution then learns the wrong
  tone curve.)

For both tasks ``test_b_truth[i]`` is the true B image of ``test_a[i]``, so
PSNR/SSIM against ground truth can be measured. Use ``crop_size = size`` (flip
only) or slightly smaller with :func:`ganjax.data.translation.random_crop_flip`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

from ganjax.data.translation import TranslationData

BUILTIN_TASKS = ("colorize", "tone")
SCALES = (1.0, 1.5, 2.0)
TEST_FRACTION = 0.25

_SEPIA = np.array([[0.393, 0.769, 0.189],
                   [0.349, 0.686, 0.168],
                   [0.272, 0.534, 0.131]])
TONE_MATRIX = _SEPIA / _SEPIA.sum(axis=1).max()  # the classic sepia, scaled so no row sum exceeds 1
TONE_GAMMA = 0.8
TILE = 128  # tone's checkerboard squares, in pixels (at least the largest window, 2 * size)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data
        return getattr(skimage.data, name)()
    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image
        return load_sample_image(filename)
    return load


SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}


def source_images() -> dict[str, np.ndarray]:
    """The source photos that load offline here, as uint8 RGB arrays."""
    out = {}
    for name, load in SOURCES.items():
        try:
            img = np.asarray(load())
        except Exception:  # noqa: BLE001 - any failure means "not available offline"
            continue
        if img.ndim == 3 and img.shape[2] >= 3:
            out[name] = np.ascontiguousarray(img[..., :3], dtype=np.uint8)
    if not out:
        raise RuntimeError("no built-in source image could be loaded offline")
    return out


def tone_transform(images: np.ndarray, gamma: float = TONE_GAMMA) -> np.ndarray:
    """The ``tone`` task's ground-truth map on uint8 RGB arrays ``(..., 3)`` (another ``gamma``: the same
    sepia under another curve, for analysis).

    ``round(255 * clip(x @ TONE_MATRIX.T, 0, 1) ** gamma)`` with ``x = images / 255``;
    TONE_MATRIX is the classic sepia matrix scaled so no row sum exceeds 1. (An earlier half-sepia tone was
    so mild that doing nothing scored SSIM 0.870 against its truth: a weak test of transfer.)
    """
    x = np.asarray(images, dtype=np.float64) / 255.0
    y = np.clip(x @ TONE_MATRIX.T, 0.0, 1.0) ** gamma
    return np.round(y * 255.0).astype(np.uint8)


def to_gray3(images: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of uint8 RGB arrays, replicated to 3 channels (uint8)."""
    luma = np.asarray(images, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    gray = np.round(luma).clip(0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def _crops(name: str, img: np.ndarray, box: tuple[int, int, int, int], size: int):
    """All grid crops whose windows lie in ``box = (x_lo, y_lo, x_hi, y_hi)``: (uint8 array list, names)."""
    pil = Image.fromarray(img)
    x_lo, y_lo, x_hi, y_hi = box
    arrays, names = [], []
    for scale in SCALES:
        win = int(round(size * scale))
        stride = max(win // 2, 1)
        for y0 in range(y_lo, y_hi - win + 1, stride):
            for x0 in range(x_lo, x_hi - win + 1, stride):
                window = (x0, y0, x0 + win, y0 + win)
                arrays.append(np.asarray(pil.resize((size, size), Image.BICUBIC, box=window)))
                names.append(f"{name}:x{x0},y{y0},w{win}")
    return arrays, names


def _stack(arrays, names, size):
    if not arrays:
        raise ValueError(f"size {size} is too large for the built-in source photos")
    return np.stack(arrays), tuple(names)


def _band_crops(sources: dict[str, np.ndarray], size: int, lo: float, hi: float):
    """Crops from the column band ``[lo, hi)`` (fractions of width) of every source."""
    arrays, names = [], []
    for name, img in sources.items():
        height, width = img.shape[:2]
        a, n = _crops(name, img, (int(lo * width), 0, int(hi * width), height), size)
        arrays += a
        names += n
    return _stack(arrays, names, size)


def _checkerboard_crops(sources: dict[str, np.ndarray], size: int, hi: float, parity: int):
    """Crops from the squares of one colour (``parity`` 0 or 1) of a checkerboard over columns ``[0, hi)``."""
    tile = max(TILE, int(round(max(SCALES) * size)))
    arrays, names = [], []
    for name, img in sources.items():
        height, x_end = img.shape[0], int(hi * img.shape[1])
        for i, y in enumerate(range(0, height, tile)):
            for j, x in enumerate(range(0, x_end, tile)):
                if (i + j) % 2 == parity:
                    a, n = _crops(name, img, (x, y, min(x + tile, x_end), min(y + tile, height)), size)
                    arrays += a
                    names += n
    return _stack(arrays, names, size)


def load_builtin(name: str, size: int = 64) -> TranslationData:
    """Build the built-in task ``name`` (``"colorize"`` or ``"tone"``) at ``size`` pixels."""
    if name not in BUILTIN_TASKS:
        raise ValueError(f"unknown built-in task {name!r}; expected one of {BUILTIN_TASKS}")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    sources = source_images()
    split = 1.0 - TEST_FRACTION
    test, test_names = _band_crops(sources, size, split, 1.0)
    if name == "colorize":
        train, train_names = _band_crops(sources, size, 0.0, split)
        test_b = test
        return TranslationData(to_gray3(train), train, to_gray3(test), test_b, paired=True,
                               names_train_a=train_names, names_train_b=train_names,
                               names_test_a=test_names, names_test_b=test_names,
                               test_b_truth=test_b)
    train_a, names_a = _checkerboard_crops(sources, size, split, 0)
    train_b, names_b = _checkerboard_crops(sources, size, split, 1)
    truth = tone_transform(test)
    order = np.random.RandomState(0).permutation(len(test))
    return TranslationData(train_a, tone_transform(train_b), test, truth[order], paired=False,
                           names_train_a=names_a, names_train_b=names_b,
                           names_test_a=test_names,
                           names_test_b=tuple(test_names[i] for i in order),
                           test_b_truth=truth)
