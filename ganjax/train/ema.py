"""The generator's exponential moving average (EMA), in stylegan2-ada's form.

stylegan2-ada's training loop, per step (cur_nimg: images seen before this step):

    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None: ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    ema_beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))
    p_ema = p.lerp(p_ema, ema_beta)             # parameters: p + (p_ema − p)·beta (torch.lerp's rounding)
    b_ema = b                                   # buffers (batch-norm statistics): copied

`ema_kimg` is the half-life in thousands of images; here `ema_rampup` = 0 means no ramp-up (the reference's
None) and `ema_kimg` = 0 gives beta = 0, i.e. an EMA equal to the raw generator (off). Both numbers are data
(state.hp["ema_kimg"], state.hp["ema_rampup"]), never constants of the program: sweep members that differ in
them, 0 included, share one compiled step.

The EMA lives in GANState.ema = {"params": like params["g"], "model_state": the g-side nets' model_state}.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

KIMG, RAMPUP = "ema_kimg", "ema_rampup"  # their keys in state.hp


def hparams(cfg) -> dict:
    """{"ema_kimg", "ema_rampup"} of config section `ema` (absent, e.g. a run folder written before EMA: off)."""
    section = cfg.get("ema") if hasattr(cfg, "get") else None
    if section is None:
        return {KIMG: 0.0, RAMPUP: 0.0}
    return {KIMG: float(section.kimg), RAMPUP: float(section.rampup)}


def beta(hp: dict, step, batch_size: int) -> jax.Array:
    """The lerp factor of the update made by the step that starts at `step` (images seen: step·batch_size)."""
    kimg = jnp.asarray(hp.get(KIMG, 0.0), jnp.float32)
    rampup = jnp.asarray(hp.get(RAMPUP, 0.0), jnp.float32)
    nimg = kimg * 1000.0
    cur_nimg = jnp.asarray(step, jnp.float32) * batch_size
    nimg = jnp.where(rampup > 0, jnp.minimum(nimg, cur_nimg * rampup), nimg)
    return jnp.power(jnp.float32(0.5), batch_size / jnp.maximum(nimg, 1e-8))


def g_model_state(model_state: dict, g_nets) -> dict:
    """The generator side's part of a model_state {net: {collection: ...}}."""
    return {name: model_state[name] for name in g_nets if name in model_state}


def init(g_params, model_state: dict, g_nets) -> dict:
    """An EMA equal to the generator (fresh buffers: a donated state must not hold one buffer twice)."""
    copy = lambda tree: jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)
    return {"params": copy(g_params), "model_state": copy(g_model_state(model_state, g_nets))}


def lerp(p, e, b):
    """torch.lerp(p, e, b), as stylegan2-ada's `p.lerp(p_ema, beta)` computes it: p + b·(e − p) for b < 0.5,
    e − (e − p)·(1 − b) otherwise, so that beta 0 gives p and beta 1 gives e exactly."""
    b = jnp.asarray(b, p.dtype)
    d = e - p
    return jnp.where(jnp.abs(b) < 0.5, p + b * d, e - d * (1 - b))


def update(ema: dict, g_params, model_state: dict, g_nets, b) -> dict:
    """One EMA step: params lerped towards `g_params` by `b` (beta), g-side model_state copied."""
    return {"params": jax.tree_util.tree_map(lambda p, e: lerp(p, e, b).astype(e.dtype), g_params, ema["params"]),
            "model_state": g_model_state(model_state, g_nets)}


# -- checkpoints written before the EMA existed ----------------------------------------------------------
def strip(state):
    """`state` (or its jax.eval_shape) without the EMA: no `ema`, no ema_* in hp — the structure of a checkpoint
    written before the EMA existed, as a restore target (then `attach`)."""
    return state.replace(ema=None, hp={k: v for k, v in state.hp.items() if k not in (KIMG, RAMPUP)})


def attach(state, ema_hp: dict, g_nets):
    """A state restored through `strip` made whole: hp gets `ema_hp` (recipe.ema_hparams()) and the EMA starts
    at the restored generator. (Arrays are created on the default device: re-place them on a mesh.)"""
    hp = {**state.hp, **{k: jnp.asarray(v, jnp.float32) for k, v in ema_hp.items()}}
    return state.replace(hp=hp, ema=init(state.params["g"], state.model_state, g_nets))
