"""Stride-2 upsampling blocks, chosen by name: the generator's speed on each backend depends on it.

- `conv_transpose`: `nn.ConvTranspose` (the original article's layer). On XLA:CPU its weight gradient is
  about 30x slower than an ordinary convolution's.
- `subpixel`: a convolution to 4·C channels followed by depth-to-space (PyTorch's PixelShuffle order).
- `resize_conv`: nearest-neighbour x2 followed by a convolution.
- `phase`: exactly `conv_transpose` (same parameter names and shapes, same function: checkpoints are
  interchangeable) computed as four small stride-1 convolutions interleaved (models/phase_conv.py).

All paddings are explicit so that a PyTorch twin with `padding=k//2` computes the same function.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from ganjax.models import cpu_conv
from ganjax.models.phase_conv import PhaseConvTranspose, depth_to_space  # noqa: F401 (depth_to_space re-exported)

METHODS = ("conv_transpose", "subpixel", "resize_conv", "phase")


def same_pad(kernel: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """PyTorch-style symmetric padding k//2 on both sides (flax's "SAME" pads (1, 2) for stride 2, k 5)."""
    p = kernel // 2
    return ((p, p), (p, p))


class Upsample(nn.Module):
    """Double the spatial size and map to `features` channels."""
    features: int
    kernel: int = 5
    method: str = "subpixel"
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        k = self.kernel
        conv = lambda f: nn.Conv(f, (k, k), padding=same_pad(k), use_bias=self.use_bias,
                                 kernel_init=self.kernel_init, dtype=self.dtype,
                                 conv_general_dilated=cpu_conv.conv_general_dilated)
        if self.method in ("conv_transpose", "phase"):
            # PyTorch ConvTranspose2d(k, stride 2, padding p, output_padding 1) == padding (k-1-p, k-p).
            lo = k - 1 - k // 2 if k % 2 else k - 1 - (k // 2 - 1)
            pad = ((lo, lo + (1 if k % 2 else 0)),) * 2
            if self.method == "phase":
                return PhaseConvTranspose(self.features, (k, k), pad, self.use_bias, kernel_init=self.kernel_init,
                                          dtype=self.dtype, name="ConvTranspose_0")(x)
            return nn.ConvTranspose(self.features, (k, k), strides=(2, 2), padding=pad, use_bias=self.use_bias,
                                    kernel_init=self.kernel_init, dtype=self.dtype)(x)
        if self.method == "subpixel":
            return depth_to_space(conv(4 * self.features)(x), 2)
        if self.method == "resize_conv":
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
            return conv(self.features)(x)
        raise ValueError(f"unknown upsampling {self.method!r}; valid: {', '.join(METHODS)}")
