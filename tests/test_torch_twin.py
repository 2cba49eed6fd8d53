"""The PyTorch twins in benchmarks/ compute ganjax's functions: same weights → same outputs, same step."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ganjax.bench.models import cyclegan_setup, dcgan_setup  # noqa: E402
from ganjax.train.steps import train_step  # noqa: E402
from torch_twin import DCGANTwin  # noqa: E402
from twins import make_twin  # noqa: E402

UPSAMPLES = ("conv_transpose", "subpixel", "resize_conv", "phase")


@pytest.fixture(autouse=True)
def highest_precision():
    with jax.default_matmul_precision("highest"):
        yield


def nchw(x):
    return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


@pytest.mark.parametrize("upsample", UPSAMPLES)
def test_dcgan_twin_same_outputs(upsample):
    recipe, _ = dcgan_setup(4, "float32", upsample, width=16)
    state = recipe.init_state(0)
    twin = DCGANTwin(width=16, upsample=upsample, batch=4)
    twin.load(state.params)
    z = jax.random.normal(jax.random.PRNGKey(1), (4, 100))
    fake = recipe.sample(state, z)
    x = jnp.concatenate([fake, jax.random.uniform(jax.random.PRNGKey(2), fake.shape, minval=-1, maxval=1)])
    logits = recipe.d_logits(state, x)
    with torch.no_grad():
        t_fake = twin.nets["g"](torch.from_numpy(np.array(z)))
        t_logits = twin.nets["d"](nchw(x))
    np.testing.assert_allclose(t_fake.numpy().transpose(0, 2, 3, 1), fake, atol=1e-4)
    np.testing.assert_allclose(t_logits.numpy(), logits, atol=1e-4)


@pytest.mark.parametrize("upsample", ("subpixel", "phase"))
def test_dcgan_twin_same_train_step(upsample):
    recipe, images = dcgan_setup(8, "float32", upsample, width=16, n_images=64)
    state, data = recipe.init_state(0), jax.device_put(images)
    twin = DCGANTwin(width=16, upsample=upsample, batch=8)
    twin.load(state.params)
    # the batch and noise of ganjax's step 0 (train_step's key derivation)
    k_data, k_gen = jax.random.split(jax.random.fold_in(state.key, state.step), 5)[:2]
    batch = recipe.sample_batch(data, state.step, jax.random.fold_in(state.key, 0x5EED), k_data)
    new_state, _ = jax.jit(functools.partial(train_step, recipe, recipe.optimizers()))(state, data)
    twin.update(nchw(batch["real"]), torch.from_numpy(np.array(batch["z"])))
    ref = DCGANTwin(width=16, upsample=upsample, batch=8)
    ref.load(new_state.params)
    moved = 0.0
    for name in ("g", "d"):
        for (key, p), q in zip(twin.nets[name].state_dict().items(), ref.nets[name].state_dict().values()):
            np.testing.assert_allclose(p.numpy(), q.numpy(), atol=1e-4, err_msg=f"{name}.{key}")
    for side in ("g", "d"):
        moved = max(moved, max(float(jnp.abs(a - b).max()) for a, b in zip(
            jax.tree_util.tree_leaves(new_state.params[side]), jax.tree_util.tree_leaves(state.params[side]))))
    assert moved > 1e-4  # the step really changed the parameters (Adam's first step moves them by ≈ lr)


@pytest.mark.parametrize("upsample", ("conv_transpose", "phase", "subpixel", "resize_conv"))
def test_cyclegan_twin_same_outputs(upsample):
    recipe, _ = cyclegan_setup(2, "float32", 32, upsample, ngf=8, n_blocks=1)
    twin = make_twin("cyclegan", size=32, batch=2, ngf=8, n_blocks=1, upsample=upsample)
    x = jax.random.uniform(jax.random.PRNGKey(3), (2, 32, 32, 3), minval=-1, maxval=1)
    out = {}
    for i, name in enumerate(("G_A", "D_B")):  # one generator and one discriminator suffice
        module = recipe.modules[name]
        params = module.init(jax.random.PRNGKey(i), x)["params"]
        twin.nets[name].load(params)
        out[name] = module.apply({"params": params}, x)
    with torch.no_grad():
        t_fake = twin.nets["G_A"](nchw(x)).numpy().transpose(0, 2, 3, 1)
        t_d = twin.nets["D_B"](nchw(x)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(t_fake, out["G_A"], atol=1e-4)
    np.testing.assert_allclose(t_d, out["D_B"], atol=1e-4)


def test_cyclegan_twin_step_runs():
    twin = make_twin("cyclegan", size=32, batch=2, ngf=4, n_blocks=1, pool=2)
    rng = np.random.default_rng(0)
    twin.set_data(*(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8) for _ in range(2)))
    for _ in range(2):
        out = twin.step()
    assert all(np.isfinite(float(v)) for v in out.values())
