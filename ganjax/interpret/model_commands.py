"""`ganjax explain --what layers|latent` and `ganjax attack` (entry points: ganjax/explain.py)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.interpret import plots
from ganjax.interpret.commands import (layer_shapes, check_spatial_layer, fake_images,
                                       net_variables, real_images)

N_PCA = 1000  # latent samples for the GANSpace PCA (the full G runs on each: ~10 s on a busy 2-core CPU)
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


def explain_latent(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target, n_dirs=6):
    """Slerp interpolation grid and GANSpace-style principal directions of G's latent space."""
    from ganjax.interpret.features import capture
    from ganjax.interpret.latent import direction_strips, interpolate

    recipe, st = ctx.recipe, ctx.state
    g_mod, gv = recipe.modules["g"], net_variables(ctx, "g", "g")
    k0, k1, k2 = jax.random.split(jax.random.PRNGKey(ctx.seed + 31), 3)
    z0, z1 = recipe.noise(k0, n), recipe.noise(k1, n)
    dim = z0.shape[1]
    g = functools.partial(_sample, recipe=recipe, st=st)
    steps_i = 9
    path = interpolate(z0, z1, steps_i)                               # (steps, n, dim)
    imgs = np.asarray(jax.jit(g)(path.reshape(-1, dim))).reshape(steps_i, n, *recipe.sample(
        st, z0[:1]).shape[1:]).swapaxes(0, 1)
    ts = np.linspace(0, 1, steps_i)
    plots.strip_grid(ctx.path("explain_latent_interpolation.png"), imgs, None,
                     [f"pair {i}" for i in range(n)], [f"t={t:.2f}" for t in ts], None,
                     "Spherical interpolation between random latent pairs (t = 0 → 1)")
    names = list(layer_shapes(g_mod, gv, z0[:1]))
    layer = layer or "output"  # G's first layer (GANSpace's BigGAN choice) is linear in z here: flat spectrum
    if layer not in names + ["output"]:
        raise UsageError(f"unknown layer {layer!r} of the generator; valid: {', '.join(names + ['output'])}")
    feat = ("output" if layer == "output" else
            (lambda zz: capture(g_mod, gv, zz, train=False)[layer].reshape(zz.shape[0], -1)))
    dirs, ratio = ganspace(g if feat == "output" else feat, k2, dim, N_PCA, n_dirs)
    sigmas = np.linspace(-3, 3, 7)
    strips = np.asarray(direction_strips(g, z0[0], dirs, sigmas))
    plots.strip_grid(ctx.path("explain_latent_directions.png"), strips, None,
                     [f"PC{i + 1} ({r:.1%})" for i, r in enumerate(ratio)], [f"{s:+g}" for s in sigmas],
                     None, f"GANSpace-style principal directions: PCA of G's {layer} over {N_PCA} samples "
                     "(% = variance explained),\nregressed onto z; one sample moved by the offset on top "
                     "along each unit direction")
    summary = {"what": "latent", "n": n, "layer": layer, "explained_variance_ratio": ratio.tolist(),
               "sigmas": sigmas.tolist()}
    print("principal directions, variance explained: " + ", ".join(f"PC{i + 1} {r:.1%}"
                                                                    for i, r in enumerate(ratio)))
    ctx.save_json("explain_latent.json", summary)
    return summary


def ganspace(feat_fn, key, latent_dim: int, n_samples: int, k: int, batch: int = 250):
    """interpret.latent.principal_directions with a randomized SVD of the top ``k`` components only.

    Same result (up to sign and randomized-SVD accuracy): PCA of ``feat_fn(z)`` over ``z ~ N(0, I)``,
    PCA coordinates regressed back onto ``z``, directions normalised.  The full SVD of 2000 x 6272
    features took over a minute on a busy 2-core CPU; this takes seconds.
    """
    from sklearn.utils.extmath import randomized_svd

    z = np.asarray(jax.random.normal(key, (n_samples, latent_dim)), np.float32)
    fn = jax.jit(feat_fn)
    feats = np.concatenate([np.asarray(fn(jnp.asarray(z[s:s + batch]))).reshape(len(z[s:s + batch]), -1)
                            for s in range(0, n_samples, batch)]).astype(np.float64)
    centred = feats - feats.mean(0)
    k = min(k, *centred.shape)
    _, sv, vt = randomized_svd(centred, k, n_iter=6, random_state=0)
    ratio = sv ** 2 / max(float(np.sum(centred ** 2)), 1e-30)
    u, *_ = np.linalg.lstsq(centred @ vt.T, z.astype(np.float64), rcond=None)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return u.astype(np.float32), ratio.astype(np.float32)


def _sample(z, recipe, st):
    return recipe.sample(st, z)


def run_attack(ctx, method, eps_list, norm, iters, n, n_show=4):
    """D's accuracy under attack for each ε; curve, table, JSON and an examples figure."""
    from ganjax.interpret import attacks
    from ganjax.interpret.figures import robustness_curve_png

    recipe, st = ctx.recipe, ctx.state
    real = real_images(ctx, n)
    fake = fake_images(ctx, len(real))
    d = functools.partial(_d, recipe=recipe, st=st)
    key = jax.random.PRNGKey(ctx.seed + 41)
    parts = [_clean_accuracy(d, real, fake) if e == 0 else
             attacks.robustness_curve(d, real, fake, [e], jax.random.fold_in(key, j), method, norm, iters)
             for j, e in enumerate(ctx.progress(eps_list, f"{method} attack"))]
    curve = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    print(f"{method.upper()} ({norm}, {iters if method == 'pgd' else 1} step(s)) on {len(real)} real + "
          f"{len(fake)} generated images; ε in [-1, 1] image units")
    print(f"{'eps':>8s} {'accuracy':>9s} {'real':>7s} {'fake':>7s}")
    for i, e in enumerate(curve["eps"]):
        print(f"{e:8.4g} {curve['accuracy'][i]:9.3f} {curve['acc_real'][i]:7.3f} {curve['acc_fake'][i]:7.3f}")
    tag = f"attack_{method}_{norm}"
    robustness_curve_png(curve, ctx.path(f"{tag}.png"),
                         title=f"D accuracy under {method.upper()} ({norm}) — {len(real)} real + "
                               f"{len(fake)} generated")
    eps = float(max(eps_list))
    groups = []
    for name, x, direction in (("real", real[:n_show], -1), ("generated", fake[:n_show], +1)):
        if method == "pgd":
            adv = attacks.pgd(d, x, eps, jax.random.fold_in(key, 99), norm, n_iter=iters, direction=direction)
        else:
            adv = attacks.fgsm(d, x, eps, direction=direction)
        adv = np.asarray(adv)
        groups.append((name, x, adv, np.asarray(d(jnp.asarray(x))), np.asarray(d(jnp.asarray(adv)))))
    plots.attack_examples(ctx.path(f"{tag}_examples.png"), groups, eps,
                          f"{method.upper()} ({norm}): reals pushed toward 'fake', fakes toward 'real'")
    summary = {"method": method, "norm": norm, "iters": iters, "n_real": len(real), "n_fake": len(fake),
               "eps_units": "[-1, 1] image range (= 2x the same eps in [0, 1] units)",
               **{k: v.tolist() for k, v in curve.items()}}
    ctx.save_json(f"{tag}.json", summary)
    return summary


def _clean_accuracy(d, real, fake) -> dict:
    """robustness_curve's result at ε = 0 without running the attack."""
    acc_r = float(np.mean(np.asarray(jax.jit(d)(jnp.asarray(real))) > 0))
    acc_f = float(np.mean(np.asarray(jax.jit(d)(jnp.asarray(fake))) < 0))
    total = (acc_r * len(real) + acc_f * len(fake)) / (len(real) + len(fake))
    return {"eps": np.zeros(1), "accuracy": np.asarray([total]), "acc_real": np.asarray([acc_r]),
            "acc_fake": np.asarray([acc_f])}


def _d(x, recipe, st):
    return recipe.d_logits(st, x)
