"""Evaluation metrics for generated images."""

from ganjax.metrics.image import psnr, ssim  # noqa: F401
