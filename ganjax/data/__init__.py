"""Data: a source string → uint8 images on the device, and batch sampling inside the compiled step."""
from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from ganjax.data.sources import DataError, load_digits, load_folder, load_idx, load_tfds, warn_gray

__all__ = ["Dataset", "DataError", "load_dataset", "batch_indices", "to_float", "to_uint8"]


@dataclasses.dataclass
class Dataset:
    """Images (N, H, W, C) uint8 and labels (N,) int32 or None, split into train and held-out parts."""
    train: np.ndarray
    train_labels: np.ndarray | None
    test: np.ndarray
    test_labels: np.ndarray | None
    source: str

    @property
    def num_classes(self) -> int:
        return 0 if self.train_labels is None else int(self.train_labels.max()) + 1


def load_dataset(data_cfg, image_size: int, channels: int) -> Dataset:
    """Load `data_cfg.source`, bring it to (image_size, image_size, channels), split off `holdout`."""
    source = data_cfg.source
    kind, _, rest = source.partition(":")
    if kind == "digits":
        images, labels = load_digits()
    elif kind == "idx":
        images, labels = load_idx(rest)
    elif kind == "folder":
        images, labels = load_folder(rest, channels, image_size, data_cfg.get("resize", False))
    elif kind == "tfds":
        name, _, split = rest.partition(":")
        images, labels = load_tfds(name, split or "train", data_cfg.get("tfds_dir") or None)
    else:
        raise DataError(f"unknown data source {source!r}; use digits, idx:PATH, folder:PATH or tfds:NAME[:split]")
    images = _match_channels(images, channels, source)
    if images.shape[1:3] != (image_size, image_size):
        if kind == "folder" and not data_cfg.get("resize", False):
            raise DataError(f"images are {images.shape[2]}x{images.shape[1]} but model.image_size is "
                            f"{image_size}; set --config.data.resize=true to resize them")
        images = resize(images, image_size)
    limit = data_cfg.get("limit", 0)
    if limit:
        images, labels = images[:limit], None if labels is None else labels[:limit]
    n_test = int(round(len(images) * data_cfg.get("holdout", 0.0)))
    n_train = len(images) - n_test
    if n_train < 1:
        raise DataError(f"{source}: no training images left after holdout={data_cfg.holdout}")
    split = lambda a, s: None if a is None else a[s]
    return Dataset(images[:n_train], split(labels, slice(0, n_train)),
                   images[n_train:], split(labels, slice(n_train, None)), source)


def _match_channels(images: np.ndarray, channels: int, source: str = "data") -> np.ndarray:
    c = images.shape[-1]
    if c == channels:
        return images
    if channels == 3 and c == 1:
        return np.repeat(images, 3, axis=-1)
    if channels == 1 and c in (3, 4):
        rgb = images[..., :3].astype(np.int16)
        colour = int(np.sum((np.abs(rgb[..., 0] - rgb[..., 1]) > 8) | (np.abs(rgb[..., 1] - rgb[..., 2]) > 8),
                            axis=(1, 2)).astype(bool).sum())
        warn_gray(source, colour, "model.channels")
        lum = images[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.round(lum).astype(np.uint8)[..., None]
    raise DataError(f"cannot convert {c}-channel images to {channels} channels")


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 NHWC images with Pillow's bicubic filter."""
    c = images.shape[-1]
    out = [np.asarray(Image.fromarray(im[..., 0] if c == 1 else im).resize((size, size), Image.BICUBIC))
           for im in images]
    return np.stack(out).reshape(len(images), size, size, c)


def to_float(images_uint8: jax.Array, dtype=jnp.float32) -> jax.Array:
    """uint8 [0, 255] → [-1, 1]."""
    return (images_uint8.astype(jnp.float32) * (2.0 / 255.0) - 1.0).astype(dtype)


def to_uint8(images: jax.Array | np.ndarray) -> np.ndarray:
    """[-1, 1] → uint8 [0, 255] (host)."""
    x = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def batch_indices(key: jax.Array, step: jax.Array, n: int, batch: int) -> jax.Array:
    """Indices of batch `step`: a fresh permutation of the N images each epoch (a function of key and step).

    Because the order is a pure function of (key, step), a resumed run reads exactly the batches the
    uninterrupted run would have read.
    """
    if batch > n:  # checked while the step is traced: once per compiled program
        warnings.warn(f"the training set holds {n} image(s), fewer than one batch of {batch}: every batch "
                      f"repeats images (drawn with replacement)", stacklevel=2)
        return jax.random.randint(jax.random.fold_in(key, step), (batch,), 0, n)
    per_epoch = n // batch
    perm = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), n)
    return jax.lax.dynamic_slice(perm, ((step % per_epoch) * batch,), (batch,))
