"""Unconditional image GANs: the original article's DCGAN (MNIST-sized) and the classic 64x64 DCGAN."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ganjax import losses
from ganjax.data import batch_indices, diffaugment, load_dataset, to_float
from ganjax.models.dcgan import Discriminator, Discriminator64, Generator, Generator64
from ganjax.config import ConfigError, check_choice
from ganjax.models.upsample import METHODS
from ganjax.recipes.base import Recipe
from ganjax.train.state import Runner, compute_dtype

ARCHS = {"article": (Generator, Discriminator), "dcgan64": (Generator64, Discriminator64)}


class DCGAN(Recipe):
    sides = {"g": ("g",), "d": ("d",)}

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.model
        check_choice("model.arch", m.arch, ARCHS)
        check_choice("model.upsample", m.upsample, METHODS)
        check_choice("loss.name", cfg.loss.name, losses.ADVERSARIAL)
        if m.image_size % 4:
            raise ConfigError(f"config key 'model.image_size' must be a multiple of 4, got {m.image_size}")
        if m.arch == "dcgan64" and m.image_size not in (32, 64, 128):
            raise ConfigError(f"model.arch=dcgan64 makes 32, 64 or 128-pixel images, but config key "
                              f"'model.image_size' is {m.image_size} (set --config.model.image_size=64)")
        mbstd = int(m.get("d_mbstd", 0))  # configs written before model.d_mbstd: none
        if mbstd and m.arch != "article":
            raise ConfigError("config key 'model.d_mbstd' (minibatch standard deviation) needs model.arch=article")
        g_cls, d_cls = ARCHS[m.arch]
        dtype = compute_dtype(m.dtype)
        self.modules = {
            "g": g_cls(image_size=m.image_size, channels=m.channels, width=m.g_width, upsample=m.upsample,
                       dtype=dtype),
            "d": d_cls(width=m.d_width, dtype=dtype, **({"mbstd": mbstd} if mbstd else {})),
        }
        try:
            self.augment = diffaugment.parse_policy(m.get("d_augment", ""))
        except ValueError as e:
            raise ConfigError(f"config key 'model.d_augment': {e}") from None
        self.adv = losses.adversarial(cfg.loss.name)
        self.use_r1 = cfg.loss.r1_gamma > 0
        self.use_gp = cfg.loss.name == "wgan_gp"
        self.batch_size, self.latent_dim = cfg.train.batch_size, m.latent_dim
        self.d_has_state = m.arch == "dcgan64"
        self.pack = int(m.get("d_pack", 1))  # configs written before model.d_pack: D sees one image
        if self.pack < 1 or self.batch_size % self.pack:
            raise ConfigError(f"config key 'model.d_pack' must be >= 1 and divide train.batch_size "
                              f"({self.batch_size}), got {m.get('d_pack')}")
        # minibatch stddev groups must not straddle D's real and fake halves
        if mbstd and (self.batch_size // self.pack) % mbstd:
            raise ConfigError(f"config key 'model.d_mbstd' must divide the {self.batch_size // self.pack} images D "
                              f"judges per half-batch (train.batch_size / model.d_pack), got {mbstd}")

    @functools.cached_property
    def dataset(self):
        return load_dataset(self.cfg.data, self.cfg.model.image_size, self.cfg.model.channels)

    def device_data(self):
        return {"images": self.dataset.train}

    def fixed_inputs(self, n):
        return self.noise(jax.random.PRNGKey(self.cfg.seed + 1), n)

    def visualize(self, state, z):
        return self.sample(self.inference_state(state), z)

    def example_inputs(self):
        m = self.cfg.model
        return {"g": (jnp.zeros((2, m.latent_dim)),),
                "d": (jnp.zeros((2, m.image_size, m.image_size, m.channels * self.pack)),)}

    def packed(self, x):
        """PacGAN (Lin et al. 2018): D judges `model.d_pack` images at once, stacked on the channel axis
        ((n, H, W, C) -> (n / pack, H, W, pack * C)); a generator that drops modes makes packs that look alike."""
        if self.pack == 1:
            return x
        n, h, w, c = x.shape
        return x.reshape(n // self.pack, self.pack, h, w, c).transpose(0, 2, 3, 1, 4).reshape(
            n // self.pack, h, w, self.pack * c)

    def hparams(self):
        return {"r1_gamma": self.cfg.loss.r1_gamma, "gp_weight": self.cfg.loss.gp_weight}

    def sample_batch(self, data, step, data_key, key):
        images = data["images"]
        idx = batch_indices(data_key, step, images.shape[0], self.batch_size)
        z = jax.random.normal(key, (self.batch_size, self.latent_dim))
        return {"real": to_float(images[idx]), "z": z}

    def generate(self, run, batch, hp):
        return {"fake": run("g", batch["z"])}

    def d_inputs(self, outputs, extra, key):
        return outputs["fake"], extra

    def _d_logits(self, run, real, fake):
        if self.d_has_state:  # batch norm: real and fake batches normalised separately, as in PyTorch
            return run("d", real), run("d", fake)
        logits = run("d", jnp.concatenate([real, fake]))
        return logits[: real.shape[0]], logits[real.shape[0]:]

    def d_view(self, key, images):
        """What D is shown of a batch in training: DiffAugment (model.d_augment), then PacGAN packing."""
        if self.augment:
            images = diffaugment.augment(key, images, self.augment)
        return self.packed(images)

    def d_loss(self, run, batch, fake, key, hp):
        real = self.d_view(jax.random.fold_in(key, 0xA01), batch["real"])
        fake = self.d_view(jax.random.fold_in(key, 0xA02), fake)
        real_logits, fake_logits = self._d_logits(run, real, fake)
        loss = self.adv.d_loss(real_logits, fake_logits)
        metrics = {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
        d_fn = lambda x: run("d", x, record=False)
        if self.use_r1:
            metrics["r1"] = r1 = losses.r1_penalty(d_fn, real)
            loss = loss + 0.5 * hp["r1_gamma"] * r1
        if self.use_gp:
            metrics["gp"] = gp = losses.gradient_penalty(d_fn, real, fake, key)
            loss = loss + hp["gp_weight"] * gp
        return loss, metrics

    def g_loss(self, run, batch, outputs, hp):
        fake = self.d_view(jax.random.fold_in(run.rng, 0xA06), outputs["fake"])
        return self.adv.g_loss(run("d", fake)), {}

    # -- inference -----------------------------------------------------------------------------------
    def noise(self, key, n):
        return jax.random.normal(key, (n, self.latent_dim))

    def sample(self, state, z):
        """Images from latents with the generator in inference mode."""
        run = Runner(self.modules, state.params["g"], state.model_state, jax.random.PRNGKey(0), train=False)
        return run("g", z)

    def d_logits(self, state, images):
        """D's logit of each image (with model.d_pack > 1: of a pack of copies of it)."""
        run = Runner(self.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0), train=False)
        return run("d", jnp.tile(images, (1, 1, 1, self.pack)) if self.pack > 1 else images)
