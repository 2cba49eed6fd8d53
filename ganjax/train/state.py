"""The GAN state pytree and the helper that runs Flax modules with their mutable collections."""
from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class GANState:
    """Everything a run needs to continue: a pytree of arrays, checkpointed whole.

    params / opt_state: {"g": {net: ...}, "d": {net: ...}} — one optimizer per side.
    model_state: {net: {collection: ...}} for mutable collections such as batch_stats.
    key: the run's root PRNG key (raw uint32); each step's key is fold_in(key, step), so the data order
    and all noise are functions of (seed, step) and a resumed run repeats them exactly.
    extra: recipe state (e.g. CycleGAN's image history pools). hp: numeric loss weights and the EMA's
    numbers (data, not constants, so that sweeps can stack members that differ in them).
    ema: the generator's moving average (ganjax/train/ema.py), {"params": like params["g"], "model_state":
    the g-side nets' model_state}; always present (with ema.kimg = 0 it equals the raw generator), so the
    state has one structure whatever the EMA's numbers. None only in states built by hand without it.
    """
    step: jax.Array
    params: Any
    opt_state: Any
    model_state: Any
    key: jax.Array
    extra: Any
    hp: Any
    ema: Any = None


class Runner:
    """Applies named modules with one side's params, recording updated mutable collections.

    Created inside a traced function; `updates` is returned from that same function as aux output.
    """

    def __init__(self, modules: dict[str, nn.Module], params: dict, model_state: dict, rng: jax.Array,
                 train: bool = True):
        self.modules, self.params, self.model_state = modules, params, model_state
        self.rng, self.train, self.updates, self._calls = rng, train, {}, 0

    def __call__(self, name: str, *args, record: bool = True, method=None, **kwargs):
        if name not in self.params:
            raise KeyError(f"network {name!r} is not on this side; have {sorted(self.params)}")
        state = self.updates.get(name, self.model_state.get(name, {}))
        variables = {"params": self.params[name], **state}
        self._calls += 1
        rngs = {"dropout": jax.random.fold_in(self.rng, self._calls)}
        mutable = list(state) if (self.train and state) else False
        out = self.modules[name].apply(variables, *args, train=self.train, rngs=rngs, mutable=mutable,
                                       method=method, **kwargs)
        if mutable:
            out, new_state = out
            if record:
                self.updates[name] = new_state
        return out


def merge_state(model_state: dict, *updates: dict) -> dict:
    out = dict(model_state)
    for u in updates:
        out.update(u)
    return out


def split_variables(variables: dict) -> tuple[Any, dict]:
    """Flax variables → (params, other collections)."""
    variables = dict(variables)
    params = variables.pop("params")
    return params, variables


def tree_size(tree) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(tree)))


def compute_dtype(name: str):
    return {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[name]
