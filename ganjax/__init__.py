"""ganjax: GAN experiments in JAX/Flax — DCGAN, CycleGAN, pix2pix, and tools that explain a trained GAN."""
__version__ = "0.1.0"
