"""What `ganjax eval` computes for each kind of run: digits.py (DCGANs on labelled digits: Fréchet distance
in a digit classifier's features, class coverage) and translation.py (CycleGAN / pix2pix: PSNR / SSIM of
G(test A) against the true B)."""
from __future__ import annotations


def evaluate_run(run: str, step: int | None = None, num_samples: int | None = None, verbose: bool = True) -> dict:
    """Evaluate the run in folder `run` at checkpoint `step` (default: the latest), as its kind is evaluated;
    writes RUN/eval.json, refreshes RUN/report.html and returns the numbers. num_samples: generated images
    (digit GANs). verbose: print the table."""
    from ganjax.recipes import TRANSLATION
    from ganjax.train.workdir import load_config

    if load_config(run).experiment in TRANSLATION:
        from ganjax.evaluation.translation import evaluate_translation
        return evaluate_translation(run, step=step, verbose=verbose)
    from ganjax.evaluation.digits import evaluate_digits
    return evaluate_digits(run, step=step, num_samples=num_samples, verbose=verbose)
