"""Adversarial probes of a discriminator: FGSM, PGD (L∞ / L2) and a robustness curve.

``f`` maps images ``(B, H, W, C)`` in [−1, 1] to per-example scalars ``(B,)``, typically D's logit.
``direction=+1`` pushes ``f`` up (fakes toward "real"), ``direction=-1`` pushes it down.  Every result
is projected onto the ε-ball around ``x`` and onto the image range [−1, 1].

Units: images live in [−1, 1], so an ε here is twice the same perturbation expressed in [0, 1] pixel
units (ε = 8/255 in the usual [0, 1] convention is ε = 16/255 here).
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.interpret.integrated_gradients import resolve_unroll

LOW, HIGH = -1.0, 1.0


def _check_eps(eps):
    if np.any(np.asarray(eps) < 0):
        raise ValueError(f"eps must be >= 0, got {eps}")


def _grad(f, x):
    return jax.grad(lambda z: jnp.sum(f(z)))(x)


def _l2(v):
    """Per-example L2 norm with the non-batch axes kept (for broadcasting)."""
    return jnp.sqrt(jnp.sum(v * v, axis=tuple(range(1, v.ndim)), keepdims=True))


def _project(x_adv, x, eps, norm):
    """Project onto the ε-ball around ``x`` (L∞ clip or L2 rescale), then onto [−1, 1]."""
    d = x_adv - x
    if norm == "linf":
        d = jnp.clip(d, -eps, eps)
    else:
        d = d * jnp.minimum(1.0, eps / jnp.maximum(_l2(d), 1e-12))
    return jnp.clip(x + d, LOW, HIGH)  # clipping shrinks every |d_i|, so the ε-ball still holds


@functools.partial(jax.jit, static_argnames=("f", "direction"))
def _fgsm(f, x, eps, direction):
    return jnp.clip(x + direction * eps * jnp.sign(_grad(f, x)), LOW, HIGH)


def fgsm(f: Callable, x, eps: float, direction: int = +1):
    """Fast gradient sign method: ``clip(x + direction · ε · sign(∇f(x)), −1, 1)``."""
    _check_eps(eps)
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    x = jnp.asarray(x)
    return _fgsm(f, x, jnp.asarray(eps, x.dtype), int(direction))


@functools.partial(jax.jit, static_argnames=("f", "norm", "n_iter", "random_start", "direction",
                                             "unroll"))
def _pgd(f, x, eps, key, step_size, norm, n_iter, random_start, direction, unroll):
    if random_start:
        if norm == "linf":
            start = x + jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0) * eps
        else:  # uniform in the L2 ball: Gaussian direction, radius ε·u^(1/d)
            k1, k2 = jax.random.split(key)
            g = jax.random.normal(k1, x.shape, x.dtype)
            dim = np.prod(x.shape[1:])
            r = jax.random.uniform(k2, (x.shape[0],) + (1,) * (x.ndim - 1), x.dtype) ** (1.0 / dim)
            start = x + g / jnp.maximum(_l2(g), 1e-12) * r * eps
        x_adv = _project(start, x, eps, norm)
    else:
        x_adv = x

    def body(_, xa):
        g = direction * _grad(f, xa)
        if norm == "linf":
            step = jnp.sign(g)
        else:
            step = g / jnp.maximum(_l2(g), 1e-12)
        return _project(xa + step_size * step, x, eps, norm)

    return jax.lax.fori_loop(0, n_iter, body, x_adv, unroll=resolve_unroll(unroll, n_iter))


def pgd(f: Callable, x, eps: float, key, norm: str = "linf", step_size: float | None = None,
        n_iter: int = 10, random_start: bool = True, direction: int = +1,
        unroll: bool | int | None = None):
    """Projected gradient descent/ascent (Madry et al., 2018) inside an ε-ball.

    L∞ steps move by ``step_size · sign(∇f)``; L2 steps by ``step_size · ∇f / ‖∇f‖``.  After every
    step the iterate is projected onto the ball and onto [−1, 1].  ``step_size`` defaults to
    ``2.5 ε / n_iter``.  The loop is a ``jax.lax.fori_loop`` inside one ``jax.jit`` (``unroll``:
    see ``integrated_gradients.resolve_unroll``; ``None`` unrolls short loops on CPU).
    """
    _check_eps(eps)
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    x = jnp.asarray(x)
    step = 2.5 * float(eps) / max(n_iter, 1) if step_size is None else step_size
    return _pgd(f, x, jnp.asarray(eps, x.dtype), key, jnp.asarray(step, x.dtype), norm=norm,
                n_iter=int(n_iter), random_start=bool(random_start), direction=int(direction),
                unroll=unroll)


def robustness_curve(d_logit_fn: Callable, real, fake, eps_list: Sequence[float], key,
                     method: str = "pgd", norm: str = "linf", n_iter: int = 10,
                     step_size: float | None = None) -> dict:
    """Discriminator accuracy under attack, for each ε in ``eps_list``.

    Reals are attacked toward "fake" (logit down) and fakes toward "real" (logit up); a real counts
    as correct when its logit is > 0, a fake when its logit is < 0.  ε is in [−1, 1] image units,
    i.e. twice the same ε in [0, 1] units.  ``method`` is ``"pgd"`` or ``"fgsm"``.

    Returns ``{"eps", "accuracy", "acc_real", "acc_fake"}`` as numpy arrays of length ``len(eps_list)``.
    """
    if method not in ("pgd", "fgsm"):
        raise ValueError(f"method must be 'pgd' or 'fgsm', got {method!r}")
    real, fake = jnp.asarray(real), jnp.asarray(fake)
    acc_r, acc_f = [], []
    for i, eps in enumerate(eps_list):
        _check_eps(eps)
        kr, kf = jax.random.split(jax.random.fold_in(key, i))
        if method == "pgd":
            r_adv = pgd(d_logit_fn, real, eps, kr, norm, step_size, n_iter, direction=-1)
            f_adv = pgd(d_logit_fn, fake, eps, kf, norm, step_size, n_iter, direction=+1)
        else:
            r_adv = fgsm(d_logit_fn, real, eps, direction=-1)
            f_adv = fgsm(d_logit_fn, fake, eps, direction=+1)
        acc_r.append(float(jnp.mean(d_logit_fn(r_adv) > 0)))
        acc_f.append(float(jnp.mean(d_logit_fn(f_adv) < 0)))
    acc_r, acc_f = np.asarray(acc_r), np.asarray(acc_f)
    n_r, n_f = real.shape[0], fake.shape[0]
    return {"eps": np.asarray(eps_list, dtype=np.float64),
            "accuracy": (acc_r * n_r + acc_f * n_f) / (n_r + n_f),
            "acc_real": acc_r, "acc_fake": acc_f}
