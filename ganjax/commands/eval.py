"""`ganjax eval RUN`: evaluate a run as its kind is evaluated (ganjax/evaluation/)."""
from __future__ import annotations


def add_parser(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a run: digit GANs by Fréchet distance and class coverage; "
                                    "CycleGAN / pix2pix by PSNR and SSIM of the test set against its true B, "
                                    "beside the identity baseline")
    e.add_argument("run", help="run folder")
    e.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    e.add_argument("--n", type=int, default=None, help="number of generated samples (digit GANs; default: the "
                   "config's eval.num_samples; at least 10); the Fréchet distance uses min(n, held-out images)")
    e.add_argument("--inception", default=None, metavar="WEIGHTS.npz",
                   help="also report Inception FID / KID / precision / recall, as papers do, with pytorch-fid's "
                        "weights converted once by `python -m ganjax.metrics.inception_convert` (default: "
                        "$GANJAX_INCEPTION_WEIGHTS; unset: none). Translation runs: G(test A) against test B")
    e.add_argument("--raw", action="store_true", help="use the raw generator, not its EMA (default: the EMA, "
                                                         "where the run keeps one)")
    e.set_defaults(func=run)


def run(args, overrides) -> None:
    from ganjax.evaluation import evaluate_run

    evaluate_run(args.run, step=args.step, num_samples=args.n, inception=args.inception,
                 ema=not args.raw)
