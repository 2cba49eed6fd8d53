"""The one adversarial step skeleton, shared by DCGAN, CycleGAN and pix2pix.

A recipe (see ganjax/recipes) supplies the models and the loss terms:
  recipe.modules                  {net name: flax module}; recipe.sides = {"g": (...), "d": (...)}
  recipe.sample_batch(data, step, data_key, key) → batch (drawn inside the compiled step; data_key is
                                                    constant over the run so epochs are permutations)
  recipe.generate(run_g, batch, hp)              → outputs (all that the G loss depends on)
  recipe.d_inputs(outputs, extra, key)           → (what D sees, new extra)   e.g. an image pool
  recipe.d_loss(run_d, batch, d_inputs, key, hp) → (loss, metrics)
  recipe.g_loss(run_d, batch, outputs, hp)       → (loss, metrics)
One step: G forward once (its VJP kept), D update on the stopped outputs, then G update through the
updated D, pulled back through the kept VJP — G is not run twice.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from ganjax.train.state import GANState, Runner, merge_state


def train_step(recipe, txs: dict, state: GANState, data) -> tuple[GANState, dict]:
    """One D update then one G update. Pure: (state, data) → (state, metrics)."""
    key = jax.random.fold_in(state.key, state.step)
    k_data, k_gen, k_pool, k_d, k_g = jax.random.split(key, 5)
    batch = recipe.sample_batch(data, state.step, jax.random.fold_in(state.key, 0x5EED), k_data)
    params, ms, hp = state.params, state.model_state, state.hp

    def generate(g_params):
        run = Runner(recipe.modules, g_params, ms, k_gen)
        return recipe.generate(run, batch, hp), run.updates

    outputs, g_vjp, g_updates = jax.vjp(generate, params["g"], has_aux=True)
    d_in, extra = recipe.d_inputs(outputs, state.extra, k_pool)
    d_in = jax.lax.stop_gradient(d_in)
    ms = merge_state(ms, g_updates)

    def d_objective(d_params):
        run = Runner(recipe.modules, d_params, ms, k_d)
        loss, metrics = recipe.d_loss(run, batch, d_in, k_d, hp)
        return loss, (metrics, run.updates)

    (d_loss, (d_metrics, d_updates)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(params["d"])
    d_params, d_opt = _apply(txs["d"], d_grads, state.opt_state["d"], params["d"])
    ms = merge_state(ms, d_updates)

    def g_objective(outs):
        run = Runner(recipe.modules, d_params, ms, k_g)
        loss, metrics = recipe.g_loss(run, batch, outs, hp)
        return loss, (metrics, run.updates)

    (g_loss, (g_metrics, gd_updates)), d_outputs = jax.value_and_grad(g_objective, has_aux=True)(outputs)
    (g_grads,) = g_vjp(d_outputs)
    g_params, g_opt = _apply(txs["g"], g_grads, state.opt_state["g"], params["g"])

    metrics = {"d_loss": d_loss, "g_loss": g_loss, **d_metrics, **g_metrics,
               "d_grad_norm": optax.tree.norm(d_grads), "g_grad_norm": optax.tree.norm(g_grads)}
    new_state = state.replace(step=state.step + 1, params={"g": g_params, "d": d_params},
                              opt_state={"g": g_opt, "d": d_opt}, model_state=merge_state(ms, gd_updates),
                              extra=extra)
    return new_state, jax.tree_util.tree_map(lambda m: m.astype(jnp.float32), metrics)


def _apply(tx, grads, opt_state, params):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def multi_step(recipe, txs, state: GANState, data, num_steps: int, unroll: int | bool = 1):
    """`num_steps` train steps fused with lax.scan; metrics come back stacked (num_steps, ...)."""
    body = lambda s, _: train_step(recipe, txs, s, data)
    return jax.lax.scan(body, state, None, length=num_steps, unroll=unroll)


def default_unroll() -> bool | int:
    """XLA:CPU runs convolutions inside a while loop about 30x slower than outside one (measured on the
    article's DCGAN), so on CPU the scan is unrolled (and dispatches are kept short, see loop.chunk_size)."""
    return True if jax.default_backend() == "cpu" else 1


def compile_multi_step(recipe, txs, num_steps: int, unroll: int | bool | None = None):
    """A jitted K-step function with the state buffers donated."""
    unroll = default_unroll() if unroll is None else unroll
    fn = functools.partial(multi_step, recipe, txs, num_steps=num_steps, unroll=unroll)
    return jax.jit(fn, donate_argnums=(0,))
