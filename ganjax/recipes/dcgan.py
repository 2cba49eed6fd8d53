"""Unconditional image GANs: the original article's DCGAN (MNIST-sized) and the classic 64x64 DCGAN."""
from __future__ import annotations

import functools
import os
import warnings
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax

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
        # a one-hot code at the latent's tail: InfoGAN's (read back by a Q head on D) or self-conditioning's (the
        # cluster of the real images D judges with it); configs written before these keys: none
        self.info, self.clusters = int(m.get("info_codes", 0)), int(m.get("clusters", 0))
        for key, k in (("info_codes", self.info), ("clusters", self.clusters)):
            if k and m.arch != "article":
                raise ConfigError(f"config key 'model.{key}' needs model.arch=article")
            if k == 1:
                raise ConfigError(f"config key 'model.{key}' must be 0 (off) or at least 2, got 1")
        if self.info and self.clusters:
            raise ConfigError("config keys 'model.info_codes' and 'model.clusters' cannot both be set: one code")
        self.codes = self.info or self.clusters
        self.grid_nrow = self.codes or None
        g_cls, d_cls = ARCHS[m.arch]
        dtype = compute_dtype(m.dtype)
        d_kw = {**({"mbstd": mbstd} if mbstd else {}), **({"codes": self.info} if self.info else {}),
                **({"classes": self.clusters} if self.clusters else {})}
        self.modules = {
            "g": g_cls(image_size=m.image_size, channels=m.channels, width=m.g_width, upsample=m.upsample,
                       dtype=dtype),
            "d": d_cls(width=m.d_width, dtype=dtype, **d_kw),
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
        if self.codes and self.pack > 1:
            raise ConfigError(f"config key 'model.{'info_codes' if self.info else 'clusters'}' needs "
                              f"model.d_pack=1: D reads the code of one image")
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

    CLUSTERS_FILE = "clusters.npz"

    @functools.cached_property
    def cluster_assignment(self) -> tuple[np.ndarray, np.ndarray]:
        """Self-conditioning (model.clusters = K): (each training image's cluster (n,), the clusters' shares (K,))
        by k-means on the pixels (scikit-learn). Seeded by a constant, not the run's seed: the same clusters at
        every load and for every seed, so a sweep's members stacked over seeds, which train on one copy of the
        data, sample their codes with the shares they were trained on. A run folder keeps them in clusters.npz
        (run_arrays): resume, sample and eval read that file, whatever scikit-learn version is installed."""
        labels = self._kept_clusters()
        if labels is None:
            from sklearn.cluster import KMeans

            x = self.dataset.train
            labels = KMeans(self.clusters, n_init=3, random_state=0).fit(
                x.reshape(len(x), -1).astype(np.float32) / 255.0).labels_.astype(np.int32)
        return labels, np.bincount(labels, minlength=self.clusters) / len(labels)

    def _kept_clusters(self) -> np.ndarray | None:
        """The clusters in the run folder's clusters.npz when they fit this run's data and K; None (k-means runs)
        otherwise."""
        if not self.run_dir:
            return None
        path = os.path.join(self.run_dir, self.CLUSTERS_FILE)
        if not os.path.exists(path):
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                labels = f["labels"].astype(np.int32)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            warnings.warn(f"{path} is unreadable ({e}); computing the clusters again")
            return None
        n = len(self.dataset.train)
        if labels.shape != (n,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= self.clusters:
            warnings.warn(f"{path} does not fit this run ({n} training images, model.clusters={self.clusters}); "
                          f"computing the clusters again")
            return None
        return labels

    def run_arrays(self):
        return {self.CLUSTERS_FILE: {"labels": self.cluster_assignment[0]}} if self.clusters else {}

    def device_data(self):
        data = {"images": self.dataset.train}
        if self.clusters:
            data["clusters"] = self.cluster_assignment[0]
        return data

    def fixed_inputs(self, n):
        z = self.noise(jax.random.PRNGKey(self.cfg.seed + 1), n)
        if self.codes:  # column j of the sample grid (grid_nrow = codes) shows code j
            z = z.at[:, -self.codes:].set(jax.nn.one_hot(jnp.arange(n) % self.codes, self.codes))
        return z

    def visualize(self, state, z):
        return self.sample(self.inference_state(state), z)

    def example_inputs(self):
        m = self.cfg.model
        return {"g": (jnp.zeros((2, m.latent_dim + self.codes)),),
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
        hp = {"r1_gamma": self.cfg.loss.r1_gamma, "gp_weight": self.cfg.loss.gp_weight}
        if self.info:  # InfoGAN's weight on the code's cross-entropy (stackable in sweeps)
            hp["info"] = self.cfg.loss.get("info", 1.0)
        return hp

    def sample_batch(self, data, step, data_key, key):
        images = data["images"]
        idx = batch_indices(data_key, step, images.shape[0], self.batch_size)
        batch = {"real": to_float(images[idx]), "z": self.noise(key, self.batch_size)}
        if self.clusters:
            batch["real_code"] = data["clusters"][idx]
        return batch

    def generate(self, run, batch, hp):
        return {"fake": run("g", batch["z"])}

    def d_inputs(self, outputs, extra, key):
        return outputs["fake"], extra

    def code_of(self, z):
        """The code (N,) of latents with a one-hot tail."""
        return jnp.argmax(z[:, -self.codes:], axis=-1)

    def d_condition(self, code):
        """D's keyword arguments for images of these codes (N,): the cluster for the projection D (model.clusters)."""
        return {"y": code} if self.clusters else {}

    def _d_logits(self, run, real, fake, cond=None):
        """D's logits of real and fake, and (InfoGAN, model.info_codes) Q's code logits of the fakes (else None)."""
        if self.d_has_state:  # batch norm: real and fake batches normalised separately, as in PyTorch
            return run("d", real), run("d", fake), None
        n = real.shape[0]
        if self.info:
            logits, q = run("d", jnp.concatenate([real, fake]), codes=True)
            return logits[:n], logits[n:], q[n:]
        logits = run("d", jnp.concatenate([real, fake]), **(cond or {}))
        return logits[:n], logits[n:], None

    def info_loss(self, q_logits, z):
        """InfoGAN's term: cross-entropy of Q's guess of each fake's code (the one-hot tail of its latent); a lower
        bound on the mutual information between code and image, minimised by G and by D's Q head alike."""
        return optax.softmax_cross_entropy_with_integer_labels(q_logits, self.code_of(z)).mean()

    def d_view(self, key, images):
        """What D is shown of a batch in training: DiffAugment (model.d_augment), then PacGAN packing."""
        if self.augment:
            images = diffaugment.augment(key, images, self.augment)
        return self.packed(images)

    def d_loss(self, run, batch, fake, key, hp):
        real = self.d_view(jax.random.fold_in(key, 0xA01), batch["real"])
        fake = self.d_view(jax.random.fold_in(key, 0xA02), fake)
        real_code = batch.get("real_code")
        cond = self.d_condition(jnp.concatenate([real_code, self.code_of(batch["z"])]) if self.clusters else None)
        real_logits, fake_logits, q_logits = self._d_logits(run, real, fake, cond)
        loss = self.adv.d_loss(real_logits, fake_logits)
        metrics = {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
        if self.info:
            metrics["info_d"] = info = self.info_loss(q_logits, batch["z"])
            loss = loss + hp["info"] * info
        d_fn = lambda x: run("d", x, record=False, **self.d_condition(real_code))
        if self.use_r1:
            metrics["r1"] = r1 = losses.r1_penalty(d_fn, real)
            loss = loss + 0.5 * hp["r1_gamma"] * r1
        if self.use_gp:
            metrics["gp"] = gp = losses.gradient_penalty(d_fn, real, fake, key)
            loss = loss + hp["gp_weight"] * gp
        return loss, metrics

    def g_loss(self, run, batch, outputs, hp):
        fake = self.d_view(jax.random.fold_in(run.rng, 0xA06), outputs["fake"])
        if not self.info:
            cond = self.d_condition(self.code_of(batch["z"]) if self.clusters else None)
            return self.adv.g_loss(run("d", fake, **cond)), {}
        logits, q_logits = run("d", fake, codes=True)
        info = self.info_loss(q_logits, batch["z"])
        return self.adv.g_loss(logits) + hp["info"] * info, {"info_g": info}

    # -- inference -----------------------------------------------------------------------------------
    def noise(self, key, n, code=None):
        """Latents (n, latent_dim): N(0, I); with a code (model.info_codes or model.clusters = K) a one-hot code is
        appended, (n, latent_dim + K): InfoGAN's uniform over the K categories, self-conditioning's drawn with the
        clusters' shares among the real images; or all `code` when given."""
        if not self.codes:
            return jax.random.normal(key, (n, self.latent_dim))
        k_z, k_c = jax.random.split(key)
        if code is not None:
            c = jnp.full((n,), code)
        elif self.clusters:
            c = jax.random.categorical(k_c, jnp.log(jnp.asarray(self.cluster_assignment[1], jnp.float32)), shape=(n,))
        else:
            c = jax.random.randint(k_c, (n,), 0, self.codes)
        return jnp.concatenate([jax.random.normal(k_z, (n, self.latent_dim)), jax.nn.one_hot(c, self.codes)], -1)

    def sample(self, state, z):
        """Images from latents with the generator in inference mode."""
        run = Runner(self.modules, state.params["g"], state.model_state, jax.random.PRNGKey(0), train=False)
        return run("g", z)

    def d_logits(self, state, images):
        """D's logit of each image (with model.d_pack > 1: of a pack of copies of it)."""
        run = Runner(self.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0), train=False)
        return run("d", jnp.tile(images, (1, 1, 1, self.pack)) if self.pack > 1 else images)
