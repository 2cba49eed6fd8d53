"""The one adversarial step skeleton, shared by DCGAN, CycleGAN and pix2pix.

A recipe (see ganjax/recipes) supplies the models and the loss terms:
  recipe.modules                  {net name: flax module}; recipe.sides = {"g": (...), "d": (...)}
  recipe.sample_batch(data, step, data_key, key) → batch (drawn inside the compiled step; data_key is
                                                    constant over the run so epochs are permutations)
  recipe.generate(run_g, batch, hp)              → outputs (all that the G loss depends on)
  recipe.d_inputs(outputs, extra, key)           → (what D sees, new extra)   e.g. an image pool
  recipe.g_batch(batch, extra)                   → what g_loss sees as its batch (default: batch)
  recipe.d_loss(run_d, batch, d_inputs, key, hp) → (loss, metrics)
  recipe.g_loss(run_d, batch, outputs, hp)       → (loss, metrics)
One step: G forward once (its VJP kept), D update on the stopped outputs, then G update through the
updated D, pulled back through the kept VJP — G is not run twice. Last, the generator's EMA
(ganjax/train/ema.py) moves towards the updated G.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from ganjax import parallel
from ganjax.models import cpu_conv
from ganjax.train import ema as ema_lib
from ganjax.train.state import GANState, Runner, merge_state


def train_step(recipe, txs: dict, state: GANState, data, batch_sharding=None) -> tuple[GANState, dict]:
    """One D update then one G update. Pure: (state, data) → (state, metrics).

    batch_sharding (a NamedSharding over a mesh's data axis): the drawn batch is split over the devices
    (data parallelism; see ganjax/parallel.py). None: no constraint."""
    key = jax.random.fold_in(state.key, state.step)
    k_data, k_gen, k_pool, k_d, k_g = jax.random.split(key, 5)
    batch = recipe.sample_batch(data, state.step, jax.random.fold_in(state.key, 0x5EED), k_data)
    if batch_sharding is not None:
        batch = parallel.shard_batch(batch, batch_sharding, recipe.cfg.train.batch_size)
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

    g_batch = recipe.g_batch(batch, extra)

    def g_objective(outs):
        run = Runner(recipe.modules, d_params, ms, k_g)
        loss, metrics = recipe.g_loss(run, g_batch, outs, hp)
        return loss, (metrics, run.updates)

    (g_loss, (g_metrics, gd_updates)), d_outputs = jax.value_and_grad(g_objective, has_aux=True)(outputs)
    (g_grads,) = g_vjp(d_outputs)
    g_params, g_opt = _apply(txs["g"], g_grads, state.opt_state["g"], params["g"])

    ms = merge_state(ms, gd_updates)
    ema = state.ema
    if ema is not None:  # stylegan2-ada's: beta from the images seen before this step
        beta = ema_lib.beta(hp, state.step, recipe.cfg.train.batch_size)
        ema = ema_lib.update(ema, g_params, ms, recipe.sides["g"], beta)

    metrics = {"d_loss": d_loss, "g_loss": g_loss, **d_metrics, **g_metrics,
               "d_grad_norm": optax.tree.norm(d_grads), "g_grad_norm": optax.tree.norm(g_grads)}
    new_state = state.replace(step=state.step + 1, params={"g": g_params, "d": d_params},
                              opt_state={"g": g_opt, "d": d_opt}, model_state=ms, extra=extra, ema=ema)
    return new_state, jax.tree_util.tree_map(lambda m: m.astype(jnp.float32), metrics)


def _apply(tx, grads, opt_state, params):
    def update(grads, opt_state, params):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state
    return cpu_conv.per_member_tree(update)(grads, opt_state, params)


def multi_step(recipe, txs, state: GANState, data, num_steps: int, fuse: str = "scan", batch_sharding=None):
    """`num_steps` train steps in one program; metrics come back stacked (num_steps, ...).

    fuse="scan": lax.scan over the step (one copy of the step in the program: fast to compile).
    fuse="loop": a Python loop of the step, i.e. `num_steps` copies. XLA:CPU runs convolutions inside a
    while loop far slower than outside one (about 30x on the article's DCGAN; a length-1 scan 20-45x),
    so the CPU default is "loop" with short dispatches (see loop.chunk_size)."""
    if fuse == "scan":
        body = lambda s, _: train_step(recipe, txs, s, data, batch_sharding)
        return jax.lax.scan(body, state, None, length=num_steps)
    if fuse != "loop":
        raise ValueError(f"fuse must be 'scan' or 'loop', got {fuse!r}")
    metrics = []
    for _ in range(num_steps):
        state, m = train_step(recipe, txs, state, data, batch_sharding)
        metrics.append(m)
    return state, jax.tree_util.tree_map(lambda *ms: jnp.stack(ms), *metrics)


def default_fuse() -> str:
    return "loop" if jax.default_backend() == "cpu" else "scan"


def compile_multi_step(recipe, txs, num_steps: int, fuse: str | None = None, mesh=None):
    """A jitted K-step function `(state, data) → (state, metrics)` with the state buffers donated.

    mesh (a jax.sharding.Mesh with a "data" axis, see ganjax/parallel.py): data parallelism — state, data
    and metrics replicated over the mesh, each step's batch split over its "data" axis."""
    fn = functools.partial(multi_step, recipe, txs, num_steps=num_steps, fuse=fuse or default_fuse())
    if mesh is None:
        return jax.jit(fn, donate_argnums=(0,))
    fn = functools.partial(fn, batch_sharding=parallel.batch_sharding(mesh))
    everywhere = parallel.replicated(mesh)
    return jax.jit(fn, in_shardings=everywhere, out_shardings=everywhere, donate_argnums=(0,))
