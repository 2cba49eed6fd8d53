"""What the analyses of a run take from it: held-out and generated images, IG baselines, the networks'
variables and their layers in call order.
"""
from __future__ import annotations

import jax
import numpy as np

from ganjax.errors import UsageError


def real_images(ctx, n: int) -> np.ndarray:
    """The first n held-out images in [-1, 1] (training images when nothing is held out)."""
    from ganjax.data import to_float
    ds = ctx.recipe.dataset
    pool = ds.test if len(ds.test) else ds.train
    return np.asarray(to_float(pool[:n]))


def fake_images(ctx, n: int) -> np.ndarray:
    from ganjax.inference import sample_images
    return sample_images(ctx.recipe, ctx.state, n, seed=ctx.seed + 1)


def net_variables(ctx, side: str, name: str) -> dict:
    return {"params": ctx.state.params[side][name], **ctx.state.model_state.get(name, {})}


def call_order(module, variables, x) -> list[str]:
    """Submodule paths in the order their ``__call__`` starts (flax lists intermediates by name)."""
    import flax.linen as nn
    order = []

    def record(next_fun, args, kwargs, context):
        path = "/".join(context.module.path)
        if context.method_name == "__call__" and path and path not in order:
            order.append(path)
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, xx: module.apply(v, xx, train=False), variables, x)
    return order


def layer_shapes(module, variables, x, spatial: bool = False) -> dict:
    """{layer name: activation shape} in call order (only (B, H, W, C) layers when ``spatial``)."""
    from ganjax.interpret.features import capture
    shapes = jax.eval_shape(lambda v, xx: capture(module, v, xx, train=False), variables, x)
    order = {k: i for i, k in enumerate(call_order(module, variables, x))}
    names = sorted(shapes, key=lambda k: order.get(k, len(order)))
    return {k: shapes[k].shape for k in names if not spatial or len(shapes[k].shape) == 4}


def check_spatial_layer(module, variables, x, layer: str, what: str) -> None:
    names = layer_shapes(module, variables, x, spatial=True)
    if layer not in names:
        raise UsageError(f"unknown layer {layer!r} of {what}; valid layers: {', '.join(names)}")


def image_baseline(ctx, kind: str, x: np.ndarray) -> np.ndarray:
    from ganjax.interpret.integrated_gradients import baseline_black, baseline_blur, baseline_uniform
    if kind == "black":
        return np.asarray(baseline_black(x))
    if kind == "zeros":
        return np.zeros_like(x)
    if kind == "blur":
        return np.asarray(baseline_blur(x, sigma=max(1.0, x.shape[1] / 6)))
    if kind == "noise":
        return np.asarray(baseline_uniform(jax.random.PRNGKey(ctx.seed + 7), x))
    from ganjax.data import to_float  # mean: the mean training image
    train = ctx.recipe.dataset.train if hasattr(ctx.recipe.dataset, "train") else ctx.recipe.dataset.train_a
    return np.broadcast_to(np.asarray(to_float(train[:2000])).mean(0, keepdims=True), x.shape).copy()
