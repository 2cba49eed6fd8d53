"""`ganjax explain RUN`: interpretability figures (ganjax/interpret/explain_run.py)."""
from __future__ import annotations


def add_parser(sub) -> None:
    from ganjax.config import seed_arg

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
    x.add_argument("--steps", type=int, default=256, help="IG Gauss-Legendre steps (default 256: a median completeness error under 1 %% on D's piecewise-linear logit)")
    x.add_argument("--layer", default=None, help="layer IG at this D / translator layer; for layers: "
                                                 "top-activating layer; for latent: GANSpace layer "
                                                 "(default: none = input pixels; layers: D's last spatial "
                                                 "layer; latent: G's output)")
    x.add_argument("--target", default=None, help='generator / translator output scalar: '
                                                  '"region:y0:y1,x0:x1" | "pixel:y,x" | "channel:c" '
                                                  '(default: the central region, 1/4 of the side)')
    x.add_argument("--sign", default=None, help="heat maps: all | positive | negative | absolute_value "
                                                "(default: all; saliency: absolute_value)")
    x.add_argument("--outlier-perc", type=float, default=2.0, help="heat-map outlier percent (default 2)")
    x.add_argument("--output", default=None, help="folder for the figures (default RUN/figures)")
    x.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    x.add_argument("--seed", type=seed_arg, default=0, help="seed of the generated images and noise (default 0)")
    x.add_argument("--quiet", action="store_true", help="no progress bars")
    x.add_argument("--raw", action="store_true", help="use the raw generator, not its EMA (default: the EMA, "
                                                         "where the run keeps one)")
    x.set_defaults(func=run)


def run(args, overrides) -> None:
    from ganjax.interpret.explain_run import explain

    explain(args.run, what=args.what, method=args.method, n=args.n, baseline=args.baseline,
            steps=args.steps, layer=args.layer, target=args.target, sign=args.sign,
            outlier_perc=args.outlier_perc, output=args.output, step=args.step, seed=args.seed,
            quiet=args.quiet, ema=not args.raw)
