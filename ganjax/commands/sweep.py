"""`ganjax sweep EXPERIMENT --workdir DIR`: train every member of an experiment's sweep(add)."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="train the members of an experiment's sweep(add), stacked where they can be",
                        description="Train every member of EXPERIMENT's sweep(add). Members that differ only in "
                                    "seed, optim.*.lr/b1/b2, loss weights or ema.kimg/ema.rampup train together "
                                    "in one vmapped program; others run one program after another. Each member "
                                    "is an ordinary run folder WORKDIR/member_NNN; --config.a.b=value applies to "
                                    "all. Then each member is evaluated as `ganjax eval` does (when its run has an "
                                    "evaluation) and the best one is picked by that quality, not by a GAN loss.")
    sw.add_argument("config", help="experiments/NAME.py[:runlocal,key=value] defining sweep(add)")
    sw.add_argument("--workdir", required=True, help="sweep folder (created, or resumed)")
    sw.add_argument("--devices", type=int, default=1, help="split each program's members over this many "
                                                           "devices (default 1)")
    sw.add_argument("--members-per-program", type=int, default=None,
                    help="at most this many members per compiled program (default: all that stack)")
    sw.add_argument("--stack", default="auto", choices=("auto", "require", "none"),
                    help="auto (default): stack what can be; require: error unless all stack; none: one "
                         "member per program (compiled once, reused)")
    sw.add_argument("--best", default="auto",
                    help="METRIC[:min|max] that picks the best member: any column of the summary. Default auto: "
                         "digit GANs the lowest frechet_ratio among members whose every class has at least 8%% "
                         "of the samples (min_class_share; all members if none has), translation runs the "
                         "highest psnr, else inception_fid, else g_loss (not image quality: a warning says so)")
    sw.add_argument("--part", default=None, metavar="K/N",
                    help="train only members whose index is K modulo N: one host's share of a sweep spread over "
                         "N hosts (each host its own --workdir; e.g. --part $SLURM_PROCID/$SLURM_NTASKS; "
                         "default: all members)")
    sw.add_argument("--eval", action=argparse.BooleanOptionalAction, default=None,
                    help="run `ganjax eval` on each member after training (default: on for members whose run "
                         "has an evaluation: digit GANs on labelled data with a held-out part, CycleGAN / "
                         "pix2pix with a true B; the others are skipped with a note). --eval: required, an "
                         "error before training when a member has none; --no-eval: skip it (the summary "
                         "uses evaluations already there, else g_loss)")
    sw.add_argument("--quiet", action="store_true", help="no progress bars")
    sw.set_defaults(func=run, takes_overrides=True)


def run(args, overrides) -> None:
    from ganjax.sweep import run_sweep

    run_sweep(args.config, args.workdir, overrides, stack=args.stack, members_per_program=args.members_per_program,
              devices=args.devices, best=args.best, evaluate=args.eval, progress=not args.quiet, part=args.part)
