"""`ganjax explain --what translator`: which input pixels make a patch of a CycleGAN / pix2pix translation.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.interpret import plots
from ganjax.interpret.batch_attribution import (METHOD_NAMES, attribute, completeness, print_completeness,
                                                upsample_layer_attr)
from ganjax.interpret.run_inputs import check_spatial_layer, image_baseline, net_variables


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
    shown = attr if lay is None else upsample_layer_attr(attr, size)
    a = np.abs(shown).sum(-1)
    inside = a[:, target.y0:target.y1, target.x0:target.x1].sum((1, 2)) / np.maximum(a.sum((1, 2)), 1e-12)
    box_frac = (target.y1 - target.y0) * (target.x1 - target.x0) / size ** 2
    tag = f"{method}_{layer.replace('/', '-')}" if layer else method
    title = (f"{METHOD_NAMES[method]}: which input pixels make the {target.label} of {net}(A)"
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
        print_completeness({"input A": summary["completeness"]})
    ctx.save_json(f"explain_translator_{tag}.json", summary)
    return summary


def _translate(x, st, recipe, net):
    from ganjax.train.state import Runner
    return Runner(recipe.modules, st.params["g"], st.model_state, jax.random.PRNGKey(0), train=False)(net, x)
