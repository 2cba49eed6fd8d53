"""What `ganjax eval` computes for each kind of run: digits.py (DCGANs on labelled digits: Fréchet distance
in a digit classifier's features, class coverage) and translation.py (CycleGAN / pix2pix: PSNR / SSIM of
G(test A) against the true B)."""
from __future__ import annotations


def evaluate_run(run: str, step: int | None = None, num_samples: int | None = None, verbose: bool = True,
                 inception: str | None = None, ema: bool = True) -> dict:
    """Evaluate the run in folder `run` at checkpoint `step` (default: the latest), as its kind is evaluated;
    writes RUN/eval.json, refreshes RUN/report.html and returns the numbers. num_samples: generated images
    (digit GANs). verbose: print the table. inception: converted pytorch-fid weights (default
    $GANJAX_INCEPTION_WEIGHTS; none: no Inception metrics). ema: the generator's EMA (where the run keeps
    one) or, False, the raw generator; eval.json records which."""
    from ganjax.evaluation.inception import weights_path
    from ganjax.metrics.inception import load_inception

    inception = weights_path(inception)
    if inception is not None:
        load_inception(inception)  # a missing or wrong file fails here, before anything is computed
    from ganjax.recipes import TRANSLATION
    from ganjax.train.workdir import load_config

    from ganjax.train.workdir import check_writable

    cfg = load_config(run)
    check_writable(run, "eval writes eval.json and its cached classifier into the run folder (copy the run "
                        "somewhere writable to evaluate it)")
    if cfg.experiment in TRANSLATION:
        from ganjax.evaluation.translation import evaluate_translation
        return evaluate_translation(run, step=step, verbose=verbose, inception=inception, ema=ema)
    from ganjax.evaluation.digits import evaluate_digits
    return evaluate_digits(run, step=step, num_samples=num_samples, verbose=verbose, inception=inception, ema=ema)
