"""Where the CycleGAN step's time goes: each part's forward + backward, timed alone (for the GPU profile).

  python benchmarks/cyclegan_parts.py [--size 256] [--batch 4] [--dtype bfloat16,float32]

On one H100 the whole step (2 ResNet-9 G, 2 PatchGAN D, forward and backward) ran at 4-6 % of bf16 peak and
bf16 was no faster than fp32 (README, Benchmarks), i.e. time goes somewhere other than the tensor cores.
Each row is one jitted value_and_grad of a part at the step's shapes; "TFLOP/s" counts the convolutions'
multiply-adds (x2, forward + both gradients = 3x the forward) analytically. Suspects it separates:
the 3-channel 7x7 convolutions at full resolution (tensor cores want channel counts that are multiples of 8:
the rows "…, 3 → 8 ch" zero-pad the channels, the same function), instance norm, reflection padding, the
transposed convolutions, and D.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ganjax import xla_flags  # noqa: E402

xla_flags.apply()  # the GPU defaults `ganjax` sets (ganjax/xla_flags.py)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from ganjax.models.layers import ReflectPad, conv, conv_transpose, instance_norm, norm_layer  # noqa: E402
from ganjax.models.patchgan import NLayerDiscriminator  # noqa: E402
from ganjax.models.resnet_gen import ResnetBlock, ResnetGenerator  # noqa: E402


def timed(module, x, reps: int = 5, min_s: float = 0.2) -> tuple[float, float]:
    """Median ms of one jitted value_and_grad (w.r.t. params and input) of sum(module(x)); compile s."""
    params = module.init(jax.random.PRNGKey(0), x)

    def loss(p, x):
        return jnp.sum(module.apply(p, x).astype(jnp.float32))
    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(params, x))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(fn(params, x))
    n = max(1, int(min_s / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            out = fn(params, x)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - t0) / n)
    return 1e3 * statistics.median(times), compile_s


def parts(size: int, batch: int, dt, ngf: int = 64):
    """(name, module, input, conv GFLOP of the forward) at the step's shapes."""
    import flax.linen as nn

    q = size // 4
    key = jax.random.PRNGKey(1)
    img = jax.random.normal(key, (batch, size, size, 3), dt)
    img8 = jnp.pad(img, ((0, 0), (0, 0), (0, 0), (0, 5)))
    feat = jax.random.normal(key, (batch, q, q, 4 * ngf), dt)
    half = jax.random.normal(key, (batch, size, size, ngf), dt)

    class First(nn.Module):  # ReflectPad(3), 7x7 conv → ngf, instance norm, ReLU (the G's stem)
        @nn.compact
        def __call__(self, x):
            return nn.relu(norm_layer("instance", dt)(conv(ngf, 7, dtype=dt)(ReflectPad(3)(x))))

    class Last(nn.Module):  # ReflectPad(3), 7x7 conv ngf → c, tanh
        c: int = 3

        @nn.compact
        def __call__(self, x):
            return jnp.tanh(conv(self.c, 7, dtype=dt)(ReflectPad(3)(x))[..., :3])

    class NormRelu(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.relu(norm_layer("instance", dt)(x))

    class Block(nn.Module):  # a ResNet block with one ingredient taken out (ablation)
        pad: str = "reflect"
        norm: str = "fused"  # fused (ganjax's layers.instance_norm) | split (the same, reductions in 2 stages)
        #                      | flax (nn.InstanceNorm, autodiff) | none

        @nn.compact
        def __call__(self, x):
            h = x
            for i in range(2):
                h = ReflectPad(1)(h) if self.pad == "reflect" else h
                h = conv(4 * ngf, 3, padding=0 if self.pad == "reflect" else 1, dtype=dt)(h)
                if self.norm == "flax":
                    h = nn.InstanceNorm(use_bias=False, use_scale=False, dtype=dt)(h)
                elif self.norm == "split":
                    h = instance_norm(h, 1e-5, dt, split=8)
                elif self.norm == "fused":
                    h = norm_layer("instance", dt)(h)
                h = nn.relu(h) if i == 0 else h
            return x + h

    class Up(nn.Module):
        phase: bool = False

        @nn.compact
        def __call__(self, x):
            return conv_transpose(2 * ngf, 3, 2, 1, 1, dtype=dt, phase=self.phase)(x)

    g = lambda n: 2 * n * batch / 1e9
    stem = g(size * size * 3 * ngf * 49)
    return [
        ("G ResNet-9, whole", ResnetGenerator(3, ngf, 9, dtype=dt), img, None),
        ("D PatchGAN 70x70, whole", NLayerDiscriminator(ngf, 3, dtype=dt), img, None),
        ("G stem 7x7, 3 ch", First(), img, stem),
        ("G stem 7x7, 3 → 8 ch (zero-padded)", First(), img8, stem),
        ("G head 7x7 → 3 ch", Last(3), half, stem),
        ("G head 7x7 → 8 ch (3 used)", Last(8), half, stem),
        ("ResNet block (4ngf at size/4)", ResnetBlock(4 * ngf, dtype=dt), feat, 2 * g(q * q * 16 * ngf * ngf * 9)),
        ("ResNet block without reflect pad (zeros)", Block(pad="zeros"), feat, 2 * g(q * q * 16 * ngf * ngf * 9)),
        ("ResNet block without instance norm", Block(norm="none"), feat, 2 * g(q * q * 16 * ngf * ngf * 9)),
        ("ResNet block, flax InstanceNorm (autodiff)", Block(norm="flax"), feat, 2 * g(q * q * 16 * ngf * ngf * 9)),
        ("ResNet block, norm reductions split in 8", Block(norm="split"), feat, 2 * g(q * q * 16 * ngf * ngf * 9)),
        ("instance norm + ReLU (4ngf at size/4)", NormRelu(), feat, None),
        ("reflection pad 1 (4ngf at size/4)", ReflectPad(1), feat, None),
        ("conv_transpose 4ngf → 2ngf", Up(False), feat, g(q * q * 8 * ngf * ngf * 9)),
        ("phase conv_transpose 4ngf → 2ngf", Up(True), feat, g(q * q * 8 * ngf * ngf * 9)),
    ]


def torch_parts(size: int, batch: int, ngf: int) -> dict:
    """{part label: (torch module, NCHW input)} of the twin (benchmarks/torch_twin_cyclegan.py), on CUDA."""
    import torch
    from torch import nn
    from torch_twin_cyclegan import NLayerDiscriminator, ResnetBlock, ResnetGenerator

    q, dev = size // 4, "cuda" if torch.cuda.is_available() else "cpu"
    img, feat = torch.randn(batch, 3, size, size, device=dev), torch.randn(batch, 4 * ngf, q, q, device=dev)
    up = nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1)
    return {k: (m.to(dev), x.requires_grad_()) for k, (m, x) in {
        "G ResNet-9, whole": (ResnetGenerator(ngf, 9), img),
        "D PatchGAN 70x70, whole": (NLayerDiscriminator(ngf), img),
        "ResNet block (4ngf at size/4)": (ResnetBlock(4 * ngf), feat),
        "instance norm + ReLU (4ngf at size/4)": (nn.Sequential(nn.InstanceNorm2d(4 * ngf), nn.ReLU()), feat),
        "reflection pad 1 (4ngf at size/4)": (nn.ReflectionPad2d(1), feat),
        "conv_transpose 4ngf → 2ngf": (up, feat)}.items()}


def torch_timed(module, x, reps: int = 5, min_s: float = 0.2) -> float:
    """Median ms of the eager forward + backward of sum(module(x)) (w.r.t. parameters and input)."""
    import torch
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)

    def once():
        module(x).float().sum().backward()
    once()
    sync()
    t0 = time.perf_counter()
    once()
    sync()
    n = max(1, int(min_s / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            once()
        sync()
        times.append((time.perf_counter() - t0) / n)
    return 1e3 * statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256 if jax.default_backend() != "cpu" else 32)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dtype", default="bfloat16,float32")
    p.add_argument("--ngf", type=int, default=64 if jax.default_backend() != "cpu" else 8)
    p.add_argument("--only", default="", help="comma-separated substrings: time only the parts named so")
    p.add_argument("--torch", action="store_true", help="time the PyTorch twin's parts too (fp32, eager)")
    args = p.parse_args(argv)
    twin = {}
    if args.torch:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        twin = {k: torch_timed(m, x) for k, (m, x) in torch_parts(args.size, args.batch, args.ngf).items()
                if not args.only or any(o.strip() in k for o in args.only.split(","))}
    dev = jax.devices()[0]
    print(f"{getattr(dev, 'device_kind', dev)}; size {args.size}, batch {args.batch}, ngf {args.ngf}")
    print(f"{'part':<40} {'dtype':>9} {'ms':>9} {'compile s':>9} {'TFLOP/s':>8} {'torch fp32 ms':>13}")
    for name in args.dtype.split(","):
        dt = jnp.dtype(name)
        for label, module, x, gflop_fwd in parts(args.size, args.batch, dt, args.ngf):
            if args.only and not any(o.strip() in label for o in args.only.split(",")):
                continue
            try:
                ms, comp = timed(module, x)
            except Exception as e:  # noqa: BLE001 - report and go on
                print(f"{label:<40} {name:>9} failed: {type(e).__name__}: {str(e)[:80]}")
                continue
            rate = f"{3 * gflop_fwd / ms:.3g}" if gflop_fwd else ""  # GFLOP / ms = TFLOP/s
            tms = f"{twin[label]:13.3f}" if label in twin else ""
            print(f"{label:<40} {name:>9} {ms:9.3f} {comp:9.1f} {rate:>8} {tms}", flush=True)


if __name__ == "__main__":
    main()
