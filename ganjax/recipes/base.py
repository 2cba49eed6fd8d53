"""What every recipe shares: state initialisation, optimizers, defaults of the step hooks, and the choice of
generator for inference (its EMA or the raw one)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.train import ema as ema_lib
from ganjax.train.optim import make_optimizer
from ganjax.train.state import GANState, split_variables


class Recipe:
    """A GAN = modules on two sides ("g", "d") + loss terms. Subclasses set `modules`, `sides` and hooks."""
    modules: dict
    sides: dict  # {"g": (net names), "d": (net names)}
    run_dir: str | None = None  # the run folder (set by training and load_run): files of `run_arrays` are read there

    def __init__(self, cfg):
        self.cfg = cfg

    def run_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """{file name: arrays} that the run folder keeps beside its checkpoints, written once when training
        starts (e.g. clusters.npz of self-conditioning), so that later loads read them instead of computing."""
        return {}

    # -- hooks with defaults -------------------------------------------------------------------------
    def example_inputs(self) -> dict:
        """{net name: tuple of example arguments} used to initialise each module."""
        raise NotImplementedError

    def hparams(self) -> dict:
        """Numeric loss weights kept in the state (so sweeps can stack members that differ in them)."""
        return {}

    def ema_hparams(self) -> dict:
        """The generator EMA's numbers kept in state.hp: {"ema_kimg", "ema_rampup"} (config section `ema`)."""
        return ema_lib.hparams(self.cfg)

    grid_nrow: int | None = None  # columns of the sample grid (None: square)

    def device_data(self) -> dict:
        """The training data as a dict of (host) arrays; the loop puts it on the device once."""
        raise NotImplementedError

    def fixed_inputs(self, n: int):
        """Inputs that `visualize` turns into the sample grid at each sample step (fixed over the run)."""
        raise NotImplementedError

    def visualize(self, state, fixed):
        """(N, H, W, C) images in [-1, 1] for samples/step_XXXXXX.png (from the EMA generator, where there is
        one: see inference_state)."""
        raise NotImplementedError

    def init_extra(self) -> dict:
        return {}

    def d_inputs(self, outputs, extra, key):
        return outputs, extra

    def g_batch(self, batch, extra):
        """What g_loss sees as its batch, given the recipe state after d_inputs (e.g. running statistics)."""
        return batch

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
        hp = {k: jnp.asarray(v, jnp.float32) for k, v in {**self.hparams(), **self.ema_hparams()}.items()}
        return GANState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                        model_state=model_state, key=k_run, extra=self.init_extra(), hp=hp,
                        ema=ema_lib.init(params["g"], model_state, self.sides["g"]))

    # -- inference: the EMA generator or the raw one ---------------------------------------------------
    def inference_state(self, state: GANState, ema: bool = True) -> GANState:
        """`state` with the generator to use for inference: with ema=True, params["g"] and the g-side nets'
        model_state are the EMA's (its batch-norm statistics are the raw generator's, copied each step);
        ema=False, or a state without an EMA (state.ema None), gives `state` unchanged. Traceable (jit):
        with the EMA off (ema.kimg = 0) the EMA equals the raw generator, so swapping it in changes nothing.
        D's params and everything else are left as they are."""
        if not ema or state.ema is None:
            return state
        return state.replace(params={**state.params, "g": state.ema["params"]},
                             model_state={**state.model_state, **state.ema["model_state"]})

    def has_ema(self, state: GANState) -> bool:
        """Whether `state` holds an EMA generator distinct from the raw one (ema.kimg > 0). Host-side: it reads
        state.hp (for a sweep's stacked state: any member's)."""
        if state.ema is None:
            return False
        return bool(np.any(np.asarray(state.hp.get(ema_lib.KIMG, 0.0)) > 0))

    def generator_label(self, state: GANState, ema: bool = True) -> str:
        """"EMA" or "raw": which generator inference_state(state, ema) gives (for captions, eval records)."""
        return "EMA" if ema and self.has_ema(state) else "raw"
