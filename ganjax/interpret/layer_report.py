"""`ganjax explain --what layers`: feature grids of G and D, top-activating real images, and per D layer
real-vs-generated statistics, a linear probe and ablations.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.interpret import plots
from ganjax.interpret.run_inputs import check_spatial_layer, fake_images, layer_shapes, net_variables, real_images


STAT_COLUMNS = ("mean_real", "mean_fake", "sparsity_real", "sparsity_fake", "l2_real", "l2_fake",
                "probe_acc", "ablate_dlogit_real", "ablate_dlogit_fake")


def _capture_fn(module):
    from ganjax.interpret.features import capture
    return jax.jit(lambda v, x: capture(module, v, x, train=False))


def _batched(fn, v, x, batch: int = 128) -> dict:
    parts = [fn(v, jnp.asarray(x[s:s + batch])) for s in range(0, len(x), batch)]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def explain_layers(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target):
    """Feature grids of G and D, top-activating real images, real-vs-generated layer statistics."""
    from ganjax.interpret.features import ablation_effect, channel_grid, layer_statistics, top_activating

    recipe, st = ctx.recipe, ctx.state
    real = real_images(ctx, n)
    fake = fake_images(ctx, len(real))  # as many as reals: the probe's chance level stays 50 %
    d_mod, dv = recipe.modules["d"], net_variables(ctx, "d", "d")
    g_mod, gv = recipe.modules["g"], net_variables(ctx, "g", "g")
    d_spatial = layer_shapes(d_mod, dv, real[:1], spatial=True)
    g_spatial = layer_shapes(g_mod, gv, recipe.noise(jax.random.PRNGKey(0), 1), spatial=True)
    if layer is not None:
        check_spatial_layer(d_mod, dv, real[:1], layer, "the discriminator")
    top_layer = layer or list(d_spatial)[-1]
    cap_d, cap_g = _capture_fn(d_mod), _capture_fn(g_mod)

    # 1. feature grids of one generated sample (G) and one real image (D)
    z = recipe.noise(jax.random.PRNGKey(ctx.seed + 21), 1)
    g_acts = cap_g(gv, z)
    g_img = np.asarray(jax.jit(recipe.sample)(st, z))[0]
    d_acts = cap_d(dv, jnp.asarray(real[:1]))
    grid = lambda acts, name: (f"{name} {tuple(acts[name].shape[1:])}", channel_grid(acts[name], 16))
    rows = [("G (one sample)", [grid(g_acts, k) for k in g_spatial]
             + [("output G(z)", g_img)]),
            ("D (one real image)", [("input", real[0])] + [grid(d_acts, k) for k in d_spatial])]
    plots.feature_grids(ctx.path("explain_layers_features.png"), rows,
                        "Intermediate activations, first 16 channels of each layer (each channel scaled "
                        "to its own [0, 1])")

    # 2. real vs generated statistics and ablations, over n images each
    acts_r = _batched(cap_d, dv, real)
    acts_f = _batched(cap_d, dv, fake)
    stats = layer_statistics(acts_r, acts_f, seed=ctx.seed)
    abl = {}
    for name, x in ctx.progress((("real", real), ("fake", fake)), "ablation", 2):
        abl[name] = ablation_effect(d_mod, dv, jnp.asarray(x), None, train=False)
    names = [k for k in layer_shapes(d_mod, dv, real[:1]) if k in stats]
    for k in names:
        stats[k]["ablate_dlogit_real"], stats[k]["ablate_dlogit_fake"] = abl["real"][k], abl["fake"][k]
        stats[k]["shape"] = list(acts_r[k].shape[1:])
    _write_table(ctx, names, stats)
    plots.layer_stats(ctx.path("explain_layers_stats.png"), names, stats,
                      f"D's layers (each module's output, before the next nonlinearity) on {len(real)} "
                      f"held-out real vs {len(fake)} generated images; ablation: that output set to 0")

    # 3. top-activating real images for the most selective channels of one D layer
    means = acts_r[top_layer].mean(axis=(1, 2))                      # (N, C)
    channels = np.argsort(-means.std(0), kind="stable")[:8]
    idx = top_activating(lambda xb: cap_d(dv, xb), real, top_layer, k=8)
    plots.top_activating_grid(ctx.path("explain_layers_top_activating.png"), real, idx, channels, means,
                              f"D layer {top_layer}: the {idx.shape[1]} held-out real images that activate "
                              f"each channel most (8 most selective channels; number = mean activation)")
    summary = {"what": "layers", "n": n, "top_layer": top_layer, "channels": channels.tolist(),
               "top_images": idx[channels].tolist(), "stats": stats}
    ctx.save_json("explain_layers_stats.json", summary)
    return summary


def _write_table(ctx, names, stats) -> None:
    head = f"{'layer':<12s} {'shape':<14s}" + "".join(f"{c:>19s}" for c in STAT_COLUMNS)
    print(head)
    lines = ["layer,shape," + ",".join(STAT_COLUMNS)]
    for k in names:
        s = stats[k]
        shape = "x".join(map(str, s["shape"]))
        print(f"{k:<12s} {shape:<14s}" + "".join(f"{s[c]:19.4g}" for c in STAT_COLUMNS))
        lines.append(f"{k},{shape}," + ",".join(f"{s[c]:.6g}" for c in STAT_COLUMNS))
    with open(ctx.path("explain_layers_stats.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
