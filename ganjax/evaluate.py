"""`ganjax eval` for image GANs trained on labelled digits (sklearn digits, MNIST/Fashion-MNIST IDX files).

A small classifier is trained once on the run's real training images and cached in the run folder. In its
feature space we report the Fréchet distance of generated images to the held-out real images, the same
distance for as many real training images (the floor: what a perfect generator would score at this
sample size), the share of each class among generated images, and the classifier's mean confidence.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ganjax.data import to_float
from ganjax.errors import UsageError
from ganjax.metrics.classifier import cached_classifier, embed
from ganjax.metrics.frechet import frechet_distance
from ganjax.runs import load_run
from ganjax.sampling import generate
from ganjax.train.workdir import load_config, write_atomic


def evaluate_run(run: str, step: int | None = None, num_samples: int | None = None, verbose: bool = True) -> dict:
    cfg = load_config(run)
    if cfg.experiment in ("cyclegan", "pix2pix"):
        from ganjax.eval_translation import evaluate_translation
        return evaluate_translation(run, step=step)
    cfg, recipe, state = load_run(run, step)
    ds = recipe.dataset
    if ds.train_labels is None:
        raise UsageError(f"eval needs labelled data; {ds.source} has no labels (use digits, idx:PATH with "
                         f"labels, or a folder with one sub-folder per class)")
    if len(ds.test) < 10:
        raise UsageError(f"eval needs held-out images; set data.holdout > 0 (now {cfg.data.holdout})")
    n = num_samples or cfg.eval.num_samples
    cache = os.path.join(os.path.abspath(run), "eval", "classifier")
    model, params = cached_classifier(cache, ds.train, ds.train_labels, ds.num_classes, cfg.eval.classifier_steps)
    f_test, p_test = embed(model, params, np.asarray(to_float(ds.test)))
    f_train, _ = embed(model, params, np.asarray(to_float(ds.train[: len(ds.test)])))
    fake = generate(recipe, state, max(n, len(ds.test)), seed=cfg.seed + 2)
    f_fake, p_fake = embed(model, params, fake)
    m = min(len(ds.test), len(f_train))
    fd = frechet_distance(f_fake[:m], f_test[:m])
    floor = frechet_distance(f_train[:m], f_test[:m])
    pred = p_fake[:n].argmax(1)
    share = np.bincount(pred, minlength=ds.num_classes) / n
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
        "mean_confidence": round(float(p_fake[:n].max(1).mean()), 4),
        "classifier_test_accuracy": round(float((p_test.argmax(1) == ds.test_labels).mean()), 4),
    }
    write_atomic(os.path.join(os.path.abspath(run), "eval.json"), json.dumps(result, indent=2))
    if verbose:
        print(format_table(result))
    return result


def format_table(r: dict) -> str:
    rows = [("step", r["step"]), ("Fréchet distance (generated vs held-out)", r["frechet_distance"]),
            ("Fréchet floor (real train vs held-out)", r["frechet_floor_real_vs_real"]),
            ("ratio to floor", r["frechet_ratio"]),
            ("classes with ≥ 5 % of samples", f"{r['classes_at_least_5pct']} / {len(r['class_share'])}"),
            ("smallest class share", r["min_class_share"]), ("mean confidence", r["mean_confidence"]),
            ("classifier accuracy on held-out reals", r["classifier_test_accuracy"])]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
