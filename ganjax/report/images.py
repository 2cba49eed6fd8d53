"""Sample grids and PNG / figure files: the pictures every command writes."""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from ganjax.data import to_uint8


def grid(images, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) images, floats in [-1, 1] or uint8 pixels, → one uint8 (rows·H, cols·W, C) mosaic."""
    x = np.asarray(images)
    x = x if x.dtype == np.uint8 else to_uint8(x)
    n, h, w, c = x.shape
    cols = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = x[i]
    return out


def grid_scale(image_size: int) -> int:
    """How much a sample grid is enlarged so that small images stay legible (28 px → 2x, 8 px → 8x)."""
    return max(1, 64 // image_size)


def grid_image(images, nrow: int | None = None) -> np.ndarray:
    """The uint8 (H, W, C) picture save_grid writes: the mosaic, enlarged by grid_scale (nearest)."""
    s = grid_scale(np.asarray(images).shape[1])
    g = grid(images, nrow)
    return g.repeat(s, axis=0).repeat(s, axis=1) if s > 1 else g


def save_png(array: np.ndarray, path: str, scale: int = 1) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    im = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    from ganjax.atomic import save_image  # a new O_EXCL temporary file: never an existing file or symlink
    return save_image(im, path)


def save_grid(images, path: str, nrow: int | None = None) -> str:
    """A sample grid as PNG, enlarged so that small images stay legible."""
    h = np.asarray(images).shape[1]
    return save_png(grid(images, nrow), path, scale=grid_scale(h))


def save_figure(fig, path: str, dpi: int = 100) -> str:
    """Write a matplotlib figure to `path` atomically (a reader never sees half a PNG) and close it."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    from ganjax.atomic import replacing  # a new O_EXCL temporary file: never an existing file or symlink
    with replacing(path) as f:
        fig.savefig(f, dpi=dpi, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")
    plt.close(fig)
    return path


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
