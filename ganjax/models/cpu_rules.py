"""Where ganjax's XLA:CPU formulations apply, and the per-member rules of a vmapped sweep.

`active()` says whether the CPU formulations of models/cpu_conv.py and models/phase_conv.py are used (on
XLA:CPU unless ENABLED is switched off, e.g. for before/after timings). `per_member` and `per_member_tree`
give a function a jax.vmap rule that computes each member of a stacked sweep as the member alone would
(models/cpu_conv.py explains why). A leaf module: both convolution modules build on it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

ENABLED = True  # False: lax everywhere (for before/after timings: benchmarks/cpu_conv_ab.py)


def active() -> bool:
    """Whether the CPU formulations (cpu_conv, phase_conv) are used: on XLA:CPU unless ENABLED is switched off."""
    return ENABLED and jax.default_backend() == "cpu"


# -- under jax.vmap (a sweep's stacked members): each member's convolutions, not one grouped convolution ----
# jax.vmap of a convolution whose weights are mapped becomes one grouped convolution, which XLA:CPU runs
# ~9x slower than the members' convolutions one by one and which sums in another order (so a stacked
# sweep member would drift from the same config trained alone). These rules make the program compute
# each member's convolution exactly as the unbatched program does, one after another; a mapped input
# with shared weights (e.g. integrated gradients' interpolation steps) is folded into the batch instead.
def per_member(fn, fold_first: bool):
    """fn(*arrays) with a vmap rule: fold the mapped axis of the first argument into its batch when it is
    the only mapped one and `fold_first`, else apply fn to each mapped slice in turn and stack."""
    f = custom_vmap(fn)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        if fold_first and in_batched[0] and not any(in_batched[1:]):
            x = args[0]
            out = f(x.reshape(-1, *x.shape[2:]), *args[1:])
            out = jax.tree_util.tree_map(lambda o: o.reshape(axis_size, -1, *o.shape[1:]), out)
        else:
            outs = [f(*(a[i] if b else a for a, b in zip(args, in_batched))) for i in range(axis_size)]
            out = jax.tree_util.tree_map(lambda *o: jnp.stack(o), *outs)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    # custom_vmap functions cannot be linearized: differentiating this one differentiates fn itself,
    # batched the ordinary way (conv2d and dot_general below never differentiate it: their custom VJPs
    # call each other; phase_conv's gradients of gradients do)
    g = jax.custom_jvp(lambda *args: f(*args))
    g.defjvp(lambda primals, tangents: jax.jvp(fn, primals, tangents))
    return g


def per_member_tree(fn):
    """fn(*pytrees) → pytree; under jax.vmap on XLA:CPU computed member by member (per_member on the leaves).

    For the optimizer update of a sweep (train/steps.py): XLA's algebraic simplifier rewrites Adam's
    `m / (1 − b1ᵗ) / (√v̂ + ε)` one way when 1 − b1ᵗ is a scalar (one run) and another when it is a
    per-member vector (a vmapped sweep), a 1-ulp difference that Adam's normalised steps then grow;
    per member, the arithmetic is the unbatched program's."""
    if not active():
        return fn

    def call(*trees):
        leaves, treedef = jax.tree_util.tree_flatten(trees)
        out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *trees))
        flat = lambda *xs: jax.tree_util.tree_leaves(fn(*jax.tree_util.tree_unflatten(treedef, list(xs))))
        return jax.tree_util.tree_unflatten(out_tree, per_member(flat, fold_first=False)(*leaves))
    return call
