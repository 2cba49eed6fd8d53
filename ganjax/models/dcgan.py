"""DCGAN generators and discriminators.

`Generator`/`Discriminator`: the original article's MNIST DCGAN with its defects fixed — two stride-2
upsamplings from 7x7 (not three, which gave 56x56), a last stride-1 convolution to the image, and a
discriminator that returns logits (no sigmoid before a with-logits loss). Their plain convolutions go
through models/cpu_conv.py: on XLA:CPU the same function with faster gradients, elsewhere lax's own.

`Generator64`/`Discriminator64`: the classic 64x64 DCGAN of Radford et al. (batch norm, 4x4 kernels); their
batch norm is PyTorch's (running variance unbiased, models/layers.py TorchBatchNorm).
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax.numpy as jnp

from ganjax.models import cpu_conv
from ganjax.models.layers import TorchBatchNorm
from ganjax.models.upsample import Upsample, same_pad


class Generator(nn.Module):
    """z (N, latent) → images (N, S, S, C) in [-1, 1]; S = image_size, a multiple of 4."""
    image_size: int = 28
    channels: int = 1
    width: int = 128
    upsample: str = "subpixel"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool = True):
        base = self.image_size // 4
        x = nn.relu(nn.Dense(base * base * self.width, dtype=self.dtype, dot_general=cpu_conv.dot_general)(z))
        x = x.reshape(z.shape[0], base, base, self.width)
        for _ in range(2):
            x = nn.relu(Upsample(self.width, 5, self.upsample, dtype=self.dtype)(x))
        x = nn.Conv(self.channels, (5, 5), padding=same_pad(5), dtype=self.dtype,
                    conv_general_dilated=cpu_conv.conv_general_dilated)(x)
        return jnp.tanh(x).astype(jnp.float32)


def minibatch_stddev(x, group: int):
    """Karras et al. 2018's minibatch standard deviation as one more channel: the std of each feature over a group
    of `group` consecutive images, averaged over features and positions, given to every image of the group (a
    batch that `group` does not divide uses the largest common divisor; a lone image gets 0)."""
    n, h, w, _ = x.shape
    g = math.gcd(n, group)
    std = jnp.sqrt(jnp.var(x.astype(jnp.float32).reshape(n // g, g, h, w, -1), axis=1) + 1e-8)
    feat = jnp.repeat(jnp.mean(std, axis=(1, 2, 3)), g)
    return jnp.concatenate([x, jnp.broadcast_to(feat[:, None, None, None], (n, h, w, 1)).astype(x.dtype)], -1)


class Discriminator(nn.Module):
    """images (N, S, S, C) → logits (N,). mbstd > 0 adds minibatch_stddev over groups of mbstd before the logit.

    codes > 0 adds InfoGAN's Q head (Chen et al. 2016): logits over `codes` categories from the same features
    as the logit; call with codes=True for (logits, code logits (N, codes)). The head's parameters exist from
    init on, so the plain call (attribution, D's logit) is unchanged.

    classes > 0 makes it a projection discriminator (Miyato & Koyama 2018): the logit of an image of class y
    (an int array (N,)) gains ⟨embed(y), features⟩; without y (attribution) only the unconditional logit."""
    width: int = 128
    dtype: jnp.dtype = jnp.float32
    mbstd: int = 0
    codes: int = 0
    classes: int = 0

    @nn.compact
    def __call__(self, x, train: bool = True, codes: bool = False, y=None):
        x = x.astype(self.dtype)
        for _ in range(2):
            x = nn.Conv(self.width, (5, 5), strides=(2, 2), padding=same_pad(5), dtype=self.dtype,
                        conv_general_dilated=cpu_conv.conv_general_dilated)(x)
            x = nn.leaky_relu(x, 0.2)
        if self.mbstd:
            x = minibatch_stddev(x, self.mbstd)
        h = x.reshape(x.shape[0], -1)
        logits = nn.Dense(1, dtype=self.dtype, dot_general=cpu_conv.dot_general)(h)[:, 0].astype(jnp.float32)
        if self.classes:
            embed = nn.Embed(self.classes, h.shape[-1], embedding_init=nn.initializers.normal(0.02), name="Embed")
            table = embed.embedding  # created at init whether or not y is given
            if y is not None:
                logits = logits + jnp.sum(table[y].astype(h.dtype) * h, axis=-1).astype(jnp.float32)
        if not self.codes:
            return logits
        q = nn.Dense(self.codes, dtype=self.dtype, dot_general=cpu_conv.dot_general, name="Q")(h).astype(jnp.float32)
        return (logits, q) if codes else logits


_init = nn.initializers.normal(0.02)


def _bn(train, dtype, index):
    """PyTorch's BatchNorm2d (unbiased running variance), named as the nn.BatchNorm it replaced (BatchNorm_N)."""
    return TorchBatchNorm(use_running_average=not train, momentum=0.1, epsilon=1e-5, dtype=dtype,
                          scale_init=lambda k, s, d=jnp.float32: 1.0 + _init(k, s, d), name=f"BatchNorm_{index}")


class Generator64(nn.Module):
    """Radford et al.'s generator: z → 4x4x8ngf → ... → (N, 64, 64, C), batch norm and ReLU."""
    image_size: int = 64
    channels: int = 3
    width: int = 64
    upsample: str = "conv_transpose"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool = True):
        n_up = {32: 3, 64: 4, 128: 5}.get(self.image_size)
        if n_up is None:
            raise ValueError(f"Generator64 supports image_size 32, 64 or 128, got {self.image_size}")
        ch = self.width * 2 ** (n_up - 1)
        x = nn.Dense(4 * 4 * ch, use_bias=False, kernel_init=_init, dtype=self.dtype,
                     dot_general=cpu_conv.dot_general)(z)
        x = nn.relu(_bn(train, self.dtype, 0)(x.reshape(z.shape[0], 4, 4, ch)))
        for i in range(n_up - 1):
            ch //= 2
            x = Upsample(ch, 4, self.upsample, use_bias=False, kernel_init=_init, dtype=self.dtype)(x)
            x = nn.relu(_bn(train, self.dtype, i + 1)(x))
        x = Upsample(self.channels, 4, self.upsample, kernel_init=_init, dtype=self.dtype)(x)
        return jnp.tanh(x).astype(jnp.float32)


class Discriminator64(nn.Module):
    """Radford et al.'s discriminator: strided 4x4 convs, batch norm, LeakyReLU 0.2 → logits (N,)."""
    width: int = 64
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = x.astype(self.dtype)
        ch = self.width
        i = 0
        while x.shape[1] > 4:
            x = nn.Conv(ch, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False,
                        kernel_init=_init, dtype=self.dtype, conv_general_dilated=cpu_conv.conv_general_dilated)(x)
            x = nn.leaky_relu(x if i == 0 else _bn(train, self.dtype, i - 1)(x), 0.2)
            ch, i = ch * 2, i + 1
        x = nn.Conv(1, (4, 4), padding=((0, 0), (0, 0)), kernel_init=_init, dtype=self.dtype,
                    conv_general_dilated=cpu_conv.conv_general_dilated)(x)
        return x.reshape(x.shape[0]).astype(jnp.float32)
