"""Batch norm as PyTorch's BatchNorm2d (models/layers.py TorchBatchNorm, used by layers.BatchNorm and the
64x64 DCGAN): train mode normalises with the biased batch variance and keeps the unbiased one (n/(n−1),
n = N·H·W) in the running average; eval mode uses the running averages; the variable names are those of the
flax nn.BatchNorm it replaced (checkpoints load)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models import dcgan
from ganjax.models.layers import BatchNorm, TorchBatchNorm

N, H, W, C = 3, 5, 4, 6
EPS = 1e-5


def batch():
    x = jax.random.normal(jax.random.PRNGKey(0), (N, H, W, C)) * jnp.linspace(0.5, 3.0, C) + jnp.arange(C)
    return np.asarray(x, np.float64)


def init_and_train(module, x):
    v = module.init(jax.random.PRNGKey(1), jnp.asarray(x, jnp.float32), False)
    y, upd = module.apply(v, jnp.asarray(x, jnp.float32), True, mutable=["batch_stats"])
    return v, np.asarray(y, np.float64), upd["batch_stats"]["BatchNorm_0"]


def test_running_statistics_are_pytorchs():
    x = batch()
    v, y, stats = init_and_train(BatchNorm(), x)
    scale = np.asarray(v["params"]["BatchNorm_0"]["scale"], np.float64)
    bias = np.asarray(v["params"]["BatchNorm_0"]["bias"], np.float64)
    mean = x.mean(axis=(0, 1, 2))
    var_biased, var_unbiased = x.var(axis=(0, 1, 2)), x.var(axis=(0, 1, 2), ddof=1)
    assert not np.allclose(var_biased, var_unbiased, rtol=1e-3)  # n = 60: the two differ by 1.7 %
    np.testing.assert_allclose(stats["mean"], 0.9 * 0 + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["var"], 0.9 * 1 + 0.1 * var_unbiased, rtol=1e-5)
    # train mode normalises with the batch's biased variance, as PyTorch does
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var_biased + EPS) * scale + bias, rtol=1e-4, atol=1e-5)
    # eval mode uses the running averages
    v_eval = {"params": v["params"], "batch_stats": {"BatchNorm_0": stats}}
    y_eval = np.asarray(BatchNorm().apply(v_eval, jnp.asarray(x, jnp.float32), False), np.float64)
    rm, rv = (np.asarray(stats[k], np.float64) for k in ("mean", "var"))
    np.testing.assert_allclose(y_eval, (x - rm) / np.sqrt(rv + EPS) * scale + bias, rtol=1e-4, atol=1e-5)
    # a second step: running ← 0.9·running + 0.1·batch again
    _, upd = BatchNorm().apply(v_eval, jnp.asarray(2 * x, jnp.float32), True, mutable=["batch_stats"])
    np.testing.assert_allclose(upd["batch_stats"]["BatchNorm_0"]["var"], 0.9 * rv + 0.1 * 4 * var_unbiased,
                               rtol=1e-5)


def test_names_and_init_are_those_of_flax_batch_norm():
    x = jnp.asarray(batch(), jnp.float32)
    ours = BatchNorm().init(jax.random.PRNGKey(1), x, False)
    assert jax.tree_util.tree_map(jnp.shape, ours) == {
        "params": {"BatchNorm_0": {"scale": (C,), "bias": (C,)}},
        "batch_stats": {"BatchNorm_0": {"mean": (C,), "var": (C,)}}}
    np.testing.assert_array_equal(ours["batch_stats"]["BatchNorm_0"]["var"], np.ones(C))
    names = lambda v: sorted(jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(v)[0])
    g = dcgan.Generator64(image_size=32, width=4)
    vg = g.init(jax.random.PRNGKey(0), jnp.ones((2, 100)), train=False)
    assert [n for n in names(vg["batch_stats"])] == [f"['BatchNorm_{i}']['{k}']" for i in range(3)
                                                     for k in ("mean", "var")]
    d = dcgan.Discriminator64(width=4)
    vd = d.init(jax.random.PRNGKey(0), jnp.ones((2, 32, 32, 1)), train=False)
    assert sorted(vd["batch_stats"]) == ["BatchNorm_0", "BatchNorm_1"]


def test_dcgan64_batch_norm_keeps_the_unbiased_variance():
    x = batch()
    bn = dcgan._bn(True, jnp.float32, 0)
    v = bn.init(jax.random.PRNGKey(1), jnp.asarray(x, jnp.float32))
    _, upd = bn.apply(v, jnp.asarray(x, jnp.float32), mutable=["batch_stats"])
    np.testing.assert_allclose(upd["batch_stats"]["var"], 0.9 + 0.1 * x.var(axis=(0, 1, 2), ddof=1), rtol=1e-5)
    np.testing.assert_allclose(upd["batch_stats"]["mean"], 0.1 * x.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)


def test_bfloat16_compute_and_one_value_per_channel():
    x = jnp.asarray(batch(), jnp.bfloat16)
    bn = TorchBatchNorm(use_running_average=False, dtype=jnp.bfloat16)
    v = bn.init(jax.random.PRNGKey(1), x)
    y, upd = bn.apply(v, x, mutable=["batch_stats"])
    assert y.dtype == jnp.bfloat16 and upd["batch_stats"]["var"].dtype == jnp.float32
    assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(v))
    one = jnp.ones((1, 1, 1, C))  # n = 1: PyTorch refuses to train; here the (biased) variance 0 is kept
    _, upd = bn.apply(v, one, mutable=["batch_stats"])
    np.testing.assert_allclose(upd["batch_stats"]["var"], 0.9 * np.ones(C), rtol=1e-6)


def test_same_as_torch_batchnorm2d():
    torch = pytest.importorskip("torch")
    x = batch().astype(np.float32)
    v, y, stats = init_and_train(BatchNorm(), x)
    t = torch.nn.BatchNorm2d(C)  # momentum 0.1, eps 1e-5
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(np.asarray(v["params"]["BatchNorm_0"]["scale"])))
        t.bias.copy_(torch.from_numpy(np.asarray(v["params"]["BatchNorm_0"]["bias"])))
        t.train()
        ty = t(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, ty, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stats["mean"], t.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["var"], t.running_var.numpy(), rtol=1e-5)
    x2 = (2 * x + 1).astype(np.float32)
    v_eval = {"params": v["params"], "batch_stats": {"BatchNorm_0": stats}}
    y_eval = BatchNorm().apply(v_eval, jnp.asarray(x2), False)
    with torch.no_grad():
        t.eval()
        ty = t(torch.from_numpy(x2.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(y_eval), ty, rtol=1e-4, atol=1e-5)
