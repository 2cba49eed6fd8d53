"""models/cpu_conv.py computes lax's convolution, and its gradients, by other formulas: same numbers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ganjax.models import cpu_conv, cpu_rules, phase_conv
from ganjax.models.dcgan import Discriminator, Generator

DN = ("NHWC", "HWIO", "NHWC")


@pytest.fixture(autouse=True)
def highest_precision():
    with jax.default_matmul_precision("highest"):
        yield


def value_and_grads(f, x, w):
    y, vjp = jax.vjp(f, x, w)
    return (y, *vjp(jax.random.normal(jax.random.PRNGKey(9), y.shape)))


def assert_close(got, ref):
    for a, b in zip(got, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(b))))


# (input size, in channels, out channels, kernel, stride, padding): every branch of cpu_conv — stride 2
# (input gradient by phases), one output channel (forward and weight gradient by shifted taps), one input
# channel (im2col weight gradient), odd sizes and asymmetric paddings (lax's fallbacks)
CASES = [(28, 1, 8, 5, 2, ((2, 2), (2, 2))), (14, 8, 8, 5, 2, ((2, 2), (2, 2))), (28, 8, 1, 5, 1, ((2, 2), (2, 2))),
         (14, 8, 6, 3, 1, ((1, 1), (1, 1))), (7, 8, 8, 2, 1, ((0, 1), (1, 0))), (9, 3, 5, 4, 2, ((1, 1), (1, 1))),
         (8, 5, 3, 4, 2, ((1, 2), (0, 1))), (8, 6, 6, 4, 2, ((1, 1), (1, 1)))]


@pytest.mark.parametrize("size,c,o,k,stride,padding", CASES)
def test_conv2d_equals_lax_with_gradients(size, c, o, k, stride, padding):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, c))
    w = jax.random.normal(jax.random.PRNGKey(1), (k, k, c, o))
    lax_conv = lambda x, w: lax.conv_general_dilated(x, w, (stride,) * 2, padding, dimension_numbers=DN)
    ref = value_and_grads(lax_conv, x, w)
    assert_close(value_and_grads(lambda x, w: cpu_conv.conv2d(x, w, stride, padding), x, w), ref)


@pytest.mark.parametrize("kernel,padding,transpose_kernel", [
    (5, ((2, 3), (2, 3)), False), (4, ((2, 2), (1, 3)), False), (3, ((1, 2), (1, 2)), True),  # 3: CycleGAN's
    (5, ((2, 3), (2, 3)), True)])
def test_phase_merged_kernel_gradient_equals_lax(monkeypatch, kernel, padding, transpose_kernel):
    monkeypatch.setattr(phase_conv, "MERGED_GRAD_MIN_PIXELS", 1)  # the one-GEMM kernel gradient at any size
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 6, 5, 3))
    w = jax.random.normal(jax.random.PRNGKey(3), (kernel, kernel) + ((4, 3) if transpose_kernel else (3, 4)))
    ref = value_and_grads(lambda x, w: lax.conv_transpose(x, w, (2, 2), padding, dimension_numbers=DN,
                                                          transpose_kernel=transpose_kernel), x, w)
    got = value_and_grads(lambda x, w: phase_conv.phase_conv_transpose(x, w, padding, transpose_kernel), x, w)
    assert_close(got, ref)


def test_article_models_same_params_function_and_gradients_with_and_without(monkeypatch):
    z = jax.random.normal(jax.random.PRNGKey(4), (3, 100))
    g, d = Generator(width=8, upsample="phase"), Discriminator(width=8)
    gv = g.init(jax.random.PRNGKey(5), z)
    dv = d.init(jax.random.PRNGKey(6), g.apply(gv, z))
    loss = lambda gv, dv: jnp.sum(jnp.sin(d.apply(dv, g.apply(gv, z))))
    monkeypatch.setattr(phase_conv, "MERGED_GRAD_MIN_PIXELS", 1)
    fast = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(gv, dv)  # the switch is read while tracing
    monkeypatch.setattr(cpu_rules, "ENABLED", False)  # plain lax convolutions and XLA's gradients
    plain = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(gv, dv)
    assert jax.tree_util.tree_structure(fast) == jax.tree_util.tree_structure(plain)
    for a, b in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU formulations are active on XLA:CPU only")
def test_vmapped_members_compute_what_each_member_computes_alone():
    """A sweep's stacked members (jax.vmap over parameters) on CPU: each member's convolutions and dense
    products are its own, not one grouped convolution, so outputs and kernel gradients are bitwise those
    of the member alone; a mapped input with shared weights (integrated gradients' steps) is folded."""
    g, d = Generator(width=8, upsample="phase"), Discriminator(width=8)
    z = jax.random.normal(jax.random.PRNGKey(0), (6, 100))
    gp = [g.init(jax.random.PRNGKey(i), z)["params"] for i in range(3)]
    x = g.apply({"params": gp[0]}, z)
    dp = [d.init(jax.random.PRNGKey(i), x)["params"] for i in range(3)]
    stack = lambda ps: jax.tree_util.tree_map(lambda *a: jnp.stack(a), *ps)

    gen = jax.jit(lambda p: g.apply({"params": p}, z))
    batched = jax.jit(jax.vmap(lambda p: g.apply({"params": p}, z)))(stack(gp))
    for i, p in enumerate(gp):
        np.testing.assert_array_equal(batched[i], gen(p))

    kernels = lambda p: {k: v["kernel"] for k, v in p.items()}
    grad = jax.jit(lambda p: kernels(jax.grad(lambda p: jnp.sum(d.apply({"params": p}, x) ** 2))(p)))
    batched = jax.jit(jax.vmap(grad))(stack(dp))
    for i, p in enumerate(dp):
        for name, k in grad(p).items():
            np.testing.assert_array_equal(batched[name][i], k, err_msg=name)

    xs = jnp.stack([x * a for a in (0.25, 0.5, 1.0)])  # shared weights, mapped input: folded into the batch
    folded = jax.jit(jax.vmap(lambda x: d.apply({"params": dp[0]}, x)))(xs)
    ref = jnp.stack([d.apply({"params": dp[0]}, xi) for xi in xs])
    np.testing.assert_allclose(folded, ref, rtol=1e-5, atol=1e-6)
    input_grad = lambda x: jax.grad(lambda x: jnp.sum(d.apply({"params": dp[0]}, x)))(x)  # stride-2 dx
    folded = jax.jit(jax.vmap(input_grad))(xs)
    np.testing.assert_allclose(folded, jnp.stack([input_grad(xi) for xi in xs]), rtol=1e-5, atol=1e-6)


def test_gradient_of_gradient_equals_lax_and_stays_per_member(monkeypatch):
    """R1's parameter gradient (a gradient of the input gradient) through the article's discriminator:
    conv2d's and dot_general's VJPs are made of each other, so second derivatives equal lax's and, on CPU
    under jax.vmap over members, are bitwise each member's own (a sweep member with R1 = the run alone)."""
    d = Discriminator(width=8)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 28, 28, 1))
    dp = [d.init(jax.random.PRNGKey(i), x)["params"] for i in range(3)]
    r1 = lambda p: jnp.sum(jax.grad(lambda x: jnp.sum(d.apply({"params": p}, x)))(x) ** 2)
    grad = jax.jit(jax.grad(r1))
    fast = grad(dp[0])
    monkeypatch.setattr(cpu_rules, "ENABLED", False)
    plain = jax.jit(jax.grad(r1))(dp[0])
    monkeypatch.setattr(cpu_rules, "ENABLED", True)
    for a, b in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * float(jnp.max(jnp.abs(b))))
    if jax.default_backend() == "cpu":
        batched = jax.jit(jax.vmap(jax.grad(r1)))(jax.tree_util.tree_map(lambda *a: jnp.stack(a), *dp))
        for i, p in enumerate(dp):
            for a, b in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(grad(p))):
                np.testing.assert_array_equal(a[i], b)
