import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models.dcgan import Discriminator, Discriminator64, Generator, Generator64
from ganjax.models.upsample import METHODS, Upsample, depth_to_space


@pytest.mark.parametrize("method", METHODS)
def test_article_generator_makes_28x28_digits(method):
    g = Generator(width=8, upsample=method)
    z = jnp.ones((3, 100))
    v = g.init(jax.random.PRNGKey(0), z)
    x = g.apply(v, z)
    assert x.shape == (3, 28, 28, 1) and x.dtype == jnp.float32
    assert float(jnp.abs(x).max()) <= 1.0  # tanh


def test_article_discriminator_returns_logits_not_probabilities():
    d = Discriminator(width=8)
    x = jnp.full((2, 28, 28, 1), 50.0)  # far outside the image range: logits are unbounded, probabilities are not
    v = d.init(jax.random.PRNGKey(0), x)
    out = d.apply(v, x)
    assert out.shape == (2,) and float(jnp.abs(out).max()) > 1.0


def test_bfloat16_compute_keeps_float32_params():
    g = Generator(width=8, dtype=jnp.bfloat16)
    v = g.init(jax.random.PRNGKey(0), jnp.ones((1, 100)))
    assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(v))
    assert g.apply(v, jnp.ones((1, 100))).dtype == jnp.float32


def test_dcgan64_shapes_and_batch_stats():
    g, d = Generator64(width=8), Discriminator64(width=8)
    z = jnp.ones((2, 100))
    vg = g.init(jax.random.PRNGKey(0), z, train=False)
    x, upd = g.apply(vg, z, mutable=["batch_stats"])
    assert x.shape == (2, 64, 64, 3) and "batch_stats" in upd
    vd = d.init(jax.random.PRNGKey(1), x, train=False)
    assert d.apply(vd, x, train=False).shape == (2,)


def test_depth_to_space_matches_pixel_shuffle_order():
    x = jnp.arange(8.0).reshape(1, 1, 1, 8)  # C_out = 2, r = 2: channel c*4 + i*2 + j → (i, j) of channel c
    y = depth_to_space(x)
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(y[0, :, :, 1], [[4, 5], [6, 7]])


def test_conv_transpose_matches_pytorch():
    torch = pytest.importorskip("torch")
    up = Upsample(3, 5, "conv_transpose")
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 7, 7, 4))
    v = up.init(jax.random.PRNGKey(1), x)
    y = np.asarray(up.apply(v, x))
    t = torch.nn.ConvTranspose2d(4, 3, 5, stride=2, padding=2, output_padding=1)
    k = np.asarray(v["params"]["ConvTranspose_0"]["kernel"])  # (kh, kw, in, out), not transposed
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(np.ascontiguousarray(k[::-1, ::-1].transpose(2, 3, 0, 1))))
        t.bias.copy_(torch.from_numpy(np.asarray(v["params"]["ConvTranspose_0"]["bias"])))
        ref = t(torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    assert y.shape == ref.shape == (1, 14, 14, 3)
    np.testing.assert_allclose(y, ref, atol=1e-5)
