"""PSNR / SSIM agree with scikit-image (float64 reference) per image."""

import jax
import numpy as np
import pytest
import skimage.data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganjax.metrics import psnr, ssim


def _pairs(channels):
    """Three image pairs in [-1, 1]: random noise, a real photo + noise, a shifted photo."""
    rng = np.random.RandomState(0)
    photo = skimage.data.astronaut()[120:168, 180:232].astype(np.float64) / 127.5 - 1.0
    if channels == 1:
        photo = photo @ np.array([[0.299], [0.587], [0.114]])
    noise_a = rng.uniform(-1, 1, photo.shape)
    noise_b = np.clip(noise_a + 0.5 * rng.randn(*photo.shape), -1, 1)
    noisy = np.clip(photo + 0.1 * rng.randn(*photo.shape), -1, 1)
    shifted = np.roll(photo, 3, axis=1)
    return np.stack([noise_a, photo, photo]), np.stack([noise_b, noisy, shifted])


def _skimage_ssim(a, b, **kw):
    opts = dict(data_range=2.0, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False, channel_axis=-1)
    opts.update(kw)
    return np.array([structural_similarity(x, y, **opts) for x, y in zip(a, b)])


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels):
    a, b = _pairs(channels)
    expected = _skimage_ssim(a, b)
    got = jax.jit(ssim)(a.astype(np.float32), b.astype(np.float32))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert len(set(np.round(expected, 3))) == 3  # the three cases really differ


@pytest.mark.parametrize("kw", [dict(use_sample_covariance=True),
                                dict(gaussian_weights=False, win_size=7),
                                dict(sigma=1.0, win_size=7)])
def test_ssim_options_match_skimage(kw):
    a, b = _pairs(3)
    np.testing.assert_allclose(ssim(a, b, **kw), _skimage_ssim(a, b, **kw), atol=1e-4)


def test_ssim_uint8_range():
    a, b = _pairs(3)
    a8 = np.round((a + 1) * 127.5).astype(np.uint8)
    b8 = np.round((b + 1) * 127.5).astype(np.uint8)
    expected = _skimage_ssim(a8.astype(np.float64), b8.astype(np.float64), data_range=255.0)
    np.testing.assert_allclose(ssim(a8, b8, data_range=255.0), expected, atol=1e-4)


def test_psnr_matches_skimage():
    for channels in (1, 3):
        a, b = _pairs(channels)
        expected = [peak_signal_noise_ratio(x, y, data_range=2.0) for x, y in zip(a, b)]
        np.testing.assert_allclose(jax.jit(psnr)(a, b), expected, rtol=1e-5)


def test_identical_images():
    a, _ = _pairs(3)
    np.testing.assert_allclose(ssim(a, a), 1.0, atol=1e-6)
    assert np.all(np.isposinf(psnr(a, a)))


def test_bad_inputs():
    a, b = _pairs(3)
    with pytest.raises(ValueError, match="one shape"):
        ssim(a, b[:, :-1])
    with pytest.raises(ValueError, match="exceeds"):
        ssim(a[:, :8, :8], b[:, :8, :8])
    with pytest.raises(ValueError, match="odd"):
        ssim(a, b, win_size=8)
