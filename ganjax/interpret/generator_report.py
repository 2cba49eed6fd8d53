"""`ganjax explain --what generator`: which latent dims drive a scalar of G's output.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.interpret import plots
from ganjax.interpret.batch_attribution import METHOD_NAMES, attribute, completeness, print_completeness


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
                      f"{METHOD_NAMES[method]} of the {what} w.r.t. z "
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
        print_completeness({"latents": summary["completeness"]})
    ctx.save_json(f"explain_generator_{method}.json", summary)
    return summary
