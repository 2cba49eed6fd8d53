"""Inception FID / KID / precision-recall of generated images against real ones, as papers report them:
pytorch-fid's InceptionV3 pool features (ganjax/metrics/inception.py) compared by ganjax.metrics.suite.

The weights are pytorch-fid's published file, converted once (the error message says how); they are found
through `--inception PATH` or the environment variable GANJAX_INCEPTION_WEIGHTS. Nothing is downloaded.
"""
from __future__ import annotations

import os

import numpy as np

ENV = "GANJAX_INCEPTION_WEIGHTS"


def weights_path(path: str | None) -> str | None:
    """`path`, else $GANJAX_INCEPTION_WEIGHTS, else None (Inception metrics are then skipped)."""
    return path or os.environ.get(ENV) or None


def inception_scores(real: np.ndarray, fake: np.ndarray, path: str, progress: bool | None = None) -> dict:
    """{inception_fid, inception_kid, inception_kid_std, inception_precision, ..., n_real, n_fake} of two NHWC
    image sets (uint8, or floats in [-1, 1]; any size, 1 or 3 channels)."""
    from ganjax.metrics.inception import inception_features, load_inception
    from ganjax.metrics.suite import compare_features

    params = load_inception(path)
    f_real = inception_features(real, params, progress=progress)
    f_fake = inception_features(fake, params, progress=progress)
    scores = compare_features(f_real, f_fake)
    renamed = {"frechet_distance": "inception_fid", "n_real": "inception_n_real", "n_fake": "inception_n_fake"}
    return {renamed.get(k, f"inception_{k}"): v for k, v in scores.items()}


def format_lines(r: dict) -> list[str]:
    """Printed after an eval's table when Inception numbers are present."""
    if "inception_fid" not in r:
        return []
    return [f"Inception (pytorch-fid weights), {r['inception_n_fake']} generated vs {r['inception_n_real']} real: "
            f"FID {r['inception_fid']:.2f}, KID x 1e3 {r['inception_kid'] * 1e3:.2f} ± "
            f"{r['inception_kid_std'] * 1e3:.2f} (subsets of {r['inception_kid_subset_size']}), precision "
            f"{r['inception_precision']:.3f}, recall {r['inception_recall']:.3f}, density "
            f"{r['inception_density']:.3f}, coverage {r['inception_coverage']:.3f}",
            "  FID and KID: lower is better, 0 for identical distributions; FID is biased upward at small sample "
            "sizes (papers use 10k-50k images), so compare only at equal sizes"]
