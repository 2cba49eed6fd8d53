"""Optimizers from config: Adam with its numbers injected as state (so sweeps can vary them per member)."""
from __future__ import annotations

import optax


def make_optimizer(ocfg, total_steps: int) -> optax.GradientTransformation:
    """Adam(lr, b1, b2) as injectable hyperparameters, times an optional linear decay to 0.

    `decay_start` (a fraction of total_steps, CycleGAN's n_epochs / (n_epochs + n_epochs_decay)) keeps the
    rate constant until then and decays it linearly to 0 at the end; 1.0 means no decay. The decay is a
    separate factor so that the injected learning rate stays a plain number.
    """
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=ocfg.lr, b1=ocfg.b1, b2=ocfg.b2)
    start = ocfg.get("decay_start", 1.0)
    if start < 1.0:
        begin = int(start * total_steps)
        factor = optax.linear_schedule(1.0, 0.0, max(total_steps - begin, 1), transition_begin=begin)
        tx = optax.chain(tx, optax.scale_by_schedule(factor))
    return tx


def learning_rate(opt_state) -> float:
    """The current injected learning rate of an optimizer state made by make_optimizer."""
    inner = opt_state[0] if isinstance(opt_state, tuple) else opt_state
    return inner.hyperparams["learning_rate"]
