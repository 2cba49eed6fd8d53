"""What `--target` and `--eps` name: a scalar of an image (region, pixel, channel) and attack budgets.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ganjax.errors import UsageError


TARGET_FORMS = '"region:y0:y1,x0:x1", "pixel:y,x" or "channel:c"'


@dataclasses.dataclass(frozen=True)
class Target:
    """A scalar of an image: the mean over a box of rows y0:y1, columns x0:x1 and channels c0:c1."""
    kind: str
    y0: int
    y1: int
    x0: int
    x1: int
    c0: int = 0
    c1: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "channel":
            return f"channel {self.c0}"
        if self.kind == "pixel":
            return f"pixel ({self.y0}, {self.x0})"
        return f"region rows {self.y0}:{self.y1}, cols {self.x0}:{self.x1}"

    def scalar(self, images):
        """Per-example mean of the target box of NHWC images, shape (B,)."""
        box = images[:, self.y0:self.y1, self.x0:self.x1, self.c0:self.c1]
        return box.reshape(box.shape[0], -1).mean(axis=1)


def parse_target(spec: str | None, size: int, channels: int) -> Target:
    """Parse --target for a (size x size x channels) image; UsageError says what is valid."""
    if spec is None:
        c = size // 2
        h = max(1, size // 8)
        return Target("region", c - h, c + h, c - h, c + h)
    s = spec.replace(" ", "")
    m_reg = re.fullmatch(r"region:(\d+):(\d+),(\d+):(\d+)", s)
    m_pix = re.fullmatch(r"pixel:(\d+),(\d+)", s)
    m_ch = re.fullmatch(r"channel:(\d+)", s)
    if m_reg:
        y0, y1, x0, x1 = map(int, m_reg.groups())
        if not (y0 < y1 <= size and x0 < x1 <= size):
            raise UsageError(f"--target {spec!r} is outside the {size}x{size} image or empty; rows and "
                             f"columns must satisfy 0 <= y0 < y1 <= {size}, 0 <= x0 < x1 <= {size}")
        return Target("region", y0, y1, x0, x1)
    if m_pix:
        y, x = map(int, m_pix.groups())
        if not (y < size and x < size):
            raise UsageError(f"--target {spec!r} is outside the {size}x{size} image; "
                             f"use 0 <= y, x < {size}")
        return Target("pixel", y, y + 1, x, x + 1)
    if m_ch:
        c = int(m_ch.group(1))
        if c >= channels:
            raise UsageError(f"--target {spec!r}: the image has {channels} channel(s); use 0..{channels - 1}")
        return Target("channel", 0, size, 0, size, c, c + 1)
    raise UsageError(f"cannot parse --target {spec!r}; use {TARGET_FORMS}")


def parse_eps(text: str) -> list[float]:
    try:
        eps = [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise UsageError(f"cannot parse --eps {text!r}; use comma-separated numbers such as "
                         f"0.01,0.03,0.1") from None
    if not eps:
        raise UsageError("--eps is empty; use comma-separated numbers such as 0.01,0.03,0.1")
    bad = [e for e in eps if not e >= 0 or not np.isfinite(e)]
    if bad:
        raise UsageError(f"--eps must be >= 0 (finite, in [-1, 1] image units), got {bad[0]:g}")
    return sorted(set(eps) | {0.0})
