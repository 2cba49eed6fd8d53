"""The options `ganjax bench` and benchmarks/compare_torch.py share, and their backend-dependent defaults."""
from __future__ import annotations

import argparse

from ganjax.bench.harness import DEFAULT_OUT
from ganjax.errors import UsageError

DCGAN_TRAINING_WIDTH = 64  # experiments/dcgan_mnist.py's g_width = d_width; the article's network is 128


def add_arguments(p: argparse.ArgumentParser, cpu: bool, dcgan_width: int = DCGAN_TRAINING_WIDTH) -> None:
    """Options shared by `ganjax bench` and benchmarks/ (CPU defaults are smaller); `dcgan_width`: --width's
    default (the training default for `ganjax bench`; compare_torch.py times the article's 128)."""
    p.add_argument("--batch", default=None, help="comma-separated batch sizes (default dcgan: 64,256,1024 on "
                                                 "GPU, 64 on CPU; cyclegan: 1,4 on GPU, 1 on CPU)")
    p.add_argument("--dtype", default=None, help="compute dtypes (default float32,bfloat16; CPU cyclegan: "
                                                  "float32)")
    p.add_argument("--upsample", default=None, help="dcgan: conv_transpose,subpixel,resize_conv,phase "
                                                    "(default phase: the article's transposed conv, computed fast); "
                                                    "cyclegan: default phase, the reference's layer computed fast)")
    p.add_argument("--steps-per-dispatch", default=None,
                   help="K steps per call, comma-separated (default 1; CPU dcgan 5, the training loop's CPU cap)")
    p.add_argument("--fuse", default=None, choices=("scan", "loop"),
                   help="K steps as lax.scan or as a Python loop in one jit (default: loop on CPU, scan "
                        "elsewhere, as training does; see ganjax.train.steps.multi_step)")
    what = "the training default" if dcgan_width == DCGAN_TRAINING_WIDTH else "the article's network"
    p.add_argument("--width", type=int, default=dcgan_width,
                   help=f"dcgan g_width = d_width (default {dcgan_width}, {what}; the training default is "
                        f"{DCGAN_TRAINING_WIDTH}, the article's network 128)")
    p.add_argument("--size", type=int, default=None, help="cyclegan image size (default 256 GPU, 64 CPU)")
    p.add_argument("--ngf", type=int, default=64, help="cyclegan ngf = ndf (default 64)")
    p.add_argument("--blocks", type=int, default=9, help="cyclegan residual blocks (default 9)")
    p.add_argument("--iters", type=int, default=None, help="dispatches per timed block (default: ≈1 s)")
    p.add_argument("--repeats", type=int, default=5 if not cpu else 3, help="timed blocks (median)")
    p.add_argument("--warmup", type=int, default=1 if cpu else 2, help="untimed calls after compiling")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"JSON lines appended here (default {DEFAULT_OUT})")


def resolve_defaults(args, cpu: bool) -> list[str]:
    """Fill CPU/GPU-dependent defaults in place; returns notes to print about shortened defaults."""
    notes = []
    if args.batch is None:
        args.batch = ("64" if cpu else "64,256,1024") if args.model == "dcgan" else ("1" if cpu else "1,4")
        if cpu:
            notes.append(f"CPU: default --batch shortened to {args.batch} (GPU default "
                         f"{'64,256,1024' if args.model == 'dcgan' else '1,4'})")
    if args.model == "cyclegan" and args.size is None:
        args.size = 64 if cpu else 256
        if cpu:
            notes.append("CPU: default --size 64 (GPU default 256, the reference's crop)")
    if args.dtype is None:
        args.dtype = "float32" if (cpu and args.model == "cyclegan") else "float32,bfloat16"
        if cpu and args.model == "cyclegan":
            notes.append("CPU: default --dtype float32 (GPU default float32,bfloat16)")
    if args.steps_per_dispatch is None:  # CPU cyclegan: K copies of its step take minutes to compile
        args.steps_per_dispatch = "5" if (cpu and args.model == "dcgan") else "1"
    if args.model == "dcgan":
        notes.append(f"dcgan width {args.width}" + (" (the training default; --width 128 is the article's network)"
                                                    if args.width == DCGAN_TRAINING_WIDTH else ""))
    if args.upsample is None:
        # phase: the article's / the reference's transposed convolution, same parameters, computed fast;
        # conv_transpose as XLA runs it: ~1.5 img/s on XLA:CPU, 9x slower forward + backward on an H100
        args.upsample = "phase"
    parse_list(args.batch, int, "--batch"), parse_list(args.steps_per_dispatch, int, "--steps-per-dispatch")
    if cpu and args.fuse == "scan":
        notes.append("CPU: steps inside lax.scan run 20-45x slower on XLA:CPU (measured); training uses "
                     "--fuse loop here")
    return notes


def parse_list(text: str, kind=str, option: str = "a list option") -> list:
    """"64,256" → [64, 256]; a value that is not a `kind`, or no value, is a UsageError naming `option`."""
    try:
        values = [kind(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or (kind is int and min(values) <= 0):
        what = "positive integers" if kind is int else "values"
        raise UsageError(f"{option}: expected comma-separated {what}, got {text!r}")
    return values
