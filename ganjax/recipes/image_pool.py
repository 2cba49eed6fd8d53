"""CycleGAN's history of generated images (Shrivastava et al.), as the reference's ``util/image_pool.py``.

The discriminators see a mix of the newest fakes and older ones, which damps oscillation. The pool is
pure JAX state (kept in ``GANState.extra``): a fixed buffer ``(size, H, W, C)`` and a fill count.
For each image of a batch, in order (the reference's ``ImagePool.query``):

* while the pool holds fewer than ``size`` images: store the image and return it;
* once full: with probability 0.5 return a uniformly chosen stored image and store the new one in its
  place; otherwise return the new image and leave the pool unchanged.

``size == 0`` disables the pool (the batch is returned as it is).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def init_pool(size: int, image_shape: tuple[int, ...], dtype=jnp.float32) -> dict:
    """An empty pool for ``size`` images of ``image_shape`` (H, W, C)."""
    return {"images": jnp.zeros((size, *image_shape), dtype), "count": jnp.zeros((), jnp.int32)}


def query_pool(pool: dict, images: jax.Array, key: jax.Array) -> tuple[jax.Array, dict]:
    """(images for the discriminator, updated pool); pure and jittable."""
    size = pool["images"].shape[0]
    if size == 0:
        return images, pool
    keys = jax.random.split(key, images.shape[0])

    def one(state, item):
        image, k = item
        k_swap, k_idx = jax.random.split(k)
        stored, count = state["images"], state["count"]
        filling = count < size
        swap = jax.random.uniform(k_swap) > 0.5
        idx = jnp.where(filling, count, jax.random.randint(k_idx, (), 0, size))
        old = stored[idx]
        out = jnp.where(filling | ~swap, image, old)
        stored = stored.at[idx].set(jnp.where(filling | swap, image.astype(stored.dtype), old))
        return {"images": stored, "count": jnp.minimum(count + 1, size)}, out.astype(images.dtype)

    pool, out = jax.lax.scan(one, pool, (images, keys))
    return out, pool
