"""`ganjax sample RUN --output OUT`: N generated images as PNG files, one grid image, or one uint8 .npz array."""
from __future__ import annotations

import os

GRID_SUFFIXES = (".png", ".jpg", ".jpeg")


def add_parser(sub) -> None:
    from ganjax.config import seed_arg

    s = sub.add_parser("sample", help="write N generated images from a run's checkpoint")
    s.add_argument("run", help="run folder")
    s.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    s.add_argument("--output", required=True, help="a folder (one PNG per sample), FILE.png / .jpg (one grid of "
                                                    "them) or FILE.npz (a uint8 array 'images', N x H x W x C)")
    s.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    s.add_argument("--seed", type=seed_arg, default=0, help="seed of the latent noise (default 0)")
    s.add_argument("--raw", action="store_true", help="use the raw generator, not its EMA (default: the EMA, "
                                                         "where the run keeps one)")
    s.add_argument("--code", type=int, default=None, help="runs with a latent code (model.clusters, "
                                                          "model.info_codes): every sample of this code "
                                                          "(default: drawn as in training)")
    s.set_defaults(func=run)


def run(args, overrides) -> None:
    path, generator = sample_to(args.run, args.n, args.output, step=args.step, seed=args.seed, ema=not args.raw,
                                code=args.code)
    what = "" if args.code is None else f", code {args.code}"
    print(f"wrote {args.n} samples ({generator} generator{what}) to {path}")


def sample_to(run: str, n: int, output: str, step: int | None = None, seed: int = 0, ema: bool = True,
              code: int | None = None) -> tuple[str, str]:
    """Write the samples; returns (the path written, "EMA" or "raw": the generator used)."""
    from ganjax.atomic import save_arrays
    from ganjax.data import to_uint8
    from ganjax.errors import UsageError
    from ganjax.inference import generate, load_run
    from ganjax.report import save_grid, save_png

    if n <= 0:
        raise UsageError(f"--n must be positive, got {n}")
    ext = os.path.splitext(output)[1].lower()
    if ext and ext not in (".npz", *GRID_SUFFIXES):
        raise UsageError(f"--output {output}: unknown suffix {ext!r}; give a folder, FILE.png / FILE.jpg (a grid) "
                         f"or FILE.npz (an array)")
    if ext and os.path.exists(output):
        raise FileExistsError(f"{output} exists; choose another --output")
    opened = load_run(run, step, ema)
    images = to_uint8(generate(opened, n, seed, code))
    if ext:  # one file: the array, or all samples as one grid image
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        if ext == ".npz":
            save_arrays(output, {"images": images}, compressed=True)
        else:
            save_grid(images, output)
        return output, opened.generator
    width = max(5, len(str(n - 1)))
    paths = [os.path.join(output, f"sample_{i:0{width}d}.png") for i in range(n)]
    taken = [p for p in paths if os.path.exists(p)]
    if taken:
        raise FileExistsError(f"{taken[0]} exists; choose an empty --output folder")
    os.makedirs(output, exist_ok=True)
    for p, im in zip(paths, images):
        save_png(im, p)
    return output, opened.generator
