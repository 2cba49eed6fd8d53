"""FGSM, PGD and the robustness curve on tiny discriminators."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.interpret import fgsm, pgd, robustness_curve
from tiny_models import tiny_d


@pytest.fixture(scope="module")
def tiny():
    _, _, x, f = tiny_d(4)
    return f, x


@pytest.fixture(scope="module")
def linear():
    w = jax.random.normal(jax.random.key(5), (8, 8, 1))
    f = lambda z: jnp.sum(z * w, axis=(1, 2, 3)) + 0.1  # noqa: E731
    return f, w


@pytest.mark.parametrize("direction", [1, -1])
def test_fgsm_linear(linear, direction):
    f, w = linear
    x = jax.random.uniform(jax.random.key(2), (3, 8, 8, 1), minval=-0.5, maxval=0.5)
    eps = 0.1
    adv = fgsm(f, x, eps, direction=direction)
    np.testing.assert_allclose(adv, x + direction * eps * jnp.sign(w), atol=1e-6)
    assert np.all(direction * (f(adv) - f(x)) > 0)


def test_fgsm_clips_to_image_range(linear):
    f, _ = linear
    x = jnp.full((2, 8, 8, 1), 0.95)
    adv = fgsm(f, x, 0.2)
    assert float(adv.max()) <= 1.0 and float(adv.min()) >= -1.0


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_ball_and_range(tiny, norm):
    f, x = tiny
    eps = 0.3 if norm == "linf" else 1.5
    for direction in (1, -1):
        adv = pgd(f, x, eps, jax.random.key(3), norm=norm, n_iter=8, direction=direction)
        d = np.asarray(adv - x).reshape(x.shape[0], -1)
        if norm == "linf":
            assert np.abs(d).max() <= eps + 1e-6
        else:
            assert np.linalg.norm(d, axis=1).max() <= eps * (1 + 1e-5)
        assert float(adv.min()) >= -1.0 and float(adv.max()) <= 1.0
        assert np.all(direction * np.asarray(f(adv) - f(x)) > 0)  # PGD moves f the asked way
        assert np.abs(d).max() > 0.5 * eps / np.sqrt(d.shape[1] if norm == "l2" else 1)


def test_pgd_beats_or_matches_fgsm(tiny):
    f, x = tiny
    eps = 0.2
    gain_pgd = f(pgd(f, x, eps, jax.random.key(0), n_iter=20, random_start=False)) - f(x)
    gain_fgsm = f(fgsm(f, x, eps)) - f(x)
    assert float(jnp.mean(gain_pgd)) >= float(jnp.mean(gain_fgsm)) - 1e-4


def test_pgd_zero_eps_is_identity(tiny):
    f, x = tiny
    np.testing.assert_allclose(pgd(f, x, 0.0, jax.random.key(0), n_iter=3), x, atol=0)


def test_negative_eps_raises(tiny):
    f, x = tiny
    with pytest.raises(ValueError):
        fgsm(f, x, -0.1)
    with pytest.raises(ValueError):
        pgd(f, x, -0.1, jax.random.key(0))
    with pytest.raises(ValueError):
        pgd(f, x, 0.1, jax.random.key(0), norm="l1")


def test_robustness_curve(linear):
    f, w = linear
    # reals pushed along +sign(w) (logit > 0), fakes along -sign(w) (logit < 0)
    noise = 0.05 * jax.random.normal(jax.random.key(7), (6, 8, 8, 1))
    real = jnp.clip(0.1 * jnp.sign(w) + noise, -1, 1)
    fake = jnp.clip(-0.1 * jnp.sign(w) + noise, -1, 1)
    assert np.all(np.asarray(f(real)) > 0) and np.all(np.asarray(f(fake)) < 0)
    for method in ("pgd", "fgsm"):
        curve = robustness_curve(f, real, fake, [0.0, 0.02, 0.5], jax.random.key(1),
                                 method=method, n_iter=5)
        assert curve["accuracy"].shape == (3,)
        assert curve["accuracy"][0] == 1.0  # clean D is perfect
        assert curve["accuracy"][-1] == 0.0  # a large ε flips every decision of a linear D
        assert np.all(np.diff(curve["accuracy"]) <= 0)
    with pytest.raises(ValueError):
        robustness_curve(f, real, fake, [0.1], jax.random.key(1), method="cw")
