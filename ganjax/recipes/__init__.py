"""Recipes: a GAN's modules and loss terms, plugged into the one step skeleton (ganjax/train/steps.py)."""
from __future__ import annotations

from ganjax.recipes.base import Recipe


def build(cfg) -> Recipe:
    """The recipe named by `cfg.experiment`."""
    name = cfg.experiment
    if name == "dcgan":
        from ganjax.recipes.dcgan import DCGAN
        return DCGAN(cfg)
    raise ValueError(f"unknown experiment {name!r}; valid: dcgan")
