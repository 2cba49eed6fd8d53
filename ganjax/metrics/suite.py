"""Every distribution metric of one pair of feature sets, and what a good value of each looks like.

`compare_features(real, fake)` is what `ganjax eval` reports in any feature space (a digit classifier's, or
Inception's pool features): Fréchet distance, KID (mean ± std over subsets), precision / recall (k = 3) and
density / coverage (k = 5). GUIDE holds one sentence per number for tables and reports.
"""
from __future__ import annotations

import warnings

import numpy as np

from ganjax.metrics.frechet import frechet_distance
from ganjax.metrics.kernel_distance import kid
from ganjax.metrics.knn_metrics import density_coverage, precision_recall

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000  # torch-fidelity's and clean-fid's default; smaller sets use subsets of half their size

GUIDE = {
    "frechet_distance": "Fréchet distance between the feature Gaussians: lower is better; compare only at equal "
                        "sample sizes and in the same feature space",
    "frechet_ratio": "Fréchet distance over what real data scores at this sample size: 1.0 is as close as "
                     "real data, <= 1.5 is good",
    "kid": "Kernel (MMD²) distance, unbiased: 0 when the distributions match (it scatters around 0 and may be "
           "slightly negative); its expected value does not depend on the sample size, but below 1000 images "
           "per set read it against kid_std",
    "precision": "share of generated images inside the real data's 3-NN spheres (fidelity): higher is better, "
                 "real data itself scores below 1 at finite sizes — compare with the real-vs-real row",
    "recall": "share of real images inside the generated images' 3-NN spheres (diversity): higher is better",
    "density": "about 1 when generated images are spread like real ones; > 1 crowds the densest real "
               "regions, < 1 falls off the real data",
    "coverage": "share of real images with a generated image inside their 5-NN sphere: higher is better, "
                "about 0.97 for matching distributions at large sizes",
    "min_class_share": "rarest class among generated samples: 0.10 for balanced digits; >= 0.08 means no class "
                       "is neglected",
    "mean_confidence": "the classifier's mean top probability on generated images: legible digits score near "
                       "its confidence on real ones",
    "psnr": "PSNR of the translation against the true B (dB): higher is better; must beat the identity row",
    "ssim": "SSIM against the true B: 1 is identical; must beat the identity row",
}


def compare_features(real: np.ndarray, fake: np.ndarray, kid_subset_size: int = KID_SUBSET_SIZE,
                     kid_subsets: int = KID_SUBSETS, seed: int = 2020) -> dict:
    """{frechet_distance, kid, kid_std, kid_subset_size, precision, recall, density, coverage, n_real, n_fake}
    of two (n, d) feature sets (floats, rounded for JSON)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = max(2, min(kid_subset_size, len(real) // 2, len(fake) // 2))  # whole sets would give std 0
    with warnings.catch_warnings():  # the subset size is reported, not warned about
        warnings.simplefilter("ignore", UserWarning)
        k = kid(real, fake, num_subsets=kid_subsets, subset_size=size, seed=seed)
    out = {"frechet_distance": frechet_distance(fake, real), "kid": k.kid, "kid_std": k.kid_std,
           "kid_subset_size": k.subset_size, **precision_recall(real, fake), **density_coverage(real, fake),
           "n_real": len(real), "n_fake": len(fake)}
    return {key: (round(float(v), 6) if isinstance(v, float) else v) for key, v in out.items()}
