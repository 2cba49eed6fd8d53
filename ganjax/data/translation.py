"""Image-to-image translation data: CycleGAN (unpaired) and pix2pix (paired) folders.

Layouts (the PyTorch reference's, junyanz/pytorch-CycleGAN-and-pix2pix):

* unpaired: ``ROOT/trainA ROOT/trainB ROOT/testA ROOT/testB``;
* paired, aligned: ``ROOT/train`` and ``ROOT/test`` (or ``ROOT/val``) hold
  side-by-side AB images, A on the left half, B on the right;
* paired, split: ``ROOT/A/{train,test}`` and ``ROOT/B/{train,test}``, pairs
  matched by file name without extension.

Images are decoded with Pillow (any format it reads; its decompression-bomb
limit is left at the default), converted to RGB or L by ``channels`` (so
grayscale files mixed with RGB ones become RGB, and RGB ones become L when
``channels=1``; alpha is dropped), resized to ``load_size`` x ``load_size``
with bicubic filtering, and kept as uint8 arrays ``(N, load, load, C)`` meant
to live on the device. Random crop and flip happen inside the compiled step
with :func:`random_crop_flip` / :func:`random_crop_flip_pair`, which return
float32 in [-1, 1]. Unreadable or truncated files are skipped with one
warning and listed in ``TranslationData.skipped``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from ganjax.data.sources import READ_ERRORS, open_image, warn_gray, warn_skipped

Array = jax.Array

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp",
                  ".tif", ".tiff", ".webp", ".gif")
UNPAIRED_DIRS = ("trainA", "trainB", "testA", "testB")
_DECODE_ERRORS = READ_ERRORS


@dataclass(frozen=True, eq=False)
class TranslationData:
    """Two image domains as uint8 arrays ``(N, H, W, C)``.

    ``paired`` means ``train_a[i]`` belongs with ``train_b[i]`` (and likewise for
    test). ``test_b_truth``, set by the built-in unpaired tasks, holds the true
    B-domain image of each ``test_a`` for PSNR/SSIM against ground truth.
    ``skipped`` lists files that could not be decoded.
    """

    train_a: np.ndarray
    train_b: np.ndarray
    test_a: np.ndarray
    test_b: np.ndarray
    paired: bool
    names_train_a: tuple[str, ...] = ()
    names_train_b: tuple[str, ...] = ()
    names_test_a: tuple[str, ...] = ()
    names_test_b: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    test_b_truth: np.ndarray | None = None


def _image_files(folder: Path) -> list[Path]:
    """Sorted image files (by extension) directly inside ``folder``."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise ValueError(f"{folder} has no image files (extensions {', '.join(IMG_EXTENSIONS)})")
    return files


def decode_image(path: Path, channels: int, grayed: list | None = None) -> Image.Image | None:
    """Fully decoded image, EXIF orientation applied, 16-bit and float images converted by their range
    (ganjax.data.sources.to_8bit), in mode RGB (channels=3) or L (channels=1); None if unreadable.
    Training, evaluation and `ganjax translate` all read images through this. A colour image read for
    channels=1 is appended to `grayed` (when given)."""
    try:
        im, lost = open_image(path, channels)
    except _DECODE_ERRORS:
        return None
    if lost and grayed is not None:
        grayed.append(str(path))
    return im


def _to_array(im: Image.Image, size: int, channels: int) -> np.ndarray:
    arr = np.asarray(im.resize((size, size), Image.BICUBIC), dtype=np.uint8)
    return arr.reshape(size, size, channels)


def _stack(arrays: list[np.ndarray], what: str) -> np.ndarray:
    if not arrays:
        raise ValueError(f"{what}: none of the image files could be read")
    return np.stack(arrays)


def _load_files(files: list[Path], channels: int, size: int, what: str, grayed: list):
    """(uint8 array, names, skipped paths) for every readable file of ``files``."""
    arrays, names, skipped = [], [], []
    for path in files:
        im = decode_image(path, channels, grayed)
        if im is None:
            skipped.append(str(path))
            continue
        arrays.append(_to_array(im, size, channels))
        names.append(path.name)
    return _stack(arrays, what), tuple(names), skipped


def _warn_skipped(root: Path, skipped: list[str], grayed: list) -> None:
    warn_skipped(root, skipped, stacklevel=4)
    warn_gray(root, len(grayed), "data.channels", stacklevel=4)


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")


def load_unpaired(root: str | Path, channels: int = 3, load_size: int = 286,
                  max_images: int | None = None) -> TranslationData:
    """Load the CycleGAN layout ``ROOT/{trainA,trainB,testA,testB}``.

    ``max_images`` caps the files read per folder (in sorted order).
    """
    _check_channels(channels)
    root = Path(root)
    missing = [d for d in UNPAIRED_DIRS if not (root / d).is_dir()]
    if missing:
        raise ValueError(f"{root}: missing folder(s) {', '.join(missing)}; expected the unpaired "
                         f"layout ROOT/trainA ROOT/trainB ROOT/testA ROOT/testB")
    files = {d: _image_files(root / d)[:max_images] for d in UNPAIRED_DIRS}
    arrays, names, skipped, grayed = {}, {}, [], []
    for d in UNPAIRED_DIRS:
        arrays[d], names[d], bad = _load_files(files[d], channels, load_size, str(root / d), grayed)
        skipped += bad
    _warn_skipped(root, skipped, grayed)
    return TranslationData(arrays["trainA"], arrays["trainB"], arrays["testA"], arrays["testB"],
                           paired=False, names_train_a=names["trainA"],
                           names_train_b=names["trainB"], names_test_a=names["testA"],
                           names_test_b=names["testB"], skipped=tuple(skipped))


def _load_aligned(folder: Path, channels: int, size: int, max_images: int | None, grayed: list):
    """Split side-by-side AB images (A = left half) of one split folder; an image narrower than 2 px holds
    no pair and is refused by name."""
    a, b, names, skipped = [], [], [], []
    for path in _image_files(folder)[:max_images]:
        im = decode_image(path, channels, grayed)
        if im is None:
            skipped.append(str(path))
            continue
        if im.width < 2:
            raise ValueError(f"{path} is {im.width} px wide: a side-by-side A|B pair needs at least 2 px "
                             f"(A on the left half, B on the right)")
        w2 = im.width // 2
        a.append(_to_array(im.crop((0, 0, w2, im.height)), size, channels))
        b.append(_to_array(im.crop((w2, 0, im.width, im.height)), size, channels))
        names.append(path.name)
    return _stack(a, str(folder)), _stack(b, str(folder)), tuple(names), skipped


def _load_matched(dir_a: Path, dir_b: Path, channels: int, size: int, max_images: int | None, grayed: list):
    """Pairs of ``dir_a`` / ``dir_b`` files with equal names (extension ignored)."""
    files_a = _image_files(dir_a)
    files_b = {p.stem: p for p in _image_files(dir_b)}
    pairs = [(p, files_b[p.stem]) for p in files_a if p.stem in files_b]
    unmatched = len(files_a) + len(files_b) - 2 * len(pairs)
    if not pairs:
        raise ValueError(f"no file names in {dir_a} match those in {dir_b}")
    if unmatched:
        warnings.warn(f"{dir_a} / {dir_b}: ignored {unmatched} file(s) without a partner",
                      stacklevel=3)
    a, b, names, skipped = [], [], [], []
    for pa, pb in pairs[:max_images]:
        ia, ib = decode_image(pa, channels, grayed), decode_image(pb, channels, grayed)
        skipped += [str(p) for p, im in ((pa, ia), (pb, ib)) if im is None]
        if ia is None or ib is None:
            continue
        a.append(_to_array(ia, size, channels))
        b.append(_to_array(ib, size, channels))
        names.append(pa.stem)
    what = f"{dir_a} / {dir_b}"
    return _stack(a, what), _stack(b, what), tuple(names), skipped


def load_paired(root: str | Path, channels: int = 3, load_size: int = 286,
                max_images: int | None = None, direction: str = "AtoB") -> TranslationData:
    """Load a pix2pix dataset (aligned AB images or matched ``A/`` and ``B/`` folders).

    ``direction="BtoA"`` swaps the domains (as the reference's ``--direction``).
    The test split is ``test``, or ``val`` when there is no ``test`` folder.
    """
    _check_channels(channels)
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    root = Path(root)
    base = root / "A" if (root / "A").is_dir() and (root / "B").is_dir() else root
    test = "test" if (base / "test").is_dir() or not (base / "val").is_dir() else "val"
    if not ((base / "train").is_dir() and (base / test).is_dir()):
        raise ValueError(f"{root}: expected the paired layout ROOT/train + ROOT/test with AB "
                         f"images side by side, or ROOT/A/{{train,test}} + ROOT/B/{{train,test}}")
    out, skipped, grayed = {}, [], []
    for split in ("train", test):
        if base is root:
            a, b, names, bad = _load_aligned(root / split, channels, load_size, max_images, grayed)
        else:
            a, b, names, bad = _load_matched(root / "A" / split, root / "B" / split,
                                             channels, load_size, max_images, grayed)
        out[split] = (b, a, names) if direction == "BtoA" else (a, b, names)
        skipped += bad
    _warn_skipped(root, skipped, grayed)
    (tr_a, tr_b, tr_n), (te_a, te_b, te_n) = out["train"], out[test]
    return TranslationData(tr_a, tr_b, te_a, te_b, paired=True, names_train_a=tr_n,
                           names_train_b=tr_n, names_test_a=te_n, names_test_b=te_n,
                           skipped=tuple(skipped))


def load_translation(root: str | Path, paired: bool | None = None, **kwargs) -> TranslationData:
    """Load either layout; ``paired=None`` picks unpaired when any of ``ROOT/{trainA,trainB,testA,testB}``
    exists (so a misnamed or missing one is reported as such, not as a broken paired layout)."""
    if paired is None:
        paired = not any((Path(root) / d).is_dir() for d in UNPAIRED_DIRS)
    return (load_paired if paired else load_unpaired)(root, **kwargs)


def to_float(images: Array) -> Array:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return (jnp.asarray(images).astype(jnp.float32) - 127.5) / 127.5


def center_crop(images: Array, crop_size: int) -> Array:
    """Deterministic central ``crop_size`` crop of an NHWC uint8 batch, as float32 in [-1, 1]."""
    h, w = images.shape[1:3]
    y0, x0 = (h - crop_size) // 2, (w - crop_size) // 2
    return to_float(images[:, y0:y0 + crop_size, x0:x0 + crop_size])


def _crop_flip_one(key: Array, image: Array, crop_size: int, flip: bool) -> Array:
    ky, kx, kf = jax.random.split(key, 3)
    h, w, c = image.shape
    y0 = jax.random.randint(ky, (), 0, h - crop_size + 1)
    x0 = jax.random.randint(kx, (), 0, w - crop_size + 1)
    out = jax.lax.dynamic_slice(image, (y0, x0, 0), (crop_size, crop_size, c))
    if flip:
        out = jnp.where(jax.random.bernoulli(kf), out[:, ::-1], out)
    return to_float(out)


def random_crop_flip(key: Array, images: Array, crop_size: int, flip: bool = True) -> Array:
    """Per-example random ``crop_size`` crop and (p=0.5) horizontal flip of an NHWC uint8 batch.

    Pure and jittable (``crop_size`` and ``flip`` static); returns float32 in [-1, 1].
    """
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(lambda k, x: _crop_flip_one(k, x, crop_size, flip))(keys, images)


def random_crop_flip_pair(key: Array, images_a: Array, images_b: Array, crop_size: int,
                          flip: bool = True) -> tuple[Array, Array]:
    """:func:`random_crop_flip` with the same crop and flip for ``images_a[i]`` and ``images_b[i]``.

    A and B need equal N, H and W (channel counts may differ).
    """
    if images_a.shape[:3] != images_b.shape[:3]:
        raise ValueError(f"paired batches differ in N/H/W: {images_a.shape} vs {images_b.shape}")
    keys = jax.random.split(key, images_a.shape[0])
    crop = jax.vmap(lambda k, x: _crop_flip_one(k, x, crop_size, flip))
    return crop(keys, images_a), crop(keys, images_b)
