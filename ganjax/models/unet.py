"""U-Net generator of pix2pix, as the PyTorch reference's ``UnetGenerator``.

The reference nests ``UnetSkipConnectionBlock``s from the innermost out; this
module computes the same graph with an explicit encoder/decoder loop. Block
``i`` (0 = outermost) maps channels ``outer_i -> inner_i`` with::

    down: [LeakyReLU 0.2 unless outermost], Conv4x4 stride 2 pad 1,
          [Norm unless outermost or innermost]
    up:   ReLU, ConvTranspose4x4 stride 2 pad 1, then tanh (outermost) or Norm,
          [Dropout 0.5 in the num_downs - 5 blocks of width 8ngf just outside
          the innermost one, when use_dropout]
    out:  concat([skip_i, up(...)]) on channels (not for the outermost block)

Channels from the outside in: ``ngf, 2ngf, 4ngf, 8ngf, ..., 8ngf`` (num_downs
blocks in all), so a ``2**num_downs`` input reaches 1x1 at the bottleneck
(num_downs=7 for 128x128, 8 for 256x256).

The skip tensor ``skip_i`` is LeakyReLU(0.2) of the block input for every
block inside the outermost one: the reference's ``LeakyReLU(0.2, inplace=True)``
overwrites the block input before ``torch.cat([x, model(x)], 1)`` reads it,
and this module reproduces that behaviour. Convolutions carry a bias only
with instance norm, except the outermost transposed convolution, which always
has one (as the reference).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import conv, conv_bias, conv_transpose, norm_layer

Array = jax.Array


def unet_channels(num_downs: int, ngf: int) -> list[int]:
    """Inner (encoder output) channels of each block, outermost first."""
    if num_downs < 5:
        raise ValueError(f"num_downs must be >= 5, got {num_downs}")
    return [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (num_downs - 3)


class UnetGenerator(nn.Module):
    """pix2pix U-Net; input NHWC in [-1, 1] with H, W multiples of ``2**num_downs``.

    Returns float32 in [-1, 1] with ``out_channels`` channels. ``train`` enables
    dropout (rng ``'dropout'``) and batch statistics (``mutable=['batch_stats']``).
    """

    out_channels: int
    num_downs: int = 7
    ngf: int = 64
    norm: str = "batch"
    use_dropout: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        n = self.num_downs
        inner = unet_channels(n, self.ngf)
        bias = conv_bias(self.norm)
        dt = self.dtype

        skips = []
        h = x.astype(dt)
        for i in range(n):
            if i > 0:
                h = nn.leaky_relu(h, 0.2)
                skips.append(h)
            h = conv(inner[i], 4, 2, 1, use_bias=bias, dtype=dt)(h)
            if 0 < i < n - 1:
                h = norm_layer(self.norm, dt, train)(h)

        for i in reversed(range(1, n)):
            h = nn.relu(h)
            h = conv_transpose(inner[i - 1], 4, 2, 1, use_bias=bias, dtype=dt)(h)
            h = norm_layer(self.norm, dt, train)(h)
            if self.use_dropout and 4 <= i < n - 1:
                h = nn.Dropout(0.5, deterministic=not train)(h)
            h = jnp.concatenate([skips[i - 1], h], axis=-1)
        h = conv_transpose(self.out_channels, 4, 2, 1, use_bias=True, dtype=dt)(nn.relu(h))
        return jnp.tanh(h).astype(jnp.float32)
