"""Gradient attributions: saliency, gradient × input, SmoothGrad, and layer integrated gradients.

All ``f`` arguments map a batch ``(B, ...)`` to per-example scalars ``(B,)``; compiled functions are
cached by ``jax.jit`` keyed on ``f`` (by identity), so pass the same ``f`` object to reuse them.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from ganjax.interpret.features import (_apply_fn, capture, check_layer, layer_names,
                                       replace_layer_output)
from ganjax.interpret.integrated_gradients import METHODS, _check_delta, _ig_core, path_nodes


def _grad(f, x):
    return jax.grad(lambda z: jnp.sum(f(z)))(x)


@functools.partial(jax.jit, static_argnames=("f", "abs"))
def saliency(f: Callable, x, abs: bool = True):  # noqa: A002 (Captum's argument name)
    """Gradient of ``f`` with respect to the input; its absolute value when ``abs``."""
    g = _grad(f, x)
    return jnp.abs(g) if abs else g


@functools.partial(jax.jit, static_argnames=("f",))
def gradient_x_input(f: Callable, x):
    """Element-wise product of the input and its gradient."""
    return _grad(f, x) * x


@functools.partial(jax.jit, static_argnames=("f", "n_samples", "abs"))
def smoothgrad(f: Callable, x, key, n_samples: int = 25, noise_level: float = 0.15,
               abs: bool = False):  # noqa: A002
    """SmoothGrad (Smilkov et al., 2017): mean gradient over noisy copies of ``x``.

    The noise standard deviation is ``noise_level * (max - min)`` of each example, so it is relative
    to that example's range.  Samples are vmapped; ``abs`` averages absolute gradients instead.
    """
    flat = x.reshape(x.shape[0], -1)
    span = (flat.max(axis=1) - flat.min(axis=1)).reshape((-1,) + (1,) * (x.ndim - 1))
    sigma = noise_level * span

    def one(k):
        g = _grad(f, x + sigma * jax.random.normal(k, x.shape, x.dtype))
        return jnp.abs(g) if abs else g

    return jnp.mean(jax.vmap(one)(jax.random.split(key, n_samples)), axis=0)


def list_layers(module, variables, x, **apply_kwargs) -> list[str]:
    """Names of submodules whose ``__call__`` outputs can be captured (and attributed to)."""
    return layer_names(module, variables, x, **apply_kwargs)


def _default_output(out):
    return jnp.sum(out.reshape(out.shape[0], -1), axis=1)


@functools.lru_cache(maxsize=64)
def _layer_fns(apply, layer_name, output_fn, kwargs_items):
    """Cached (layer function, activation function) so repeated calls reuse compiled code."""
    kwargs = dict(kwargs_items)

    def with_layer(act, variables, x):
        with replace_layer_output(layer_name, lambda y: act):
            return output_fn(apply(variables, x, **kwargs))

    @jax.jit
    def activation(variables, x):
        return capture(apply, variables, x, **kwargs)[layer_name]

    return with_layer, activation


def layer_integrated_gradients(module_apply, variables, x, layer_name: str, baseline=None,
                               layer_baseline=None, n_steps: int = 50,
                               method: str = "gausslegendre", batch_size: int | None = None,
                               output_fn: Callable | None = None, return_delta: bool = False,
                               warn_threshold: float | None = 0.05,
                               unroll: bool | int | None = None, **apply_kwargs):
    """Integrated gradients with respect to the output of submodule ``layer_name`` (Captum's
    ``LayerIntegratedGradients`` convention).

    The layer's output is replaced, through ``flax.linen.intercept_methods``, by
    ``a' + α (a − a')`` where ``a`` is its activation on ``x`` and ``a'`` its activation on the input
    ``baseline`` (zeros when ``None``), or ``layer_baseline`` when given.  The rest of the network
    still sees ``x``, so modules need no ``perturb`` calls (a submodule called several times has
    every call replaced).  Completeness holds at the layer:
    ``sum(attr) ≈ f(x) − f(x with the layer at a')``.

    Args:
      module_apply: a linen Module or its ``apply`` (any callable accepting ``capture_intermediates``).
      variables: the module's variables.
      x: inputs ``(B, ...)``.
      layer_name: a name from ``list_layers``; an unknown name raises ``ValueError`` listing them.
      output_fn: maps the module output to ``(B,)`` (default: sum over non-batch axes, i.e. D's logit).
      Others as in ``integrated_gradients``; ``apply_kwargs`` go to ``apply`` (must be hashable).

    Returns:
      attributions with the layer activation's shape, and ``delta`` ``(B,)`` when ``return_delta``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    path_nodes(method, n_steps)
    apply = _apply_fn(module_apply)
    x = jnp.asarray(x)
    check_layer(apply, variables, x, layer_name, **apply_kwargs)
    with_layer, activation = _layer_fns(apply, layer_name, output_fn or _default_output,
                                        tuple(sorted(apply_kwargs.items())))
    act = activation(variables, x)
    if layer_baseline is None:
        base_in = jnp.zeros_like(x) if baseline is None else jnp.broadcast_to(
            jnp.asarray(baseline, x.dtype), x.shape)
        layer_baseline = activation(variables, base_in)
    layer_baseline = jnp.broadcast_to(jnp.asarray(layer_baseline, act.dtype), act.shape)
    attr, delta, fx, fb = _ig_core(with_layer, act, layer_baseline, (variables, x),
                                   n_steps=n_steps, method=method, batch_size=batch_size,
                                   unroll=unroll)
    _check_delta(delta, fx, fb, warn_threshold)
    return (attr, delta) if return_delta else attr
