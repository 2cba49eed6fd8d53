"""Evaluation metrics for generated images, on any feature set: Fréchet distance, KID, precision / recall,
density / coverage; and per-image comparisons with a ground truth (PSNR, SSIM)."""

from ganjax.metrics.frechet import frechet_distance  # noqa: F401
from ganjax.metrics.image import psnr, ssim  # noqa: F401
from ganjax.metrics.kernel_distance import KIDResult, kid, polynomial_mmd2  # noqa: F401
from ganjax.metrics.knn_metrics import density_coverage, prdc, precision_recall  # noqa: F401
from ganjax.metrics.inception import inception_features, load_inception  # noqa: F401
from ganjax.metrics.suite import GUIDE, compare_features  # noqa: F401
