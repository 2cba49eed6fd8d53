"""`ganjax attack RUN`: the discriminator's accuracy under FGSM / PGD (ganjax/interpret/attack_report.py)."""
from __future__ import annotations


def add_parser(sub) -> None:
    from ganjax.config import seed_arg

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
    a.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    a.add_argument("--seed", type=seed_arg, default=0, help="seed of the generated images and attacks (default 0)")
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.add_argument("--raw", action="store_true", help="use the raw generator, not its EMA (default: the EMA, "
                                                         "where the run keeps one)")
    a.set_defaults(func=run)


def run(args, overrides) -> None:
    from ganjax.interpret.explain_run import attack

    attack(args.run, method=args.method, eps=args.eps, norm=args.norm, iters=args.iters, n=args.n,
           output=args.output, step=args.step, seed=args.seed, quiet=args.quiet, ema=not args.raw)
