"""The analyses behind `ganjax explain --what ...` and `ganjax attack` (entry points: ganjax/explain.py).

Each ``explain_<what>(ctx, **opts)`` computes, writes its figures / numbers under ``ctx.out_dir`` and
returns a dict of the numbers.  Integrated gradients use 64 Gauss–Legendre nodes by default; see
``ig_chunk`` for how many path points are evaluated together.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.interpret import plots

IMAGE_BATCH = 32  # images per compiled attribution call (the last batch is padded: one compile)


def ig_chunk(n_evals: int) -> int | None:
    """Path points per IG chunk for ``n_evals`` = images x steps in this command.

    Accelerators: all points at once.  CPU: one point per chunk (unrolled) ran ~1.2x Captum on the
    article's D where all points at once ran 0.43x (benchmarks/ig_vs_captum.py), and 3.8 s against
    5.0 s per call of 32 images x 64 steps on the trained D here, but unrolling 64 chunks costs ~5 s
    more compilation (8.2 s against 6.5 s for the first call): worth it from ~4 such calls on.
    """
    if jax.default_backend() != "cpu":
        return None
    return 1 if n_evals >= 4 * IMAGE_BATCH * 64 else 4


# ----------------------------------------------------------------------------- data and networks

def real_images(ctx, n: int) -> np.ndarray:
    """The first n held-out images in [-1, 1] (training images when nothing is held out)."""
    from ganjax.data import to_float
    ds = ctx.recipe.dataset
    pool = ds.test if len(ds.test) else ds.train
    return np.asarray(to_float(pool[:n]))


def fake_images(ctx, n: int) -> np.ndarray:
    from ganjax.sampling import generate
    return generate(ctx.recipe, ctx.state, n, seed=ctx.seed + 1)


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


# ----------------------------------------------------------------------------- attribution

def attribute(ctx, f, x, method: str, baseline, steps: int, f_args=(), desc: str = "attribution",
              layer: tuple | None = None, n_total: int | None = None):
    """Attributions of ``f(x, *f_args) -> (B,)`` in batches of IMAGE_BATCH (padded: compiled once).

    ``layer=(module, variables, name, output_fn)`` gives layer integrated gradients instead;
    ``n_total``: images attributed by the whole command (picks the IG chunking; default ``len(x)``).
    Returns ``(attr, delta or None, gap)`` with ``gap = f(x) - f(baseline)`` (IG only, else None).
    """
    from ganjax.interpret.integrated_gradients import integrated_gradients
    from ganjax.interpret.saliency import (gradient_x_input, layer_integrated_gradients, saliency,
                                           smoothgrad)

    x = np.asarray(x, np.float32)
    n = len(x)
    chunk = ig_chunk((n_total or n) * steps)
    bs = min(IMAGE_BATCH, n)
    pad = (-n) % bs
    xp = np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x
    bp = None if baseline is None else np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    if bp is not None and pad:
        bp = np.concatenate([bp, np.repeat(bp[-1:], pad, 0)])
    g = lambda xx: f(xx, *f_args)  # one object for every batch (jit caches on identity)
    f_jit = jax.jit(f)
    attrs, deltas, gaps = [], [], []
    key = jax.random.PRNGKey(ctx.seed + 3)
    for s in ctx.progress(range(0, len(xp), bs), desc, total=len(xp) // bs):
        xb = jnp.asarray(xp[s:s + bs])
        if method == "ig" and layer is not None:
            module, variables, name, out_fn = layer
            a, d = layer_integrated_gradients(module, variables, xb, name, baseline=bp[s:s + bs],
                                              n_steps=steps, batch_size=chunk, output_fn=out_fn,
                                              return_delta=True, warn_threshold=None, train=False)
            gaps.append(np.asarray(jnp.sum(a.reshape(bs, -1), 1) - d))  # f(x) - f(layer at a')
        elif method == "ig":
            bb = jnp.asarray(bp[s:s + bs])
            a, d = integrated_gradients(f, xb, bb, n_steps=steps, batch_size=chunk,
                                        return_delta=True, warn_threshold=None, f_args=tuple(f_args))
            gaps.append(np.asarray(f_jit(xb, *f_args) - f_jit(bb, *f_args)))
        elif method == "saliency":
            a, d = saliency(g, xb), None
        elif method == "gradxinput":
            a, d = gradient_x_input(g, xb), None
        else:
            a, d = smoothgrad(g, xb, jax.random.fold_in(key, s)), None
        attrs.append(np.asarray(a))
        if d is not None:
            deltas.append(np.asarray(d))
    attr = np.concatenate(attrs)[:n]
    if not deltas:
        return attr, None, None
    return attr, np.concatenate(deltas)[:n], np.concatenate(gaps)[:n]


def completeness(delta, gap) -> dict:
    """Distribution of |delta| / |F(x) - F(x')| (IG's completeness error, relative)."""
    r = np.abs(delta) / np.maximum(np.abs(gap), 1e-12)
    return {"n": int(r.size), "median_ratio": float(np.median(r)),
            "p90_ratio": float(np.percentile(r, 90)), "max_ratio": float(r.max()),
            "median_abs_delta": float(np.median(np.abs(delta))),
            "median_abs_gap": float(np.median(np.abs(gap)))}


def _print_completeness(groups: dict) -> None:
    print("completeness |delta| / |F(x) - F(x')|:   median      p90      max   (n)")
    for name, c in groups.items():
        print(f"  {name:<28s} {c['median_ratio']:9.2e} {c['p90_ratio']:8.2e} "
              f"{c['max_ratio']:8.2e}   ({c['n']})")
    if max(c["median_ratio"] for c in groups.values()) > 0.01:
        print("  note: median above 1 %: the attributions do not add up to F(x) - F(x'); "
              "raise --steps or try another --baseline")


def _upsample(attr, size: int) -> np.ndarray:
    """Channel-summed (B, h, w, C) layer attributions, nearest-upsampled to (B, size, size, 1)."""
    a = np.asarray(attr).sum(-1, keepdims=True)
    return np.asarray(jax.image.resize(a, (a.shape[0], size, size, 1), "nearest"))


# ----------------------------------------------------------------------------- --what discriminator

def explain_discriminator(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target):
    recipe, st = ctx.recipe, ctx.state
    real = real_images(ctx, n)
    fake = fake_images(ctx, len(real))
    kind = baseline or "black"
    module, variables = recipe.modules["d"], net_variables(ctx, "d", "d")
    lay = None
    if layer is not None:
        check_spatial_layer(module, variables, real[:1], layer, "the discriminator")
        lay = (module, variables, layer, None)
    f = functools.partial(_d_fn, recipe=recipe)
    out, groups, deltas, gaps = {}, [], [], []
    for name, x in (("real (held-out)", real), ("generated", fake)):
        base = image_baseline(ctx, kind, x)
        attr, delta, gap = attribute(ctx, f, x, method, base, steps, (st,),
                                     desc=f"{method} {name.split()[0]}", layer=lay,
                                     n_total=len(real) + len(fake))
        logits = np.asarray(jax.jit(recipe.d_logits)(st, jnp.asarray(x)))
        shown = attr if lay is None else _upsample(attr, x.shape[1])
        groups.append((name, x, shown, [f"D logit {v:+.2f}" for v in logits]))
        out[name] = {"logits": logits}
        if delta is not None:
            out[name]["completeness"] = completeness(delta, gap)
            deltas.append(delta)
            gaps.append(gap)
    tag = f"{method}_{layer.replace('/', '-')}" if layer else method
    where = f"layer {layer}" if layer else "input pixels"
    title = (f"{_METHOD_NAMES[method]} of D's logit w.r.t. {where}"
             + (f" ({steps} Gauss–Legendre steps, baseline {kind})" if method == "ig" else ""))
    plots.attribution_grid(ctx.path(f"explain_discriminator_{tag}.png"), groups, sign, outlier_perc, title)
    if method == "ig":
        comp = {k: v["completeness"] for k, v in out.items()}
        comp["all"] = completeness(np.concatenate(deltas), np.concatenate(gaps))
        out["all"] = {"completeness": comp["all"]}
        _print_completeness(comp)
    summary = {"what": "discriminator", "method": method, "baseline": kind, "steps": steps,
               "layer": layer, "n": n, **out}
    ctx.save_json(f"explain_discriminator_{tag}.json", summary)
    return summary


def _d_fn(x, st, recipe):
    return recipe.d_logits(st, x)

_METHOD_NAMES = {"ig": "Integrated gradients", "saliency": "Saliency |∂D/∂x|",
                 "gradxinput": "Gradient × input", "smoothgrad": "SmoothGrad"}


# ----------------------------------------------------------------------------- --what generator

def _g_target(z, st, recipe, target):
    return target.scalar(recipe.sample(st, z))


def explain_generator(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target, top=20,
                      n_strips=4):
    """Attribution of a scalar of G(z) (target) to the latent dims; bars and strips of the top dims."""
    from ganjax.interpret.latent import direction_strips

    recipe, st = ctx.recipe, ctx.state
    if layer is not None:
        raise UsageError("--layer applies to --what discriminator, translator or layers, not generator")
    z = np.asarray(recipe.noise(jax.random.PRNGKey(ctx.seed + 11), n))
    kind = baseline or "zeros"
    base = (np.zeros_like(z[:1]) if kind == "zeros" else
            np.asarray(recipe.noise(jax.random.PRNGKey(ctx.seed + 12), 4096)).mean(0, keepdims=True))
    f = functools.partial(_g_target, recipe=recipe, target=target)
    attr, delta, gap = attribute(ctx, f, z, method, base, steps, (st,), desc=f"{method} latent")
    mean_attr, mean_abs = attr.mean(0), np.abs(attr).mean(0)
    order = np.argsort(-mean_abs, kind="stable")
    k = min(top, z.shape[1])
    dims = order[:k]
    images = np.asarray(jax.jit(recipe.sample)(st, jnp.asarray(z[:1])))
    sigmas = np.linspace(-3, 3, 7)
    ks = min(n_strips, z.shape[1])
    strips = np.asarray(direction_strips(lambda zz: recipe.sample(st, zz), z[0],
                                         np.eye(z.shape[1], dtype=np.float32)[dims[:ks]], sigmas))
    values = np.asarray(target.scalar(jnp.asarray(strips.reshape(-1, *strips.shape[2:])))).reshape(ks, -1)
    what = f"mean of G(z) over {target.label}"
    plots.latent_bars(ctx.path(f"explain_generator_{method}.png"), images[0], target, dims,
                      mean_attr[dims], attr[:, dims].std(0), mean_abs[dims],
                      f"{_METHOD_NAMES[method]} of the {what} w.r.t. z "
                      f"(top {k} of {z.shape[1]} dims, {n} latents" +
                      (f", baseline {kind} latent)" if method == "ig" else ")") +
                      ("\nattribution of z[d] = (z[d] − baseline[d]) × mean gradient along the path: its "
                       "sign also depends on the sign of z[d]" if method in ("ig", "gradxinput") else ""))
    plots.strip_grid(ctx.path(f"explain_generator_{method}_strips.png"), strips, target,
                     [f"z[{d}]" for d in dims[:ks]], [f"{s:+g}" for s in sigmas], values,
                     f"The {ks} most influential latent dims of one sample, each moved by the offset "
                     f"on top\n(box = target; number under each image = {what})")
    summary = {"what": "generator", "method": method, "target": target.label, "baseline": kind,
               "steps": steps, "n": n, "top_dims": dims.tolist(), "mean_attr": mean_attr[dims].tolist(),
               "mean_abs_attr": mean_abs[dims].tolist()}
    print(f"top latent dims for the {what} (mean attribution over {n} latents):")
    print("  " + "  ".join(f"z[{d}]={mean_attr[d]:+.3g}" for d in dims[:10]))
    if delta is not None:
        summary["completeness"] = completeness(delta, gap)
        _print_completeness({"latents": summary["completeness"]})
    ctx.save_json(f"explain_generator_{method}.json", summary)
    return summary


# ----------------------------------------------------------------------------- --what translator

def translator_net(recipe, params: dict) -> str:
    """The A→B generator's name: recipe.direction_net("AtoB"), else the first known name present."""
    if hasattr(recipe, "direction_net"):
        return recipe.direction_net("AtoB")
    for name in ("G_A", "g_ab", "G", "g"):
        if name in params:
            return name
    raise UsageError(f"no translator network in this run; generator nets: {', '.join(params)}")


def _t_target(x, st, recipe, net, target):
    from ganjax.train.state import Runner
    out = Runner(recipe.modules, st.params["g"], st.model_state, jax.random.PRNGKey(0), train=False)(net, x)
    return target.scalar(out)


def explain_translator(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target):
    """Which input pixels make the target patch of the translated (A→B) image."""
    from ganjax.data.translation import center_crop

    recipe, st = ctx.recipe, ctx.state
    net = translator_net(recipe, st.params["g"])
    images = np.asarray(center_crop(recipe.dataset.test_a[:n], recipe.cfg.data.crop_size))
    # what the net takes: the images, or their code (pix2pix colorization: the luma)
    encode = getattr(recipe, "encode_a", lambda a: a)
    x = np.asarray(encode(images))
    # not black: a constant input sits on instance norm's singularity (|delta| ~ 90 % of the gap);
    # not blur: flat regions equal their blur, so they would get no attribution however much they matter
    kind = baseline or "noise"
    lay = None
    module, variables = recipe.modules[net], net_variables(ctx, "g", net)
    if layer is not None:
        check_spatial_layer(module, variables, x[:1], layer, f"the translator {net}")
        lay = (module, variables, layer, target.scalar)
    f = functools.partial(_t_target, recipe=recipe, net=net, target=target)
    attr, delta, gap = attribute(ctx, f, x, method, np.asarray(encode(image_baseline(ctx, kind, images))),
                                 steps, (st,), desc=f"{method} translator", layer=lay)
    if hasattr(recipe, "translator"):  # the whole translated image (colorization: luma + G's chroma)
        y = np.asarray(jax.jit(recipe.translator("AtoB"))(st, jnp.asarray(images)))
    else:
        y = np.asarray(jax.jit(functools.partial(_translate, recipe=recipe, net=net))(jnp.asarray(x), st))
    size = x.shape[1]
    shown = attr if lay is None else _upsample(attr, size)
    a = np.abs(shown).sum(-1)
    inside = a[:, target.y0:target.y1, target.x0:target.x1].sum((1, 2)) / np.maximum(a.sum((1, 2)), 1e-12)
    box_frac = (target.y1 - target.y0) * (target.x1 - target.x0) / size ** 2
    tag = f"{method}_{layer.replace('/', '-')}" if layer else method
    title = (f"{_METHOD_NAMES[method]}: which input pixels make the {target.label} of {net}(A)"
             + (f" ({steps} steps, baseline {kind})" if method == "ig" else ""))
    plots.attribution_grid(ctx.path(f"explain_translator_{tag}.png"),
                           [("input A", x, shown, [f"{100 * v:.0f}% of |attr| in box" for v in inside])],
                           sign, outlier_perc, title, outputs=(f"output {net}(A)", y), box=target)
    summary = {"what": "translator", "net": net, "method": method, "target": target.label,
               "baseline": kind, "steps": steps, "layer": layer, "n": n,
               "share_abs_attr_in_box": inside.tolist(), "box_area_share": box_frac}
    print(f"share of |attribution| inside the target box: median {np.median(inside):.1%} "
          f"(the box is {box_frac:.1%} of the image)")
    if delta is not None:
        summary["completeness"] = completeness(delta, gap)
        _print_completeness({"input A": summary["completeness"]})
    ctx.save_json(f"explain_translator_{tag}.json", summary)
    return summary


def _translate(x, st, recipe, net):
    from ganjax.train.state import Runner
    return Runner(recipe.modules, st.params["g"], st.model_state, jax.random.PRNGKey(0), train=False)(net, x)
