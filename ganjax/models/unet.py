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

``upsample`` replaces every ``ConvTranspose4x4`` of the decoder:
``"conv_transpose"`` (the reference), ``"phase"`` (the same layer and parameters,
computed as four stride-1 convolutions), ``"subpixel"`` (Conv3x3 pad 1 to 4x the
channels, then depth to space) or ``"resize_conv"`` (bilinear 2x, Conv3x3 pad 1).
All but the first avoid dilated convolutions, whose weight gradient is about
30x slower on XLA:CPU.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import conv, conv_bias, conv_transpose, norm_layer
from ganjax.models.resnet_gen import UPSAMPLE_KINDS
from ganjax.models.upsample import depth_to_space

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
    upsample: str = "conv_transpose"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(f"unknown upsample {self.upsample!r}; expected one of {UPSAMPLE_KINDS}")
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
            h = self._up(h, inner[i - 1], bias, f"ConvTranspose_{n - 1 - i}")
            h = norm_layer(self.norm, dt, train)(h)
            if self.use_dropout and 4 <= i < n - 1:
                h = nn.Dropout(0.5, deterministic=not train)(h)
            h = jnp.concatenate([skips[i - 1], h], axis=-1)
        h = self._up(nn.relu(h), self.out_channels, True, f"ConvTranspose_{n - 1}")
        return jnp.tanh(h).astype(jnp.float32)

    def _up(self, h: Array, feats: int, bias: bool, name: str) -> Array:
        """Double H and W and map to ``feats`` channels with the chosen method."""
        dt = self.dtype
        if self.upsample in ("conv_transpose", "phase"):
            return conv_transpose(feats, 4, 2, 1, use_bias=bias, dtype=dt, name=name,
                                  phase=self.upsample == "phase")(h)
        if self.upsample == "subpixel":
            return depth_to_space(conv(feats * 4, 3, 1, 1, use_bias=bias, dtype=dt)(h), 2)
        n, hh, ww, c = h.shape
        h = jax.image.resize(h, (n, 2 * hh, 2 * ww, c), method="bilinear")
        return conv(feats, 3, 1, 1, use_bias=bias, dtype=dt)(h)
