"""What `ganjax bench` and benchmarks/ time: the article's DCGAN and CycleGAN recipes on synthetic data.

The configs are the repository's experiments/dcgan_mnist.py and experiments/cyclegan.py with overrides;
the data are random uint8 images kept on the device (the recipe's sample_batch still draws, converts and,
for CycleGAN, flips them inside the step). Upsample "phase" is the same function and parameters as "conv_transpose" (models/phase_conv.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ganjax.bench.harness import JaxRunner
from ganjax.errors import UsageError


def experiment_config(name: str, overrides: list[tuple[str, str]]):
    """experiments/NAME.py (next to the package, as in this repository) with dotted overrides."""
    from ganjax import config as config_lib

    path = Path(__file__).resolve().parents[2] / "experiments" / f"{name}.py"
    if not path.is_file():
        raise UsageError(f"ganjax bench needs the repository's experiments/{name}.py (not found at {path})")
    return config_lib.load(str(path), overrides)


def dcgan_setup(batch: int, dtype: str, upsample: str, width: int, n_images: int = 2048):
    """The article's DCGAN (28x28x1) at `width`, and synthetic uint8 images."""
    from ganjax.recipes.dcgan import DCGAN

    cfg = experiment_config("dcgan_mnist", [("model.g_width", str(width)), ("model.d_width", str(width)),
                                            ("model.upsample", upsample), ("model.dtype", dtype),
                                            ("train.batch_size", str(batch))])
    recipe = DCGAN(cfg)
    images = np.random.default_rng(0).integers(0, 256, (n_images, 28, 28, 1), dtype=np.uint8)
    return recipe, {"images": images}


def cyclegan_setup(batch: int, dtype: str, size: int, upsample: str = "phase", ngf: int = 64,
                   n_blocks: int = 9, n_images: int = 8):
    """CycleGAN (ResNet generators, 70x70 PatchGANs, LSGAN, pool 50) on synthetic uint8 size² images."""
    from ganjax.recipes.translation import CycleGAN

    cfg = experiment_config("cyclegan", [("data.load_size", str(size)), ("data.crop_size", str(size)),
                                         ("model.upsample", upsample), ("model.ngf", str(ngf)),
                                         ("model.ndf", str(ngf)), ("model.n_blocks", str(n_blocks)),
                                         ("model.dtype", dtype), ("train.batch_size", str(batch))])
    rng = np.random.default_rng(0)
    data = {k: rng.integers(0, 256, (n_images, size, size, 3), dtype=np.uint8) for k in ("train_a", "train_b")}
    return CycleGAN(cfg), data


def jax_runner(model: str, batch: int, dtype: str, k: int, variant: str, args) -> JaxRunner:
    """The ganjax runner of one configuration; `args` carries width (dcgan), size / ngf / blocks
    (cyclegan) and fuse, as parsed by ganjax.bench.options.add_arguments."""
    if model == "dcgan":
        recipe, data = dcgan_setup(batch, dtype, variant, args.width)
        label = {"model": f"dcgan-w{args.width}", "variant": variant, "dtype": dtype}
    else:
        recipe, data = cyclegan_setup(batch, dtype, args.size, variant, args.ngf, args.blocks)
        label = {"model": f"cyclegan-{args.size}px-ngf{args.ngf}-b{args.blocks}", "variant": variant,
                 "dtype": dtype}
    return JaxRunner(recipe, data, k, label, fuse=args.fuse)
