"""The `ganjax` command: train, sample, eval (and more as capabilities land).

Errors the user can fix are printed as one line (`ganjax: error: ...`) with exit code 2; `--debug`
shows the full traceback instead.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from ganjax import errors
from ganjax.errors import UsageError

def _user_errors():
    from ganjax.errors import GanjaxError
    return (GanjaxError, FileNotFoundError, FileExistsError)


def split_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Pull `--config.a.b=value` (or `--config.a.b value`) out of argv."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config."):].partition("=")
            if not eq:
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    raise UsageError(f"--config.{key} needs a value")
                value, i = argv[i + 1], i + 1
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def cmd_train(args, overrides):
    from ganjax import config as config_lib
    from ganjax import parallel
    from ganjax.train.loop import train_and_evaluate

    parallel.initialize(args.distributed, args.coordinator, args.num_processes, args.process_id)
    cfg = config_lib.load(args.config, overrides)
    last = train_and_evaluate(cfg, args.workdir, progress=not args.quiet)
    if last and parallel.is_writer():
        print("final: " + "  ".join(f"{k}={v:.4g}" for k, v in last.items()
                                    if isinstance(v, float) and k != "time"))


def cmd_sweep(args, overrides):
    from ganjax.sweep import run_sweep

    run_sweep(args.config, args.workdir, overrides, stack=args.stack, members_per_program=args.members_per_program,
              devices=args.devices, best=args.best, evaluate=args.eval, progress=not args.quiet, part=args.part)


def cmd_sample(args, overrides):
    from ganjax.sampling import sample_run

    path = sample_run(args.run, args.n, args.output, step=args.step, seed=args.seed)
    print(f"wrote {args.n} samples to {path}")


def cmd_eval(args, overrides):
    from ganjax.recipes import TRANSLATION
    from ganjax.train.workdir import load_config

    if load_config(args.run).experiment in TRANSLATION:  # PSNR / SSIM against ground truth
        from ganjax.eval_translation import evaluate_translation
        evaluate_translation(args.run, step=args.step)
        return
    from ganjax.evaluate import evaluate_run

    evaluate_run(args.run, step=args.step, num_samples=args.n)


def cmd_translate(args, overrides):
    from ganjax.translate import translate_run

    written = translate_run(args.run, args.input, args.output, direction=args.direction, mode=args.mode,
                            side_by_side=args.side_by_side, step=args.step, overwrite=args.overwrite)
    print(f"wrote {len(written)} image(s) to {args.output} ({args.mode} mode, {args.direction})")


def cmd_explain(args, overrides):
    from ganjax.explain import explain

    explain(args.run, what=args.what, method=args.method, n=args.n, baseline=args.baseline,
            steps=args.steps, layer=args.layer, target=args.target, sign=args.sign,
            outlier_perc=args.outlier_perc, output=args.output, step=args.step, seed=args.seed,
            quiet=args.quiet)


def cmd_attack(args, overrides):
    from ganjax.explain import attack

    attack(args.run, method=args.method, eps=args.eps, norm=args.norm, iters=args.iters, n=args.n,
           output=args.output, step=args.step, seed=args.seed, quiet=args.quiet)


def cmd_bench(args, overrides):
    from ganjax.bench import main as bench_main

    bench_main([args.model, *args.options])


def build_parser() -> argparse.ArgumentParser:
    p = errors.ArgumentParser(prog="ganjax", description="GAN experiments in JAX/Flax.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an experiment config (resumes if the workdir holds its run)",
                       description="Train EXPERIMENT (experiments/NAME.py[:arg]); override any config key "
                                   "with --config.a.b=value.")
    t.add_argument("config", help="experiments/NAME.py[:runlocal,key=value]")
    t.add_argument("--workdir", required=True, help="run folder (created, or resumed)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="join a multi-host job described by the cluster's environment (SLURM, Open MPI, "
                        "Cloud TPU pods, Kubernetes); run the same command on every host")
    t.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="multi-host without a cluster manager: process 0's address (with the next two)")
    t.add_argument("--num-processes", type=int, default=None, metavar="N")
    t.add_argument("--process-id", type=int, default=None, metavar="I")
    t.set_defaults(func=cmd_train)

    sw = sub.add_parser("sweep", help="train the members of an experiment's sweep(add), stacked where they can be",
                        description="Train every member of EXPERIMENT's sweep(add). Members that differ only in "
                                    "seed, optim.*.lr/b1/b2 or loss weights train together in one vmapped "
                                    "program; others run one program after another. Each member is an "
                                    "ordinary run folder WORKDIR/member_NNN; --config.a.b=value applies to all.")
    sw.add_argument("config", help="experiments/NAME.py[:runlocal,key=value] defining sweep(add)")
    sw.add_argument("--workdir", required=True, help="sweep folder (created, or resumed)")
    sw.add_argument("--devices", type=int, default=1, help="split each program's members over this many "
                                                           "devices (default 1)")
    sw.add_argument("--members-per-program", type=int, default=None,
                    help="at most this many members per compiled program (default: all that stack)")
    sw.add_argument("--stack", default="auto", choices=("auto", "require", "none"),
                    help="auto (default): stack what can be; require: error unless all stack; none: one "
                         "member per program (compiled once, reused)")
    sw.add_argument("--best", default="auto", help="METRIC[:min|max] that picks the best member (default: "
                                                   "frechet_ratio when evaluated, else g_loss)")
    sw.add_argument("--part", default=None, metavar="K/N",
                    help="train only members whose index is K modulo N: one host's share of a sweep spread over "
                         "N hosts (each host its own --workdir; e.g. --part $SLURM_PROCID/$SLURM_NTASKS)")
    sw.add_argument("--eval", action="store_true", help="run `ganjax eval` on each member after training")
    sw.add_argument("--quiet", action="store_true", help="no progress bars")
    sw.set_defaults(func=cmd_sweep)

    s = sub.add_parser("sample", help="write N generated images from a run's checkpoint")
    s.add_argument("run", help="run folder")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--output", required=True, help="a folder (one PNG per sample), FILE.png (one grid of them) or FILE.npz "
                                                    "(uint8 array)")
    s.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("eval", help="evaluate a run: digit GANs by Fréchet distance and class coverage; "
                                    "CycleGAN / pix2pix by PSNR and SSIM of the test set against its true B, "
                                    "beside the identity baseline")
    e.add_argument("run", help="run folder")
    e.add_argument("--step", type=int, default=None)
    e.add_argument("--n", type=int, default=None, help="number of generated samples (digit GANs; default: the "
                   "config's eval.num_samples; at least 10); the Fréchet distance uses min(n, held-out images)")
    e.set_defaults(func=cmd_eval)

    tr = sub.add_parser("translate", help="translate images with a cyclegan / pix2pix run (any size)",
                        description="Translate an image or a folder of images of any size with a trained "
                                    "CycleGAN or pix2pix run; one PNG of the input's size per input.")
    tr.add_argument("run", help="run folder")
    tr.add_argument("--input", required=True, help="an image file or a folder of images")
    tr.add_argument("--output", required=True, help="folder for the translated PNGs")
    tr.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                    help="AtoB uses G_A, BtoA G_B (cyclegan only); default AtoB")
    tr.add_argument("--mode", default="auto", choices=("auto", "resize", "tile"),
                    help="resize: to the training crop size and back; tile: overlapping crop-size tiles at "
                         "full resolution, blended; auto (default): tile images longer than 2x the crop, "
                         "resize the others")
    tr.add_argument("--side-by-side", action="store_true", help="write input | output")
    tr.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    tr.add_argument("--overwrite", action="store_true", help="replace existing files in --output")
    tr.set_defaults(func=cmd_translate)

    x = sub.add_parser("explain", help="interpretability figures: attributions, layers, latent space",
                       description="Figures (PNG) and numbers (JSON/CSV) in RUN/figures/ (or --output), "
                                   "listed in RUN/report.html; nothing else in the run changes.")
    x.add_argument("run", help="run folder")
    x.add_argument("--what", default="discriminator",
                   help="discriminator (default) | generator | translator | layers | latent")
    x.add_argument("--method", default="ig", help="ig (default) | saliency | gradxinput | smoothgrad")
    x.add_argument("--n", type=int, default=None, help="images or latents (default: 16; generator 8, "
                                                       "layers 256, latent 8, translator 4)")
    x.add_argument("--baseline", default=None, help="IG baseline: black (default; translator: noise) | blur | "
                                                    "noise | mean | zeros; generator: zeros (default) | "
                                                    "mean latent")
    x.add_argument("--steps", type=int, default=64, help="IG Gauss-Legendre steps (default 64)")
    x.add_argument("--layer", default=None, help="layer IG at this D / translator layer; for layers: "
                                                 "top-activating layer; for latent: GANSpace layer")
    x.add_argument("--target", default=None, help='generator / translator output scalar: '
                                                  '"region:y0:y1,x0:x1" | "pixel:y,x" | "channel:c"')
    x.add_argument("--sign", default=None, help="heat maps: all | positive | negative | absolute_value "
                                                "(default: all; saliency: absolute_value)")
    x.add_argument("--outlier-perc", type=float, default=2.0, help="heat-map outlier percent (default 2)")
    x.add_argument("--output", default=None, help="folder for the figures (default RUN/figures)")
    x.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--quiet", action="store_true", help="no progress bars")
    x.set_defaults(func=cmd_explain)

    a = sub.add_parser("attack", help="discriminator accuracy under FGSM / PGD attacks",
                       description="Reals are pushed toward 'fake', fakes toward 'real'; D's accuracy vs "
                                   "epsilon as PNG, table and JSON in RUN/figures/ (or --output).")
    a.add_argument("run", help="run folder")
    a.add_argument("--method", default="pgd", help="pgd (default) | fgsm")
    a.add_argument("--eps", default="0.01,0.03,0.1",
                   help="comma-separated budgets in [-1, 1] image units (2x the same eps in [0, 1] "
                        "units; 8/255 in [0, 1] is 0.063 here); default 0.01,0.03,0.1")
    a.add_argument("--norm", default="linf", help="linf (default) | l2 (pgd only)")
    a.add_argument("--iters", type=int, default=10, help="PGD steps (default 10)")
    a.add_argument("--n", type=int, default=256, help="real and generated images each (default 256)")
    a.add_argument("--output", default=None, help="folder for the figures (default RUN/figures)")
    a.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.set_defaults(func=cmd_attack)

    bn = sub.add_parser("bench", help="throughput of the full train step (images/s, compile, memory, FLOPs)",
                        description="Time ganjax's compiled train step on synthetic data: "
                                    "`ganjax bench dcgan --help` lists the options.")
    bn.add_argument("model", choices=("dcgan", "cyclegan"))
    bn.add_argument("options", nargs=argparse.REMAINDER, help="--batch 64,256 --dtype float32,bfloat16 ...")
    bn.set_defaults(func=cmd_bench)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """ganjax's own warnings (skipped image files, settings that do nothing, ...) as one plain line on
    stderr, like its errors; other libraries' warnings as Python shows them."""
    if os.path.abspath(filename).startswith(os.path.dirname(os.path.abspath(__file__)) + os.sep):
        print(f"ganjax: warning: {message}", file=sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from ganjax import xla_flags
    xla_flags.apply()  # before JAX starts a backend (see ganjax/xla_flags.py for what and why)
    import logging
    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's notes on read-only managers etc.
    try:
        rest, overrides = split_overrides(argv)
    except UsageError as e:
        print(f"ganjax: error: {e}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(rest)
    if overrides and args.command not in ("train", "sweep"):
        print("ganjax: error: --config.* overrides apply to train only (and to sweep)", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args, overrides)


def _run(args, overrides) -> int:
    if args.debug:
        args.func(args, overrides)
        return 0
    try:
        args.func(args, overrides)
    except KeyboardInterrupt:
        print("ganjax: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:
        code = getattr(e, "code", 2)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"ganjax: {'error: ' if code == 2 else ''}{msg}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
