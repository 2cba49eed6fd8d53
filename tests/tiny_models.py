"""A tiny nonlinear discriminator shared by the interpret tests (2 convs + dense on 8×8×1 images)."""
import flax.linen as nn
import jax
import jax.numpy as jnp


class TinyD(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = jnp.tanh(nn.Conv(4, (3, 3))(x))
        x = jnp.tanh(nn.Conv(4, (3, 3), strides=(2, 2))(x))
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def tiny_d(n: int):
    """(model, variables, x, f): TinyD initialised with key 0, `n` images uniform in [-1, 1], f = D's logits."""
    model = TinyD()
    x = jax.random.uniform(jax.random.key(1), (n, 8, 8, 1), minval=-1.0, maxval=1.0)
    variables = model.init(jax.random.key(0), x)
    return model, variables, x, (lambda z: model.apply(variables, z))
