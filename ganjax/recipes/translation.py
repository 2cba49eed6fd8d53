"""Image-to-image translation: CycleGAN (unpaired) and pix2pix (paired), plugged into the one step skeleton.

Both follow junyanz/pytorch-CycleGAN-and-pix2pix's defaults (see experiments/cyclegan.py, pix2pix.py):

* CycleGAN: G_A (A→B), G_B (B→A), D_A (real B vs fake B), D_B (real A vs fake A); LSGAN loss with each
  D loss halved; cycle L1 weighted λ_A, λ_B; identity L1 weighted λ_idt·λ; history pools of fakes
  (ganjax/recipes/image_pool.py) held in state.extra.
* pix2pix: G (U-Net, or ResNet), PatchGAN D on concat(A, B); vanilla GAN loss (BCE with logits),
  D loss halved, L1 weighted λ_L1; no pool.

Shared parts (data, networks, the optional style / content terms, inference) are in translation_base.py.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import losses
from ganjax.config import ConfigError
from ganjax.errors import UsageError
from ganjax.recipes.image_pool import init_pool, query_pool
from ganjax.recipes.translation_base import (TranslationRecipe, load_task, rgb_to_ycc,  # noqa: F401
                                               unet_downs, ycc_to_rgb)


HIST_BINS = 256  # bins of the running output histograms (loss.histogram_memory)
OUTPUT_OF = {"A": "B", "B": "A"}  # G_A makes B images, G_B makes A images


class CycleGAN(TranslationRecipe):
    """Unpaired translation with cycle consistency (Zhu et al. 2017)."""
    sides = {"g": ("G_A", "G_B"), "d": ("D_A", "D_B")}
    grid_nrow = 6
    grid_columns = ("real A", "fake B = G_A(A)", "rec A = G_B(G_A(A))",
                    "real B", "fake A = G_B(B)", "rec B = G_A(G_B(B))")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.modules = {"G_A": self.make_generator(), "G_B": self.make_generator(),
                        "D_A": self.make_discriminator(), "D_B": self.make_discriminator()}
        self.use_identity = cfg.loss.lambda_identity > 0
        # the space each cycle is measured in (configs written before loss.cycle_space_*: RGB)
        self.cycle_space = {d: cfg.loss.get(f"cycle_space_{d}", "rgb") for d in "AB"}
        if "luma" in self.cycle_space.values() and self.channels != 3:
            raise ConfigError("config key 'loss.cycle_space_A' / '_B' = luma needs RGB data (data.channels=3)")
        self.merge_generator_calls = True  # False: the reference's six generator calls (an A/B switch)

    def direction_net(self, direction):
        if direction not in ("AtoB", "BtoA"):
            raise UsageError(f"direction must be AtoB or BtoA, got {direction!r}")
        return "G_A" if direction == "AtoB" else "G_B"

    def example_inputs(self):
        x = jnp.zeros((1, self.crop, self.crop, self.channels))
        return {name: (x,) for name in self.modules}

    def hparams(self):
        lc = self.cfg.loss
        hp = {"lambda_A": lc.lambda_A, "lambda_B": lc.lambda_B, "lambda_identity": lc.lambda_identity,
              **self.style_hparams()}
        if "cycle_noise_A" in lc:  # older runs' configs have no cycle noise: their hp (checkpointed) stays as it was
            hp.update(cycle_noise_A=lc.cycle_noise_A, cycle_noise_B=lc.cycle_noise_B)
        for key in ("histogram", "histogram_A", "histogram_B"):  # likewise the histogram weights (loss.histogram:
            if key in lc:                                          # one weight for both, before the split)
                hp[key] = lc[key]
        return hp

    def histogram_weights(self) -> dict:
        """{"A": hp key of the weight on G_A's output levels (vs B), "B": on G_B's (vs A)} for the weights > 0."""
        lc = self.cfg.loss
        keys = {"A": "histogram", "B": "histogram"} if "histogram" in lc else {"A": "histogram_A", "B": "histogram_B"}
        return {d: k for d, k in keys.items() if lc.get(k, 0.0) > 0}

    def histogram_outputs(self) -> tuple[str, ...]:
        """The domains of the outputs a histogram term judges ("B" for G_A's), each with its running histogram."""
        return tuple(sorted(OUTPUT_OF[d] for d in self.histogram_weights())) if self.histogram_memory else ()

    @property
    def histogram_memory(self) -> float:
        """loss.histogram_memory: > 0 (with a histogram weight > 0) pulls G's output levels towards the target
        domain's whole training set through a running histogram of G's outputs with this momentum per step
        (losses.histogram_specification); 0 compares each batch with a batch (losses.histogram_matching)."""
        return self.cfg.loss.get("histogram_memory", 0.0) if self.histogram_weights() else 0.0

    def device_data(self):
        data = super().device_data()
        for out in self.histogram_outputs():  # the target levels: quantiles of every training pixel of the domain
            data[f"levels_{out}"] = losses.level_quantiles(self.dataset.train_a if out == "A" else self.dataset.train_b)
        return data

    @property
    def cycle_noise(self) -> tuple[bool, bool]:
        """Whether Gaussian noise is added to G_A's output in the A→B→A cycle and to G_B's in B→A→B (compiled
        in only when a weight is > 0; its std is the hp's, so sweeps can stack it)."""
        lc = self.cfg.loss
        return lc.get("cycle_noise_A", 0.0) > 0, lc.get("cycle_noise_B", 0.0) > 0

    def init_extra(self):
        shape = (self.crop, self.crop, self.channels)
        size = self.cfg.model.pool_size
        extra = {}  # no pool: no buffer (orbax cannot save a zero-size one)
        if size:
            extra.update(pool_fake_B=init_pool(size, shape), pool_fake_A=init_pool(size, shape))
        for out in self.histogram_outputs():  # running level histograms of the judged outputs (filled from step 0)
            extra[f"hist_fake_{out}"] = jnp.zeros((HIST_BINS, self.channels))
        return extra

    def generate(self, run, batch, hp):
        a, b = batch["A"], batch["B"]
        if self.use_identity and self.merge_generator_calls and self.norm_per_image:
            # each generator once over [its own domain's images, the other's]: the same function as two
            # calls, in half the kernel launches (what a step at batch 1 is bound by)
            n = a.shape[0]
            g_a, g_b = run("G_A", jnp.concatenate([a, b])), run("G_B", jnp.concatenate([b, a]))
            out = {"fake_B": g_a[:n], "idt_A": g_a[n:], "fake_A": g_b[:n], "idt_B": g_b[n:]}
        else:  # batch norm: separate batches, as the reference
            out = {"fake_B": run("G_A", a), "fake_A": run("G_B", b)}
            if self.use_identity:
                out["idt_A"], out["idt_B"] = run("G_A", b), run("G_B", a)
        # noise on the image that the cycle passes on drowns what a generator could hide in it for the way
        # back (Chu et al. 2017, "CycleGAN, a master of steganography"); only the cycle sees it
        fake_b, fake_a = out["fake_B"], out["fake_A"]
        noisy = lambda x, i: x + hp[f"cycle_noise_{'AB'[i]}"] * jax.random.normal(
            jax.random.fold_in(run.rng, 0xC1C1E + i), x.shape, x.dtype)
        noise_a, noise_b = self.cycle_noise
        fake_b = noisy(fake_b, 0) if noise_a else fake_b
        fake_a = noisy(fake_a, 1) if noise_b else fake_a
        out["rec_A"] = run("G_B", fake_b)
        out["rec_B"] = run("G_A", fake_a)
        return out

    def d_inputs(self, outputs, extra, key):
        extra = dict(extra)
        m = self.histogram_memory
        for out in self.histogram_outputs():
            seen = losses.level_histogram(jax.lax.stop_gradient(outputs[f"fake_{out}"]), HIST_BINS)
            extra[f"hist_fake_{out}"] = m * extra[f"hist_fake_{out}"] + (1 - m) * seen
        if "pool_fake_B" not in extra:  # model.pool_size = 0: D sees this step's fakes
            return {"fake_B": outputs["fake_B"], "fake_A": outputs["fake_A"]}, extra
        k_b, k_a = jax.random.split(key)
        fake_b, extra["pool_fake_B"] = query_pool(extra["pool_fake_B"], outputs["fake_B"], k_b)
        fake_a, extra["pool_fake_A"] = query_pool(extra["pool_fake_A"], outputs["fake_A"], k_a)
        return {"fake_B": fake_b, "fake_A": fake_a}, extra

    def g_batch(self, batch, extra):
        return {**batch, **{k: v for k, v in extra.items() if k.startswith("hist_fake_")}}

    def d_loss(self, run, batch, d_in, key, hp):
        loss_a = 0.5 * self.adv.d_loss(*self._d_pair(run, "D_A", batch["B"], d_in["fake_B"]))
        loss_b = 0.5 * self.adv.d_loss(*self._d_pair(run, "D_B", batch["A"], d_in["fake_A"]))
        return loss_a + loss_b, {"D_A": loss_a, "D_B": loss_b}

    def g_loss(self, run, batch, outputs, hp):
        a, b = batch["A"], batch["B"]
        m = {"G_A": self.adv.g_loss(self._d_fake(run, "D_A", b, outputs["fake_B"])),
             "G_B": self.adv.g_loss(self._d_fake(run, "D_B", a, outputs["fake_A"])),
             "cycle_A": self.cycle_l1("A", outputs["rec_A"], a) * hp["lambda_A"],
             "cycle_B": self.cycle_l1("B", outputs["rec_B"], b) * hp["lambda_B"]}
        if self.use_identity:
            m["idt_A"] = losses.l1(outputs["idt_A"], b) * hp["lambda_B"] * hp["lambda_identity"]
            m["idt_B"] = losses.l1(outputs["idt_B"], a) * hp["lambda_A"] * hp["lambda_identity"]
        for d, key in self.histogram_weights().items():  # G_d's output (fake B for G_A) against its domain's
            out = OUTPUT_OF[d]                             # training set (with memory), or its batch
            if self.histogram_memory:
                term = losses.histogram_specification(outputs[f"fake_{out}"], batch[f"hist_fake_{out}"],
                                                      batch[f"levels_{out}"])
            else:
                term = losses.histogram_matching(outputs[f"fake_{out}"], batch[out])
            m[f"hist_{d}"] = term * hp[key]
        total = sum(m.values())
        sc_a, met_a = self.style_content(run, batch, "D_A", outputs["fake_B"], a, b, hp)
        sc_b, met_b = self.style_content(run, batch, "D_B", outputs["fake_A"], b, a, hp)
        m.update({f"{k}_A2B": v for k, v in met_a.items()}, **{f"{k}_B2A": v for k, v in met_b.items()})
        return total + sc_a + sc_b, m

    def cycle_l1(self, domain, rec, x):
        """The cycle's L1 between x and its reconstruction, in RGB or (loss.cycle_space_<domain> = luma) on the
        ITU-R 601 luma alone: when the other domain holds less (a sepia or grey tone), the colours cannot come back
        through it, and asking for them makes the generator hide them in its output (Chu et al. 2017)."""
        if self.cycle_space[domain] == "luma":
            return losses.l1(rgb_to_ycc(rec)[..., 0], rgb_to_ycc(x)[..., 0])
        return losses.l1(rec, x)

    def visualize(self, state, fixed):
        """Per test image one row: real A, fake B, rec A, real B, fake A, rec B (EMA generators)."""
        run = self.inference_runner(self.inference_state(state))
        a, b = fixed["A"], fixed["B"]
        fake_b, fake_a = run("G_A", a), run("G_B", b)
        panels = [a, fake_b, run("G_B", fake_b), b, fake_a, run("G_A", fake_a)]
        return jnp.stack(panels, axis=1).reshape(-1, *a.shape[1:])


class Pix2Pix(TranslationRecipe):
    """Paired translation with a conditional PatchGAN and L1 (Isola et al. 2017).

    With `model.colorization` (the reference's colorization model, which maps L to ab), G maps the luma
    of A to the two chroma channels of B and the output is A's luma with that chroma; D judges
    (luma, chroma) and the L1 term is on chroma. The split is ITU-R 601 YCbCr rather than CIE Lab, so
    the luma is exactly the built-in `colorize` task's grayscale.
    """
    paired = True
    sides = {"g": ("G",), "d": ("D",)}
    grid_nrow = 3
    grid_columns = ("input A", "fake B = G(A)", "real B")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.colorization = cfg.model.get("colorization", False)
        if self.colorization and self.channels != 3:
            raise ConfigError("model.colorization needs RGB data (data.channels=3)")
        self.in_ch, self.out_ch = (1, 2) if self.colorization else (self.channels, self.channels)
        self.modules = {"G": self.make_generator(self.out_ch), "D": self.make_discriminator()}
        self.recon = cfg.loss.get("recon", "l1")  # run folders from before loss.recon trained with L1

    # G's input code of A, its output code of B, and the image made from them
    def encode_a(self, a):
        return rgb_to_ycc(a)[..., :1] if self.colorization else a

    def encode_b(self, b):
        return rgb_to_ycc(b)[..., 1:] if self.colorization else b

    def decode(self, a, code):
        return ycc_to_rgb(self.encode_a(a), code) if self.colorization else code

    def recombine(self, image, translated):
        """Colorization: the input's own luma with the model's (upsampled) chroma."""
        if not self.colorization:
            return translated
        return np.asarray(ycc_to_rgb(rgb_to_ycc(image)[..., :1], rgb_to_ycc(translated)[..., 1:]))

    def direction_net(self, direction):
        if direction != "AtoB":
            raise UsageError("a pix2pix run translates A to B only (train with data.direction=BtoA "
                             "for the other way)")
        return "G"

    def translator(self, direction: str = "AtoB"):
        net = self.direction_net(direction)
        return lambda state, x: self.decode(x, self.inference_runner(state)(net, self.encode_a(x)))

    def example_inputs(self):
        z = lambda c: jnp.zeros((1, self.crop, self.crop, c))
        return {"G": (z(self.in_ch),), "D": (z(self.in_ch + self.out_ch),)}

    def hparams(self):
        return {"lambda_L1": self.cfg.loss.lambda_L1, **self.style_hparams()}

    def generate(self, run, batch, hp):
        return {"fake": run("G", self.encode_a(batch["A"]))}

    def d_inputs(self, outputs, extra, key):
        return outputs["fake"], extra

    def d_loss(self, run, batch, fake, key, hp):
        ea = self.encode_a(batch["A"])
        real, fake = self._d_pair(run, "D", jnp.concatenate([ea, self.encode_b(batch["B"])], -1),
                                  jnp.concatenate([ea, fake], -1))
        loss = 0.5 * self.adv.d_loss(real, fake)
        return loss, {"d_real": jnp.mean(jax.nn.sigmoid(real)), "d_fake": jnp.mean(jax.nn.sigmoid(fake))}

    def g_loss(self, run, batch, outputs, hp):
        a, b, fake = batch["A"], batch["B"], outputs["fake"]
        ea, eb = self.encode_a(a), self.encode_b(b)
        m = {"G_GAN": self.adv.g_loss(self._d_fake(run, "D", jnp.concatenate([ea, eb], -1),
                                                   jnp.concatenate([ea, fake], -1))),
             f"G_{self.recon.upper()}": getattr(losses, self.recon)(fake, eb) * hp["lambda_L1"]}
        if self.features is None or self.features.own:  # D's features of (A code, B code)
            sc, met = self.style_content(run, batch, "D", fake, eb, eb, hp,
                                         prefix=lambda x: jnp.concatenate([ea, x], -1))
        else:  # a user network sees images
            sc, met = self.style_content(run, batch, "D", self.decode(a, fake), b, b, hp)
        return sum(m.values()) + sc, {**m, **met}

    def visualize(self, state, fixed):
        """Per test image one row: input A, G(A) (the EMA generator), the true B."""
        a, b = fixed["A"], fixed["B"]
        fake_b = self.translator()(self.inference_state(state), a)
        return jnp.stack([a, fake_b, b], axis=1).reshape(-1, *a.shape[1:])
