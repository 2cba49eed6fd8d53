"""Recipes: a GAN's modules and loss terms, plugged into the one step skeleton (ganjax/train/steps.py)."""
from __future__ import annotations

from ganjax.recipes.base import Recipe

def build(cfg) -> Recipe:
    """The recipe named by `cfg.experiment`."""
    name = cfg.experiment
    if name == "dcgan":
        from ganjax.recipes.dcgan import DCGAN
        return DCGAN(cfg)
    if name in TRANSLATION:
        return _translation_class(name)(cfg)
    from ganjax.config import ConfigError
    raise ConfigError(f"config key 'experiment' is {name!r}; valid: dcgan, {', '.join(TRANSLATION)}")


TRANSLATION = ("cyclegan", "pix2pix")  # image-to-image experiments (ganjax translate / eval PSNR, SSIM)


def _translation_class(name: str):
    from ganjax.recipes import translation
    return {"cyclegan": translation.CycleGAN, "pix2pix": translation.Pix2Pix}[name]


def grid_columns(name: str) -> tuple[str, ...]:
    """Captions of the columns of experiment `name`'s sample grid; () when its columns mean nothing."""
    return _translation_class(name).grid_columns if name in TRANSLATION else ()
