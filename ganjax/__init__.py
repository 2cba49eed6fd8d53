"""ganjax: GAN experiments in JAX/Flax — DCGAN, CycleGAN, pix2pix, and tools that explain a trained GAN.

The public Python API (the `ganjax` command uses the same library):

    import ganjax
    run = ganjax.load_run("runs/dcgan")                 # config, recipe and state at the latest checkpoint
    images = ganjax.generate(run, 64)                    # float32 (64, H, W, C) in [-1, 1]
    out = ganjax.translate(ganjax.load_run("runs/tone"), photo)   # uint8 image of any size → the same size
    attr, delta = ganjax.integrated_gradients(f, x, baseline, n_steps=64, return_delta=True)
    ganjax.metrics.frechet_distance(feats_a, feats_b)

Names are imported on first use, so `import ganjax` stays light.
"""
__version__ = "0.1.0"

_API = {
    "load_run": "ganjax.inference",
    "generate": "ganjax.inference",
    "translate": "ganjax.inference",
    "Run": "ganjax.inference",
    "integrated_gradients": "ganjax.interpret.integrated_gradients",
    "metrics": None,
    "interpret": None,
}
__all__ = list(_API)


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'ganjax' has no attribute {name!r}")
    import importlib
    module = _API[name]
    value = (importlib.import_module(f"ganjax.{name}") if module is None
             else getattr(importlib.import_module(module), name))
    globals()[name] = value
    return value
