"""`ganjax explain --what discriminator`: attributions of D's logit on held-out real and generated images.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.interpret import plots
from ganjax.interpret.batch_attribution import (METHOD_NAMES, attribute, completeness, print_completeness,
                                                upsample_layer_attr)
from ganjax.interpret.run_inputs import check_spatial_layer, fake_images, image_baseline, net_variables, real_images


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
        shown = attr if lay is None else upsample_layer_attr(attr, x.shape[1])
        groups.append((name, x, shown, [f"D logit {v:+.2f}" for v in logits]))
        out[name] = {"logits": logits}
        if delta is not None:
            out[name]["completeness"] = completeness(delta, gap)
            deltas.append(delta)
            gaps.append(gap)
    tag = f"{method}_{layer.replace('/', '-')}" if layer else method
    where = f"layer {layer}" if layer else "input pixels"
    title = (f"{METHOD_NAMES[method]} of D's logit w.r.t. {where}"
             + (f" ({steps} Gauss–Legendre steps, baseline {kind})" if method == "ig" else ""))
    plots.attribution_grid(ctx.path(f"explain_discriminator_{tag}.png"), groups, sign, outlier_perc, title)
    if method == "ig":
        comp = {k: v["completeness"] for k, v in out.items()}
        comp["all"] = completeness(np.concatenate(deltas), np.concatenate(gaps))
        out["all"] = {"completeness": comp["all"]}
        print_completeness(comp)
    summary = {"what": "discriminator", "method": method, "baseline": kind, "steps": steps,
               "layer": layer, "n": n, **out}
    ctx.save_json(f"explain_discriminator_{tag}.json", summary)
    return summary


def _d_fn(x, st, recipe):
    return recipe.d_logits(st, x)
