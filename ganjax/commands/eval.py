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
    e.set_defaults(func=run)


def run(args, overrides) -> None:
    from ganjax.evaluation import evaluate_run

    evaluate_run(args.run, step=args.step, num_samples=args.n)
