"""Integrated gradients, gradient attributions and layer IG (tiny CPU-sized problems)."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.interpret.integrated_gradients import METHODS, path_nodes
from tiny_models import tiny_d
from ganjax.interpret import (baseline_black, baseline_blur, baseline_mean, baseline_uniform,
                              baseline_zeros, gradient_x_input, integrated_gradients,
                              layer_integrated_gradients, list_layers, make_integrated_gradients,
                              saliency, smoothgrad)


@pytest.fixture(scope="module")
def tiny():
    return tiny_d(3)


@pytest.fixture(scope="module")
def linear():
    k1, k2, k3, k4 = jax.random.split(jax.random.key(2), 4)
    w = jax.random.normal(k1, (4, 4, 2))
    x = jax.random.normal(k2, (3, 4, 4, 2))
    base = jax.random.normal(k3, (3, 4, 4, 2))
    b = jax.random.normal(k4, ())
    f = lambda z: jnp.sum(z * w, axis=(1, 2, 3)) + b  # noqa: E731
    return f, w, x, base


@pytest.mark.parametrize("method", METHODS)
def test_linear_exact_every_method(linear, method):
    f, w, x, base = linear
    attr, delta = integrated_gradients(f, x, base, n_steps=5, method=method, return_delta=True)
    np.testing.assert_allclose(attr, (x - base) * w, atol=1e-5)
    assert delta.shape == (3,)
    np.testing.assert_allclose(delta, 0.0, atol=1e-4)


def test_default_baseline_is_zeros(linear):
    f, w, x, _ = linear
    np.testing.assert_allclose(integrated_gradients(f, x, n_steps=3), x * w, atol=1e-5)


def test_path_nodes_weights():
    for m in METHODS:
        a, w = path_nodes(m, 7)
        assert a.shape == w.shape == (7,) and abs(w.sum() - 1) < 1e-12
        assert a.min() >= 0 and a.max() <= 1
    expected = {"riemann_left": [0, 0.25, 0.5, 0.75], "riemann_right": [0.25, 0.5, 0.75, 1],
                "riemann_middle": [0.125, 0.375, 0.625, 0.875], "riemann_trapezoid": [0, 1 / 3, 2 / 3, 1]}
    for m, nodes in expected.items():
        np.testing.assert_allclose(path_nodes(m, 4)[0], nodes, atol=1e-12)
    np.testing.assert_allclose(path_nodes("riemann_trapezoid", 4)[1], [1 / 6, 1 / 3, 1 / 3, 1 / 6])
    a, w = path_nodes("gausslegendre", 3)  # exact for polynomials of degree <= 5 on [0, 1]
    np.testing.assert_allclose([np.sum(w * a ** p) for p in range(6)], [1 / (p + 1) for p in range(6)])
    with pytest.raises(ValueError):
        path_nodes("simpson", 4)
    with pytest.raises(ValueError):
        integrated_gradients(lambda z: z.sum(axis=1), jnp.ones((2, 3)), method="nope")


def test_chunked_equals_unchunked(tiny):
    _, _, x, f = tiny
    full = integrated_gradients(f, x, n_steps=32, warn_threshold=None)
    chunked = integrated_gradients(f, x, n_steps=32, batch_size=7, warn_threshold=None)
    assert float(jnp.max(jnp.abs(full))) > 1e-3  # non-trivial attributions
    np.testing.assert_allclose(chunked, full, atol=1e-6, rtol=0)


def test_gausslegendre_completeness(tiny):
    _, _, x, f = tiny
    base = baseline_black(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attr, delta = integrated_gradients(f, x, base, n_steps=64, return_delta=True)
    gap = np.abs(np.asarray(f(x) - f(base)))
    assert np.all(np.abs(np.asarray(delta)) <= 1e-3 * gap + 1e-5)
    np.testing.assert_allclose(attr.reshape(3, -1).sum(1), f(x) - f(base), atol=1e-3)


def test_warning_on_coarse_riemann():
    f = lambda z: jnp.sum(jnp.sin(4.0 * z) ** 2 + z ** 3, axis=1)  # noqa: E731
    x = jnp.linspace(0.3, 1.0, 12).reshape(2, 6)
    with pytest.warns(RuntimeWarning, match="completeness"):
        integrated_gradients(f, x, n_steps=2, method="riemann_left")


def test_make_integrated_gradients_matches(tiny):
    _, _, x, f = tiny
    ig = make_integrated_gradients(f, n_steps=16, batch_size=5)
    attr, delta = ig(x, jnp.zeros_like(x))
    ref, ref_delta = integrated_gradients(f, x, n_steps=16, return_delta=True, warn_threshold=None)
    np.testing.assert_allclose(attr, ref, atol=1e-6)
    np.testing.assert_allclose(delta, ref_delta, atol=1e-6)


def test_f_args_are_traced(tiny):
    model, variables, x, f = tiny
    g = lambda z, v: model.apply(v, z)  # noqa: E731
    a = integrated_gradients(g, x, n_steps=8, f_args=(variables,), warn_threshold=None)
    b = integrated_gradients(f, x, n_steps=8, warn_threshold=None)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_baselines():
    x = jax.random.uniform(jax.random.key(3), (2, 9, 9, 3), minval=-1, maxval=1)
    assert np.all(np.asarray(baseline_black(x)) == -1) and np.all(np.asarray(baseline_zeros(x)) == 0)
    const = jnp.full((1, 9, 9, 3), 0.3)
    np.testing.assert_allclose(baseline_blur(const, 1.5), const, atol=1e-6)
    blurred = baseline_blur(x, 2.0)
    assert blurred.shape == x.shape and float(blurred.std()) < float(x.std())
    u = baseline_uniform(jax.random.key(0), x)
    assert u.shape == x.shape and float(u.min()) >= -1 and float(u.max()) <= 1
    np.testing.assert_allclose(baseline_mean(x)[0], x.mean(0), atol=1e-6)
    with pytest.raises(ValueError):
        baseline_blur(jnp.ones((3, 4)), 1.0)


def test_gradient_attributions_on_linear(linear):
    f, w, x, _ = linear
    np.testing.assert_allclose(saliency(f, x), jnp.broadcast_to(jnp.abs(w), x.shape), atol=1e-6)
    np.testing.assert_allclose(saliency(f, x, abs=False), jnp.broadcast_to(w, x.shape), atol=1e-6)
    np.testing.assert_allclose(gradient_x_input(f, x), x * w, atol=1e-5)
    sg = smoothgrad(f, x, jax.random.key(0), n_samples=4)
    np.testing.assert_allclose(sg, jnp.broadcast_to(w, x.shape), atol=1e-5)


def test_smoothgrad_differs_from_gradient_on_nonlinear(tiny):
    _, _, x, f = tiny
    sg = smoothgrad(f, x, jax.random.key(0), n_samples=8, noise_level=0.3)
    g = saliency(f, x, abs=False)
    assert sg.shape == x.shape and float(jnp.max(jnp.abs(sg - g))) > 1e-4


def test_layer_ig_completeness(tiny):
    model, variables, x, f = tiny
    assert list_layers(model, variables, x) == ["Conv_0", "Conv_1", "Dense_0"]
    # Conv_1 is a cut of the graph: the layer baseline from a zero input gives f(x) - f(0).
    attr, delta = layer_integrated_gradients(model, variables, x, "Conv_1", n_steps=64,
                                             return_delta=True)
    assert attr.shape == (3, 4, 4, 4)
    target = f(x) - f(jnp.zeros_like(x))
    np.testing.assert_allclose(attr.reshape(3, -1).sum(1), target, atol=2e-3)
    assert np.all(np.abs(np.asarray(delta)) < 2e-3)
    # An explicit zero layer baseline: f(layer = 0) = Dense(tanh(0)) = the dense bias.
    attr0 = layer_integrated_gradients(model.apply, variables, x, "Conv_1", layer_baseline=0.0,
                                       n_steps=64, batch_size=10)
    bias = variables["params"]["Dense_0"]["bias"][0]
    np.testing.assert_allclose(attr0.reshape(3, -1).sum(1), f(x) - bias, atol=2e-3)


def test_layer_ig_unknown_layer(tiny):
    model, variables, x, _ = tiny
    with pytest.raises(ValueError, match="Conv_0.*Conv_1.*Dense_0"):
        layer_integrated_gradients(model, variables, x, "Conv_9")
