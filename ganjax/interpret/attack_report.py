"""`ganjax attack`: D's accuracy under FGSM / PGD for each ε, with a curve, a table and examples.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.interpret import plots
from ganjax.interpret.run_inputs import fake_images, real_images


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
