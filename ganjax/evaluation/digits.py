"""What `ganjax eval` computes for image GANs trained on labelled digits (sklearn digits, MNIST/Fashion-MNIST IDX files).

A small classifier is trained once on the run's real training images and cached in the run folder. In its
feature space we report the Fréchet distance of generated images to the held-out real images, the same
distance for as many real training images (the floor: what a perfect generator would score at this
sample size), the share of each class among generated images, and the classifier's mean confidence.

`num_samples` (`--n`) images are generated: all of them count for the class shares and the confidence; the
Fréchet distance and its floor use the first min(n, held-out size) of them (`fd_sample_size`), because the
distance is compared with as many held-out real images. Writes RUN/eval.json and refreshes RUN/report.html.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ganjax import report
from ganjax.data import to_float
from ganjax.errors import UsageError
from ganjax.metrics.classifier import cached_classifier, embed
from ganjax.metrics.frechet import frechet_distance
from ganjax.inference import load_run, sample_images
from ganjax.train.workdir import load_config, write_atomic


MIN_SAMPLES = 10  # fewer generated (or held-out) images make the Fréchet distance meaningless


def evaluate_digits(run: str, step: int | None = None, num_samples: int | None = None, verbose: bool = True) -> dict:
    """Evaluate a digit GAN run; writes RUN/eval.json, refreshes RUN/report.html and returns the numbers. num_samples: generated images (default: the config's
    eval.num_samples). verbose: print the table, and announce the first classifier training with a progress
    bar (on a terminal)."""
    cfg = load_config(run)
    n = cfg.eval.num_samples if num_samples is None else num_samples
    if not isinstance(n, int) or n < MIN_SAMPLES:  # checked before anything is written
        what = "--n" if num_samples is not None else "eval.num_samples in the run's config.json (give --n)"
        raise UsageError(f"{what} must be at least {MIN_SAMPLES} generated samples, got {n!r}")
    cfg, recipe, state = load_run(run, step)
    ds = recipe.dataset
    if ds.train_labels is None:
        raise UsageError(f"eval needs labelled data; {ds.source} has no labels (use digits, idx:PATH with "
                         f"labels, or a folder with one sub-folder per class)")
    if len(ds.test) < MIN_SAMPLES:
        raise UsageError(f"eval needs held-out images; set data.holdout > 0 (now {cfg.data.holdout})")
    run_dir = os.path.abspath(os.path.expanduser(run))
    cache = os.path.join(run_dir, "eval", "classifier")
    model, params = cached_classifier(cache, ds.train, ds.train_labels, ds.num_classes, cfg.eval.classifier_steps,
                                      progress=None if verbose else False)
    m = min(n, len(ds.test), len(ds.train))  # generated, held-out and real-train images compared at one size
    f_test, p_test = embed(model, params, np.asarray(to_float(ds.test)))
    f_train, _ = embed(model, params, np.asarray(to_float(ds.train[:m])))
    fake = sample_images(recipe, state, n, seed=cfg.seed + 2)
    f_fake, p_fake = embed(model, params, fake)
    fd = frechet_distance(f_fake[:m], f_test[:m])
    floor = frechet_distance(f_train[:m], f_test[:m])
    share = np.bincount(p_fake.argmax(1), minlength=ds.num_classes) / n
    result = {
        "step": int(state.step),
        "num_samples": n,
        "frechet_distance": round(fd, 4),
        "frechet_floor_real_vs_real": round(floor, 4),
        "frechet_ratio": round(fd / max(floor, 1e-12), 3),
        "fd_sample_size": m,
        "class_share": [round(float(s), 4) for s in share],
        "min_class_share": round(float(share.min()), 4),
        "classes_at_least_5pct": int((share >= 0.05).sum()),
        "mean_confidence": round(float(p_fake.max(1).mean()), 4),
        "classifier_test_accuracy": round(float((p_test.argmax(1) == ds.test_labels).mean()), 4),
    }
    path = os.path.join(run_dir, "eval.json")
    write_atomic(path, json.dumps(result, indent=2))
    report.write_html(run_dir)  # its eval section, as after training and `ganjax explain`
    if verbose:
        print(format_table(result))
        print(f"wrote {path}")
    return result


def format_table(r: dict) -> str:
    rows = [("step", r["step"]), ("generated samples", r["num_samples"]),
            ("Fréchet sample size (each set)", r["fd_sample_size"]),
            ("Fréchet distance (generated vs held-out)", r["frechet_distance"]),
            ("Fréchet floor (real train vs held-out)", r["frechet_floor_real_vs_real"]),
            ("ratio to floor", r["frechet_ratio"]),
            ("classes with ≥ 5 % of samples", f"{r['classes_at_least_5pct']} / {len(r['class_share'])}"),
            ("smallest class share", r["min_class_share"]), ("mean confidence", r["mean_confidence"]),
            ("classifier accuracy on held-out reals", r["classifier_test_accuracy"])]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
