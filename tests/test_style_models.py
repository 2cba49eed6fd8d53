"""CycleGAN / pix2pix model tests: reference parameter counts, shapes, norms.

Full-size models are only traced with ``jax.eval_shape`` (no compute); real
forward passes use tiny widths and sizes.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models.layers import InstanceNorm, conv_transpose, norm_layer
from ganjax.models.patchgan import NLayerDiscriminator, PixelDiscriminator
from ganjax.models.resnet_gen import ResnetGenerator
from ganjax.models.unet import UnetGenerator


def _abstract_init(model, shape):
    """Shapes of ``model.init`` and of its output, without running anything."""
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    out = jax.eval_shape(model.apply, variables, x)
    return variables, out


def _numpy_init(model, x):
    """Variables for ``model`` filled by NumPy (jax.random init compiles per shape: slow on CPU)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    rng = np.random.RandomState(0)

    def fill(path, a):
        name = jax.tree_util.keystr(path)
        if "var" in name or "scale" in name:
            return np.ones(a.shape, np.float32)
        return (0.05 * rng.randn(*a.shape)).astype(np.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def _count(tree):
    return sum(math.prod(a.shape) for a in jax.tree_util.tree_leaves(tree))


def test_resnet9_generator_matches_reference_param_count():
    # Reference by hand: 7x7 conv 9,472 + downs 73,856 + 295,168 + 9 blocks x 1,180,160
    # + transposed convs 295,040 + 73,792 + last conv 9,411 = 11,378,179.
    variables, out = _abstract_init(ResnetGenerator(3), (1, 256, 256, 3))
    assert _count(variables["params"]) == 11_378_179
    assert out.shape == (1, 256, 256, 3) and out.dtype == jnp.float32
    assert set(variables) == {"params"}


def test_resnet_batch_norm_drops_conv_biases():
    variables, _ = _abstract_init(ResnetGenerator(3, norm="batch"), (1, 64, 64, 3))
    # No bias on the 24 convs followed by a norm; BN adds 2 * channels instead.
    bn_channels = 64 + 128 + 256 + 18 * 256 + 128 + 64
    assert _count(variables["params"]) == 11_378_179 - bn_channels + 2 * bn_channels
    assert "batch_stats" in variables


def test_patchgan_70x70_param_count_and_patch_map():
    # 3,136 + 131,200 + 524,544 + 2,097,664 + 8,193 = 2,764,737.
    variables, out = _abstract_init(NLayerDiscriminator(), (1, 256, 256, 3))
    assert _count(variables["params"]) == 2_764_737
    assert out.shape == (1, 30, 30, 1)


def test_pix2pix_discriminator_on_concatenated_pair():
    variables, out = _abstract_init(NLayerDiscriminator(norm="batch"), (2, 256, 256, 6))
    assert _count(variables["params"]) == 2_768_705
    assert out.shape == (2, 30, 30, 1)


@pytest.mark.parametrize("num_downs,size,count", [(7, 128, 41_828_995), (8, 256, 54_413_955)])
def test_unet_shapes_and_reference_param_counts(num_downs, size, count):
    variables, out = _abstract_init(UnetGenerator(3, num_downs=num_downs), (1, size, size, 3))
    assert out.shape == (1, size, size, 3)
    assert _count(variables["params"]) == count
    assert "batch_stats" in variables


@pytest.mark.parametrize("upsample", ["conv_transpose", "phase", "subpixel", "resize_conv"])
def test_resnet_small_forward(upsample):
    model = ResnetGenerator(3, ngf=4, n_blocks=1, upsample=upsample, dtype=jnp.bfloat16)
    x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 1), minval=-1, maxval=1)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(variables))
    y = model.apply(_numpy_init(model, x), x)
    assert y.shape == (2, 32, 32, 3) and y.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(y))) <= 1.0


@pytest.mark.parametrize("make", [lambda up: ResnetGenerator(3, ngf=4, n_blocks=1, upsample=up),
                                  lambda up: UnetGenerator(3, num_downs=5, ngf=4, norm="instance", upsample=up)],
                         ids=["resnet", "unet"])
def test_phase_upsampling_is_the_reference_transposed_conv(make):
    """upsample="phase": the same parameters (a checkpoint loads either way) and the same function."""
    x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1, maxval=1)
    reference, phase = make("conv_transpose"), make("phase")
    variables = _numpy_init(reference, x)
    shapes = jax.eval_shape(phase.init, jax.random.key(0), x)
    assert jax.tree_util.tree_structure(shapes) == jax.tree_util.tree_structure(variables)
    np.testing.assert_allclose(phase.apply(variables, x), reference.apply(variables, x), atol=1e-5)


def test_unet_train_mode_dropout_and_batch_stats():
    model = UnetGenerator(3, num_downs=6, ngf=4)
    x = jax.random.uniform(jax.random.key(1), (2, 64, 64, 3), minval=-1, maxval=1)
    variables = _numpy_init(model, x)

    def run(key):
        train_out = model.apply(variables, x, train=True, rngs={"dropout": key},
                                mutable=["batch_stats"])
        return train_out, model.apply(variables, x)

    ((y1, upd), e1), ((y2, _), e2) = run(jax.random.key(2)), run(jax.random.key(3))
    assert y1.shape == (2, 64, 64, 3)
    assert not np.allclose(y1, y2)  # one dropout block (num_downs - 5)
    assert not np.allclose(upd["batch_stats"]["BatchNorm_0"]["BatchNorm_0"]["mean"], 0.0)
    np.testing.assert_array_equal(e1, e2)  # eval mode: no dropout, running stats


def test_pixel_discriminator_shape():
    model = PixelDiscriminator(ndf=4)
    x = jnp.zeros((2, 8, 8, 3))
    y = model.apply(_numpy_init(model, x), x)
    assert y.shape == (2, 8, 8, 1)


def test_instance_norm_is_per_example_and_per_channel():
    norm = InstanceNorm()
    x = jax.random.normal(jax.random.key(0), (3, 8, 8, 4)) * 5 + 2
    variables = norm.init(jax.random.key(1), x)
    assert _count(variables) == 0  # affine=False, like the reference
    y = norm.apply(variables, x)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, rtol=1e-3)
    y_other = norm.apply(variables, x.at[1:].set(100.0 * x[1:] - 7))
    np.testing.assert_allclose(y_other[0], y[0], atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_fused_instance_norm_equals_flax_values_and_gradients(dtype):
    """layers.instance_norm (the closed-form gradient used off XLA:CPU) computes flax's nn.InstanceNorm and
    its autodiff gradient: float32 to 1e-5, bfloat16 to bf16's rounding."""
    from ganjax.models.layers import instance_norm
    dt = jnp.dtype(dtype)
    x = (jax.random.normal(jax.random.key(0), (2, 6, 5, 3)) * 3 + 1).astype(dt)
    w = jax.random.normal(jax.random.key(1), x.shape)  # a loss that weights every output differently
    flax_norm = nn.InstanceNorm(epsilon=1e-5, use_bias=False, use_scale=False, dtype=dt)
    loss_ref = lambda x: jnp.sum(flax_norm.apply({}, x).astype(jnp.float32) * w)
    loss = lambda x: jnp.sum(instance_norm(x, 1e-5, dt).astype(jnp.float32) * w)
    tol = 1e-5 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(loss(x), loss_ref(x), rtol=tol, atol=tol * 30)
    g, g_ref = jax.grad(loss)(x), jax.grad(loss_ref)(x)
    assert g.dtype == dt
    np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(g_ref, np.float32), rtol=tol, atol=tol)
    y = instance_norm(x, 1e-5, dt)
    assert y.dtype == dt and abs(float(jnp.mean(y.astype(jnp.float32)))) < 1e-2


def test_instance_norm_split_reductions_compute_the_same():
    """split=4 (two-stage reductions, a GPU variant) gives the statistics and gradients of split=1."""
    from ganjax.models.layers import instance_norm
    x = jax.random.normal(jax.random.key(4), (2, 8, 6, 3)) * 3 + 2
    w = jax.random.normal(jax.random.key(5), x.shape)
    f = lambda split: jax.value_and_grad(lambda x: jnp.sum(instance_norm(x, 1e-5, None, split) * w))(x)
    (v1, g1), (v4, g4) = f(1), f(4)
    np.testing.assert_allclose(v4, v1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g4, g1, rtol=1e-5, atol=1e-5)


def test_fused_instance_norm_under_vmap_equals_each_member():
    """Sweeps vmap the models: the fused gradient of member i equals that member's own (GPU path)."""
    from ganjax.models.layers import instance_norm
    xs = jax.random.normal(jax.random.key(2), (3, 2, 4, 4, 5)) * 2 + 1
    w = jax.random.normal(jax.random.key(3), xs.shape[1:])
    grad = jax.grad(lambda x: jnp.sum(instance_norm(x, 1e-5) * w))
    stacked = jax.vmap(grad)(xs)
    for i in range(3):
        np.testing.assert_allclose(stacked[i], grad(xs[i]), rtol=1e-5, atol=1e-6)


def test_norm_layer_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown norm"):
        norm_layer("group")


@pytest.mark.parametrize("phase", [False, True])
@pytest.mark.parametrize("kernel,padding,output_padding", [(3, 1, 1), (4, 1, 0)])
def test_conv_transpose_equals_pytorch(kernel, padding, output_padding, phase):
    torch = pytest.importorskip("torch")
    tconv = torch.nn.ConvTranspose2d(5, 3, kernel, 2, padding, output_padding=output_padding)
    x = np.random.RandomState(0).randn(2, 5, 7, 7).astype(np.float32)
    with torch.no_grad():
        expected = tconv(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
    layer = conv_transpose(3, kernel, 2, padding, output_padding, phase=phase)
    params = {"params": {"kernel": tconv.weight.detach().numpy().transpose(2, 3, 1, 0),
                         "bias": tconv.bias.detach().numpy()}}
    got = layer.apply(params, x.transpose(0, 2, 3, 1))
    assert got.shape == (2, 14, 14, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)
