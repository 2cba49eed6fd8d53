"""Fréchet distance between two sets of feature vectors (the FID formula, any feature network)."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½), in float64."""
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # singular products (dead ReLU features) are handled below
        warnings.simplefilter("ignore")
        covmean, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(covmean).all():
        eps = 1e-6 * np.eye(a.shape[1])
        covmean = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
