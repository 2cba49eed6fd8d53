import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import losses

REAL = jnp.array([2.0, -1.0])
FAKE = jnp.array([0.5, -3.0])
sig = lambda x: 1 / (1 + np.exp(-np.asarray(x)))


def test_nonsaturating_pair_is_the_articles():
    d = -np.mean(np.log(sig(REAL))) - np.mean(np.log(1 - sig(FAKE)))
    g = -np.mean(np.log(sig(FAKE)))
    adv = losses.adversarial("nonsaturating")
    np.testing.assert_allclose(adv.d_loss(REAL, FAKE), d, rtol=1e-6)
    np.testing.assert_allclose(adv.g_loss(FAKE), g, rtol=1e-6)


def test_minimax_generator():
    np.testing.assert_allclose(losses.adversarial("minimax").g_loss(FAKE), np.mean(np.log(1 - sig(FAKE))), rtol=1e-6)


def test_hinge():
    adv = losses.adversarial("hinge")
    # relu(1-2)=0, relu(1+1)=2 → 1.0 ; relu(1+.5)=1.5, relu(1-3)=0 → .75
    np.testing.assert_allclose(adv.d_loss(REAL, FAKE), 1.75, rtol=1e-6)
    np.testing.assert_allclose(adv.g_loss(FAKE), 1.25, rtol=1e-6)


def test_least_squares():
    adv = losses.adversarial("least_squares")
    np.testing.assert_allclose(adv.d_loss(REAL, FAKE), (1 + 4) / 2 + (0.25 + 9) / 2, rtol=1e-6)
    np.testing.assert_allclose(adv.g_loss(FAKE), (0.25 + 16) / 2, rtol=1e-6)


def test_wasserstein():
    adv = losses.adversarial("wgan_gp")
    np.testing.assert_allclose(adv.d_loss(REAL, FAKE), -1.25 - 0.5, rtol=1e-6)
    np.testing.assert_allclose(adv.g_loss(FAKE), 1.25, rtol=1e-6)


def test_unknown_loss():
    with pytest.raises(ValueError, match="valid: nonsaturating"):
        losses.adversarial("bce")


def test_penalties_on_a_linear_critic():
    w = jnp.array([[3.0], [4.0]])  # ‖∇D‖ = 5 everywhere
    d_fn = lambda x: (x.reshape(x.shape[0], -1) @ w)[:, 0]
    x = jnp.ones((4, 2))
    np.testing.assert_allclose(losses.r1_penalty(d_fn, x), 25.0, rtol=1e-6)
    np.testing.assert_allclose(losses.gradient_penalty(d_fn, x, -x, jax.random.PRNGKey(0)), 16.0, rtol=1e-5)


def test_style_and_content():
    f = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 3))
    assert float(losses.style_loss([f], [f])) == 0.0 and float(losses.content_loss([f], [f])) == 0.0
    g = losses.gram(f)
    assert g.shape == (2, 3, 3)
    np.testing.assert_allclose(g, np.transpose(g, (0, 2, 1)), rtol=1e-6)
    assert float(losses.style_loss([f], [2 * f])) > 0


def test_histogram_matching_is_the_per_channel_wasserstein_distance():
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 5, 5, 3), minval=-1, maxval=1)
    # the same pixels in any order, across images and positions: one histogram, no loss
    shuffled = jax.random.permutation(jax.random.PRNGKey(1), x.reshape(-1, 3), axis=0).reshape(x.shape)
    np.testing.assert_allclose(losses.histogram_matching(x, shuffled), 0.0, atol=1e-7)
    # a shift of each channel's levels by s costs |s|: mean over channels of (0.1, 0.2, 0) = 0.1
    np.testing.assert_allclose(losses.histogram_matching(x, x + jnp.array([0.1, -0.2, 0.0])), 0.1, rtol=1e-5)
    # a monotone tone curve against its input, by hand: mean |sort(x^3) - sort(x)| = mean |x^3 - x|
    np.testing.assert_allclose(losses.histogram_matching(x ** 3, x), float(jnp.mean(jnp.abs(x ** 3 - x))), rtol=1e-5)
    # pixel-wise differences that keep the set (a flipped image) cost nothing; L1 would charge them
    assert float(losses.histogram_matching(x, x[:, ::-1])) < 1e-7 < float(losses.l1(x, x[:, ::-1]))
    # a gradient reaches the image: more contrast than the target is pushed back
    g = jax.grad(lambda y: losses.histogram_matching(y, x))(1.5 * x)
    assert float(jnp.sum(g * x)) > 0
    with pytest.raises(ValueError, match="one shape"):
        losses.histogram_matching(x, x[:2])


def test_histogram_specification_pulls_each_pixel_to_the_targets_level_at_its_rank():
    u8 = np.random.default_rng(0).integers(0, 256, (8, 12, 12, 3)).astype(np.uint8)
    x = jnp.asarray(u8, jnp.float32) / 127.5 - 1.0
    hist = losses.level_histogram(x)
    assert hist.shape == (256, 3)
    np.testing.assert_allclose(np.asarray(hist.sum(0)), 1.0, rtol=1e-6)
    # 256 bins on [-1, 1]: the uint8 level v falls in bin v (its share counted by hand)
    np.testing.assert_allclose(float(hist[17, 1]), float(np.mean(u8[..., 1] == 17)), rtol=1e-6)
    levels = losses.level_quantiles(u8)
    np.testing.assert_allclose(levels[[0, -1]], [[-1.0] * 3, [1.0] * 3], atol=1e-6)  # min and max: 0 and 255
    # the source already has the target's levels: nothing to move (up to a bin's width)
    assert float(losses.histogram_specification(x, hist, levels)) < 2.0 / 256
    # a target 0.2 brighter: every pixel is 0.2 off, and the gradient pushes every pixel up
    assert float(losses.histogram_specification(x, hist, levels + 0.2)) == pytest.approx(0.2, abs=2.0 / 256)
    g = jax.grad(lambda y: losses.histogram_specification(y, hist, levels + 0.2))(x)
    assert float(jnp.max(g)) < 0
    # a monotone tone curve T as the target: each pixel's target is T(pixel) itself, so the loss is mean |x - T(x)|,
    # in whatever order the pixels of this one batch come (the histogram, not the batch, sets the ranks)
    curve = lambda v: jnp.tanh(2.0 * v)
    expected = float(jnp.mean(jnp.abs(x - curve(x))))
    assert float(losses.histogram_specification(x, hist, curve(levels))) == pytest.approx(expected, abs=0.01)
    dark = x[:2] * 0.5 - 0.5  # a batch of other content: judged against the running histogram, not its own ranks
    expected_dark = float(jnp.mean(jnp.abs(dark - curve(dark))))
    assert float(losses.histogram_specification(dark, hist, curve(levels))) == pytest.approx(expected_dark, abs=0.01)


def test_feature_matching_compares_set_means():
    f = jax.random.normal(jax.random.PRNGKey(0), (4, 4, 4, 3))
    # the same set in another order, and the same positions shuffled: equal means, no loss
    perm = f[::-1].reshape(4, 16, 3)[:, ::-1].reshape(4, 4, 4, 3)
    np.testing.assert_allclose(losses.feature_matching([f], [perm]), 0.0, atol=1e-12)
    # a shift of channel c by s moves that channel's mean by s: mean over 3 channels of (1, 2, 0)^2 = 5/3
    shifted = f + jnp.array([1.0, 2.0, 0.0])
    np.testing.assert_allclose(losses.feature_matching([f], [shifted]), 5 / 3, rtol=1e-5)
    # per-image differences that cancel over the set are not penalised (style/content loss would be)
    swap = jnp.concatenate([f[:2] + 1.0, f[2:] - 1.0])
    np.testing.assert_allclose(losses.feature_matching([f], [swap]), 0.0, atol=1e-10)
    assert float(losses.content_loss([f], [swap])) > 0.9
    # summed over layers
    np.testing.assert_allclose(losses.feature_matching([f, f], [shifted, shifted]), 10 / 3, rtol=1e-5)
