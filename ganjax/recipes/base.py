"""What every recipe shares: state initialisation, optimizers, defaults of the step hooks."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ganjax.train.optim import make_optimizer
from ganjax.train.state import GANState, split_variables


class Recipe:
    """A GAN = modules on two sides ("g", "d") + loss terms. Subclasses set `modules`, `sides` and hooks."""
    modules: dict
    sides: dict  # {"g": (net names), "d": (net names)}

    def __init__(self, cfg):
        self.cfg = cfg

    # -- hooks with defaults -------------------------------------------------------------------------
    def example_inputs(self) -> dict:
        """{net name: tuple of example arguments} used to initialise each module."""
        raise NotImplementedError

    def hparams(self) -> dict:
        """Numeric loss weights kept in the state (so sweeps can stack members that differ in them)."""
        return {}

    grid_nrow: int | None = None  # columns of the sample grid (None: square)

    def device_data(self) -> dict:
        """The training data as a dict of (host) arrays; the loop puts it on the device once."""
        raise NotImplementedError

    def fixed_inputs(self, n: int):
        """Inputs that `visualize` turns into the sample grid at each sample step (fixed over the run)."""
        raise NotImplementedError

    def visualize(self, state, fixed):
        """(N, H, W, C) images in [-1, 1] for samples/step_XXXXXX.png."""
        raise NotImplementedError

    def init_extra(self) -> dict:
        return {}

    def d_inputs(self, outputs, extra, key):
        return outputs, extra

    # -- shared machinery ----------------------------------------------------------------------------
    def optimizers(self) -> dict:
        steps = self.cfg.train.steps
        return {side: make_optimizer(self.cfg.optim[side], steps) for side in ("g", "d")}

    def init_state(self, seed: int) -> GANState:
        key = jax.random.PRNGKey(seed)
        k_init, k_run = jax.random.split(key)
        params, model_state = {"g": {}, "d": {}}, {}
        for i, (name, args) in enumerate(sorted(self.example_inputs().items())):
            side = "g" if name in self.sides["g"] else "d"
            variables = self.modules[name].init(
                {"params": jax.random.fold_in(k_init, i), "dropout": k_init}, *args, train=False)
            params[side][name], other = split_variables(variables)
            if other:
                model_state[name] = other
        txs = self.optimizers()
        opt_state = {side: txs[side].init(params[side]) for side in ("g", "d")}
        hp = {k: jnp.asarray(v, jnp.float32) for k, v in self.hparams().items()}
        return GANState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                        model_state=model_state, key=k_run, extra=self.init_extra(), hp=hp)
