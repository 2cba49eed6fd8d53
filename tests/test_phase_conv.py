"""The phase-decomposed transposed convolution equals nn.ConvTranspose with the same parameters."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models.dcgan import Generator
from ganjax.models.layers import conv_transpose, torch_transpose_padding
from ganjax.models.phase_conv import PhaseConvTranspose, phase_plan
from ganjax.models.upsample import Upsample


@pytest.fixture(autouse=True)
def highest_precision():
    with jax.default_matmul_precision("highest"):
        yield


@pytest.mark.parametrize("kernel", (3, 4, 5))
def test_phase_upsample_equals_conv_transpose(kernel):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 6, 5))
    v = Upsample(4, kernel, "conv_transpose").init(jax.random.PRNGKey(1), x)
    ref = Upsample(4, kernel, "conv_transpose").apply(v, x)
    out = Upsample(4, kernel, "phase").apply(v, x)  # the same parameter tree
    assert out.shape == ref.shape == (2, 14, 12, 4)
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("kernel,padding", ((3, 1), (4, 1)))
def test_phase_equals_pytorch_style_transposed_kernel(kernel, padding):
    x = jax.random.normal(jax.random.PRNGKey(2), (1, 5, 5, 3))
    layer = conv_transpose(6, kernel, 2, padding, kernel % 2)  # transpose_kernel=True, as the ResNet / U-Net
    v = layer.init(jax.random.PRNGKey(3), x)
    phase = PhaseConvTranspose(6, (kernel, kernel), torch_transpose_padding(kernel, padding, kernel % 2),
                               transpose_kernel=True)
    np.testing.assert_allclose(phase.apply(v, x), layer.apply(v, x), atol=1e-5)


def test_phase_gradients_equal_conv_transpose():
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 7, 7, 3))
    up, ph = Upsample(4, 5, "conv_transpose"), Upsample(4, 5, "phase")
    v = up.init(jax.random.PRNGKey(5), x)
    loss = lambda m: jax.grad(lambda v, x: jnp.sum(jnp.sin(m.apply(v, x))), argnums=(0, 1))(v, x)
    for a, b in zip(jax.tree_util.tree_leaves(loss(up)), jax.tree_util.tree_leaves(loss(ph))):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_phase_generator_shares_params_and_function():
    z = jax.random.normal(jax.random.PRNGKey(6), (3, 100))
    g, p = Generator(width=8, upsample="conv_transpose"), Generator(width=8, upsample="phase")
    v = g.init(jax.random.PRNGKey(7), z)
    assert jax.tree_util.tree_structure(v) == jax.tree_util.tree_structure(p.init(jax.random.PRNGKey(7), z))
    np.testing.assert_allclose(p.apply(v, z), g.apply(v, z), atol=1e-5)


def test_phase_plan_rejects_outputs_not_2n():
    assert phase_plan(5, 2, 3) == [(0, (1, 1)), (1, (0, 1))]
    with pytest.raises(ValueError):
        phase_plan(5, 2, 2)
