"""What CycleGAN and pix2pix (ganjax/recipes/translation.py) share: data, networks, style terms, inference.

Optional extra terms for either: a Gram-matrix style loss, a feature content loss and feature matching
(Salimans et al. 2016) on a feature network (ganjax.recipes.features), weighted by hp["style_weight"],
hp["content_weight"], hp["feature_match"] and computed only when the config's weight is > 0. The data
stay on the device as uint8; random crop and flip happen inside the compiled step.
"""
from __future__ import annotations

import functools
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import losses
from ganjax.config import ConfigError
from ganjax.data import DataError, batch_indices
from ganjax.data.translation import center_crop, random_crop_flip, random_crop_flip_pair
from ganjax.models.layers import NORM_KINDS
from ganjax.models.patchgan import NETD_KINDS, NLayerDiscriminator, PixelDiscriminator
from ganjax.models.resnet_gen import UPSAMPLE_KINDS, ResnetGenerator
from ganjax.models.unet import UnetGenerator
from ganjax.recipes.base import Recipe
from ganjax.recipes.features import FeatureExtractor
from ganjax.train.state import Runner, compute_dtype


def load_task(cfg, paired: bool):
    """The run's TranslationData: the folder `data.root`, or the built-in task `data.builtin`."""
    from ganjax.data.builtin_tasks import load_builtin
    from ganjax.data.translation import load_paired, load_translation

    d = cfg.data
    try:
        if d.root:
            if not os.path.isdir(d.root):
                layout = "ROOT/train, ROOT/test" if paired else "ROOT/trainA, trainB, testA, testB"
                raise ValueError(f"data.root {d.root}: no such folder (it should hold {layout})")
            common = dict(channels=d.channels, load_size=d.load_size, max_images=d.max_images or None)
            if paired:  # skipped files are warnings: the command line shows them as one line each
                return load_paired(d.root, direction=d.get("direction", "AtoB"), **common)
            return load_translation(d.root, **common)
        if d.channels != 3:
            raise ValueError("the built-in tasks are RGB; set data.channels=3")
        data = load_builtin(d.builtin, d.load_size)
    except ValueError as e:  # the loaders' messages are one line and say what to fix
        raise DataError(str(e)) from None
    if paired and not data.paired:
        raise DataError(f"pix2pix needs paired data; the built-in task {d.builtin!r} is unpaired "
                        f"(use data.builtin=colorize)")
    return data


# ITU-R BT.601 luma / chroma (YCbCr without offsets) on [-1, 1] RGB: Y is the built-in `colorize` task's gray.
YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
YCC_INV = np.linalg.inv(YCC).astype(np.float32)


def rgb_to_ycc(x):
    """(..., 3) RGB in [-1, 1] → (..., 3) luma, Cb, Cr (each within [-1, 1])."""
    return x @ YCC.T


def ycc_to_rgb(y, chroma):
    """Luma (..., 1) and chroma (..., 2) → RGB (..., 3) in [-1, 1] with exactly that luma.

    A colour outside the RGB cube keeps its luma and hue: its chroma is scaled down, per pixel, to the cube's
    surface (clipping each channel instead changes the luma: 0.5-1.0 dB of PSNR on the colorize task)."""
    y = jnp.clip(y, -1.0, 1.0)
    delta = chroma @ YCC_INV[:, 1:].T  # each channel's offset from the luma (YCC_INV's first column is 1)
    room = jnp.where(delta > 0, 1.0 - y, 1.0 + y)  # how far each channel may move that way
    t = jnp.min(room / jnp.maximum(jnp.abs(delta), 1e-12), axis=-1, keepdims=True)
    return jnp.clip(y + jnp.minimum(t, 1.0) * delta, -1.0, 1.0)


def unet_downs(crop: int) -> int:
    """U-Net depth for a crop: as many halvings as the size allows, 5 to 8 (unet_256 has 8)."""
    n = 0
    while crop % (2 ** (n + 1)) == 0 and n < 8:
        n += 1
    if n < 5:
        raise ConfigError(f"the U-Net needs data.crop_size divisible by 32, got {crop}")
    return n


class TranslationRecipe(Recipe):
    """What CycleGAN and pix2pix share: config checks, generators, data, style/content terms, inference."""
    paired = False

    def __init__(self, cfg):
        super().__init__(cfg)
        d, m = cfg.data, cfg.model
        if d.crop_size > d.load_size:
            raise ConfigError(f"data.crop_size {d.crop_size} exceeds data.load_size {d.load_size}")
        if m.generator == "resnet" and d.crop_size % 4:
            raise ConfigError(f"the ResNet generator needs data.crop_size divisible by 4, got {d.crop_size}")
        for key, value, valid in (("model.norm", m.norm, NORM_KINDS), ("model.norm_d", self.norm_d, NORM_KINDS),
                                  ("model.upsample", m.upsample, UPSAMPLE_KINDS),
                                  ("model.netd", self.netd, NETD_KINDS),
                                  ("model.d_batch", self.d_batch, ("separate", "joint")),
                                  ("loss.name", cfg.loss.name, tuple(losses.ADVERSARIAL))):
            if value not in valid:
                raise ConfigError(f"unknown {key} {value!r}; valid: {', '.join(valid)}")
        # the PatchGAN's map: crop / 2^n - 2 logits a side
        if self.netd == "patch" and d.crop_size // 2 ** m.n_layers_d < 3:
            raise ConfigError(f"data.crop_size {d.crop_size} is too small for the PatchGAN with "
                              f"model.n_layers_d={m.n_layers_d}; it needs crop_size >= {3 * 2 ** m.n_layers_d}")
        self.crop, self.channels, self.batch_size = d.crop_size, d.channels, cfg.train.batch_size
        self.dtype = compute_dtype(m.dtype)
        self.adv = losses.adversarial(cfg.loss.name)
        self.use_style = cfg.loss.style_weight > 0
        self.use_content = cfg.loss.content_weight > 0
        # older runs' configs have no loss.feature_match: their hp (part of the checkpoint) stays without it
        self.has_fm = "feature_match" in cfg.loss
        self.use_fm = self.has_fm and cfg.loss.feature_match > 0
        use_any = self.use_style or self.use_content or self.use_fm
        self.features = FeatureExtractor(cfg.loss) if use_any else None
        if self.features is None and (cfg.loss.get("feature_net", "") or cfg.loss.get("feature_layers", "")):
            warnings.warn("loss.feature_net / loss.feature_layers are set but loss.style_weight, "
                          "loss.content_weight and loss.feature_match are 0: no feature term is trained",
                          stacklevel=2)

    def make_generator(self, out_channels: int | None = None):
        m = self.cfg.model
        out_channels = out_channels or self.channels
        if m.generator == "resnet":
            return ResnetGenerator(out_channels, ngf=m.ngf, n_blocks=m.n_blocks, norm=m.norm,
                                   use_dropout=m.dropout, upsample=m.upsample, dtype=self.dtype)
        if m.generator == "unet":
            return UnetGenerator(out_channels, num_downs=unet_downs(self.crop), ngf=m.ngf, norm=m.norm,
                                 use_dropout=m.dropout, upsample=m.upsample, dtype=self.dtype)
        raise ConfigError(f"unknown model.generator {m.generator!r}; valid: resnet, unet")

    def make_discriminator(self):
        m = self.cfg.model
        if self.netd == "pixel":
            return PixelDiscriminator(ndf=m.ndf, norm=self.norm_d, dtype=self.dtype)
        return NLayerDiscriminator(ndf=m.ndf, n_layers=m.n_layers_d, norm=self.norm_d, dtype=self.dtype)

    @property
    def netd(self) -> str:
        """The discriminators' kind: `model.netd` (patch when unset, as configs written before it)."""
        return self.cfg.model.get("netd", "patch")

    @property
    def d_batch(self) -> str:
        """How batch norm in D sees real and fake: `model.d_batch` (separate when unset, as configs written
        before it)."""
        return self.cfg.model.get("d_batch", "separate")

    @property
    def norm_d(self) -> str:
        """The discriminators' norm: `model.norm_d`, or `model.norm` (as the reference) when it is unset / ""."""
        return self.cfg.model.get("norm_d", "") or self.cfg.model.norm

    @functools.cached_property
    def dataset(self):
        return load_task(self.cfg, self.paired)

    def device_data(self):
        data = {"train_a": self.dataset.train_a, "train_b": self.dataset.train_b}
        if self.features is not None and not self.features.own:
            data["feature_params"] = self.features.params
        return data

    def style_hparams(self) -> dict:
        hp = {"style_weight": self.cfg.loss.style_weight, "content_weight": self.cfg.loss.content_weight}
        if self.has_fm:
            hp["feature_match"] = self.cfg.loss.feature_match
        return hp

    def style_content(self, run, batch, d_name, fake, content_ref, style_ref, hp, prefix=None):
        """Weighted style + content + feature-matching loss of `fake` (0 and no metrics when every weight is 0);
        style and feature matching compare with `style_ref`, content with `content_ref`."""
        if self.features is None:
            return 0.0, {}
        fp = batch.get("feature_params")
        wrap = prefix if (prefix is not None and self.features.own) else (lambda x: x)
        feats = lambda x: self.features(run, d_name, wrap(x), fp)
        ref = lambda x: jax.lax.stop_gradient(feats(x))
        f_fake, total, metrics = feats(fake), 0.0, {}
        # each reference's features once: style and feature matching share style_ref's, and pix2pix passes
        # the same true B as both references
        f_style = ref(style_ref) if (self.use_style or self.use_fm) else None
        if self.use_content:
            f_content = f_style if (f_style is not None and content_ref is style_ref) else ref(content_ref)
            metrics["content"] = losses.content_loss(f_fake, f_content)
            total = total + hp["content_weight"] * metrics["content"]
        if self.use_style:
            metrics["style"] = losses.style_loss(f_fake, f_style)
            total = total + hp["style_weight"] * metrics["style"]
        if self.use_fm:
            metrics["feature_match"] = losses.feature_matching(f_fake, f_style)
            total = total + hp["feature_match"] * metrics["feature_match"]
        return total, metrics

    def sample_batch(self, data, step, data_key, key):
        """{"A", "B"}: a random unpaired (or paired) batch, cropped and flipped, float32 in [-1, 1]
        (plus the feature network's params when a user-supplied one is on the device)."""
        flip, ka, kb = self.cfg.data.flip, *jax.random.split(key)
        na, nb = data["train_a"].shape[0], data["train_b"].shape[0]
        ia = batch_indices(data_key, step, na, self.batch_size)
        if self.paired:
            a, b = random_crop_flip_pair(ka, data["train_a"][ia], data["train_b"][ia], self.crop, flip)
        else:
            ib = batch_indices(jax.random.fold_in(data_key, 1), step, nb, self.batch_size)
            a = random_crop_flip(ka, data["train_a"][ia], self.crop, flip)
            b = random_crop_flip(kb, data["train_b"][ib], self.crop, flip)
        batch = {"A": a, "B": b}
        for name in ("feature_params", "levels_A", "levels_B"):  # constants some loss terms need
            if name in data:
                batch[name] = data[name]
        return batch

    def fixed_inputs(self, n):
        """Center crops of up to `n` test pairs spread over the test set (A, B as float arrays)."""
        ds = self.dataset
        k = max(1, min(n, len(ds.test_a), len(ds.test_b)))
        idx = np.linspace(0, min(len(ds.test_a), len(ds.test_b)) - 1, k).astype(int)
        return {"A": center_crop(ds.test_a[idx], self.crop), "B": center_crop(ds.test_b[idx], self.crop)}

    def inference_runner(self, state) -> Runner:
        return Runner(self.modules, state.params["g"], state.model_state, jax.random.PRNGKey(0), train=False)

    def translator(self, direction: str = "AtoB"):
        """A pure fn(state, images in [-1, 1]) → translated images, for `translate` and `eval`."""
        net = self.direction_net(direction)
        return lambda state, x: self.inference_runner(state)(net, x)

    def encode_a(self, a):
        """What the A→B generator takes for the images `a` (pix2pix colorization: their luma)."""
        return a

    def recombine(self, image, translated):
        """Full-size output of `translate --mode resize` from the input and the resized-back translation."""
        return translated

    @property
    def norm_per_image(self) -> bool:
        """The generators' instance norm (or none) normalises each image alone, so one call on the images of
        two calls is the same function; batch norm's statistics would mix them (the reference's separate
        batches are kept)."""
        return self.cfg.model.norm != "batch"

    @property
    def joint_d_batch(self) -> bool:
        """Batch norm in D over real and fake as one batch (`model.d_batch=joint`), in D's step and G's: its
        statistics then keep what sets the two apart as a whole (overall levels), which separate batches,
        the reference's way, normalise away. Instance norm (or none) sees each image alone either way."""
        return self.norm_d == "batch" and self.d_batch == "joint"

    def _d_pair(self, run, name, real, fake):
        """D's logits on real and fake, in one call unless batch norm must see them as separate batches."""
        if self.norm_d == "batch" and not self.joint_d_batch:
            return run(name, real), run(name, fake)
        logits = run(name, jnp.concatenate([real, fake]))
        return logits[: real.shape[0]], logits[real.shape[0]:]

    def _d_fake(self, run, name, real, fake):
        """D's logits on fake for G's loss; with joint batches D sees the reals beside them, as in its step."""
        if not self.joint_d_batch:
            return run(name, fake)
        return run(name, jnp.concatenate([real, fake]))[real.shape[0]:]
