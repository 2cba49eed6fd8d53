"""PyTorch twin of ganjax's CycleGAN step (ResNet-9 generators, 70x70 PatchGANs), part of torch_twin.py.

As junyanz/pytorch-CycleGAN-and-pix2pix: instance norm (no affine), convolutions with bias, LSGAN (MSE to
1 / 0), cycle L1 · λ (10), identity L1 · 0.5 · λ, image pools of 50, and optimize_parameters' order: the
four generator passes, one G_A + G_B Adam step with the Ds frozen, then D_A and D_B (halved LSGAN losses
on real and pooled fakes) and one D Adam step. ganjax's one-step skeleton updates the Ds first and the Gs
through the updated Ds: the same work per step in another order, so the timing compares like with like.
"""
from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torch_twin import Twin, adam, load_conv, load_conv_transpose, set_requires_grad


# -- CycleGAN: ResNet-9 generators, 70x70 PatchGANs ---------------------------------------------------------
def _conv_in_relu(cin, cout, k, s=1, p=0, reflect=0):
    layers = [nn.ReflectionPad2d(reflect)] if reflect else []
    return layers + [nn.Conv2d(cin, cout, k, s, p), nn.InstanceNorm2d(cout), nn.ReLU(True)]


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(*_conv_in_relu(dim, dim, 3, reflect=1), nn.ReflectionPad2d(1),
                                   nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """The reference's resnet_9blocks (instance norm, convs with bias); `upsample` as models/resnet_gen.py."""

    def __init__(self, ngf=64, n_blocks=9, upsample="conv_transpose", ch=3):
        super().__init__()
        self.upsample = upsample
        self.stem = nn.Sequential(*_conv_in_relu(ch, ngf, 7, reflect=3))
        self.downs = nn.Sequential(*_conv_in_relu(ngf, 2 * ngf, 3, 2, 1), *_conv_in_relu(2 * ngf, 4 * ngf, 3, 2, 1))
        self.blocks = nn.Sequential(*[ResnetBlock(4 * ngf) for _ in range(n_blocks)])
        ups = []
        for cin, cout in ((4 * ngf, 2 * ngf), (2 * ngf, ngf)):
            if upsample in ("conv_transpose", "phase"):  # phase: the same layer, computed by ganjax by phases
                ups += [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)]
            elif upsample == "subpixel":
                ups += [nn.ReflectionPad2d(1), nn.Conv2d(cin, 4 * cout, 3), nn.PixelShuffle(2)]
            else:  # resize_conv: bilinear x2 (half-pixel centres, as jax.image.resize)
                ups += [nn.Upsample(scale_factor=2, mode="bilinear"), nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
            ups += [nn.InstanceNorm2d(cout), nn.ReLU(True)]
        self.ups = nn.Sequential(*ups)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, ch, 7), nn.Tanh())

    def forward(self, x):
        return self.head(self.ups(self.blocks(self.downs(self.stem(x)))))

    @torch.no_grad()
    def load(self, p: dict) -> None:
        """Params of ganjax's ResnetGenerator (norm="instance") with the same upsample, paired in forward order."""
        convs = [p[f"Conv_{i}"] for i in range(sum(k.startswith("Conv_") for k in p))]
        blocks = [p[f"ResnetBlock_{i}"][f"Conv_{j}"] for i in range(len(self.blocks)) for j in (0, 1)]
        ups = [p["ConvTranspose_0"], p["ConvTranspose_1"]] if self.upsample in ("conv_transpose", "phase") \
            else convs[3:5]
        mods = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        for m, q in zip(mods, convs[:3] + blocks + ups + convs[-1:], strict=True):
            if isinstance(m, nn.ConvTranspose2d):
                load_conv_transpose(m, q, transpose_kernel=True)
            else:
                load_conv(m, q)


class NLayerDiscriminator(nn.Module):
    """The reference's 70x70 PatchGAN (n_layers=3, instance norm)."""

    def __init__(self, ndf=64, n_layers=3, ch=3):
        super().__init__()
        layers, c = [nn.Conv2d(ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)], ndf
        for n in range(1, n_layers + 1):
            c_out = ndf * min(2 ** n, 8)
            layers += [nn.Conv2d(c, c_out, 4, 2 if n < n_layers else 1, 1), nn.InstanceNorm2d(c_out),
                       nn.LeakyReLU(0.2, True)]
            c = c_out
        self.model = nn.Sequential(*layers, nn.Conv2d(c, 1, 4, 1, 1))

    def forward(self, x):
        return self.model(x).float()

    @torch.no_grad()
    def load(self, p: dict) -> None:
        mods = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for i, m in enumerate(mods):
            load_conv(m, p[f"Conv_{i}"])


class ImagePool:
    """The reference's util/image_pool.py (host-side Python, as there)."""

    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, images):
        if self.size == 0:
            return images
        out = []
        for image in images.detach().unbind(0):
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


class CycleGANTwin(Twin):
    """The reference's CycleGAN optimize_parameters: G_A, G_B step (Ds frozen), then D_A, D_B step."""

    def __init__(self, size=256, batch=1, ngf=64, n_blocks=9, upsample="conv_transpose", device="cpu",
                 dtype="float32", lam=10.0, lam_idt=0.5, pool=50):
        super().__init__(device, dtype)
        self.nets = {"G_A": ResnetGenerator(ngf, n_blocks, upsample), "G_B": ResnetGenerator(ngf, n_blocks, upsample),
                     "D_A": NLayerDiscriminator(ngf), "D_B": NLayerDiscriminator(ngf)}
        for m in self.nets.values():
            m.to(self.device)
        gp = list(self.nets["G_A"].parameters()) + list(self.nets["G_B"].parameters())
        self.opt_g = adam(gp)
        self.opt_d = adam(list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters()))
        self.size, self.batch, self.lam, self.lam_idt = size, batch, lam, lam_idt
        self.pools = {"A": ImagePool(pool), "B": ImagePool(pool)}

    def load(self, params: dict) -> None:
        for side in ("g", "d"):
            for name, p in params[side].items():
                self.nets[name].load(p)

    def set_data(self, a_uint8: np.ndarray, b_uint8: np.ndarray) -> None:
        to = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.data = (to(a_uint8), to(b_uint8))

    def sample(self):
        """Random images of each domain, randomly flipped left-right, in [-1, 1] (load size = crop size)."""
        out = []
        for x in self.data:
            img = x[torch.randint(0, x.shape[0], (self.batch,), device=self.device)].float() / 127.5 - 1.0
            flip = torch.rand(self.batch, 1, 1, 1, device=self.device) < 0.5
            out.append(torch.where(flip, img.flip(3), img))
        return tuple(out)

    def update(self, real_a, real_b, nets=None) -> dict:
        n = nets or self.nets
        mse = lambda x, t: F.mse_loss(x, torch.full_like(x, t))
        lam, idt = self.lam, self.lam * self.lam_idt
        with self.autocast():
            fake_b = n["G_A"](real_a)
            rec_a = n["G_B"](fake_b)
            fake_a = n["G_B"](real_b)
            rec_b = n["G_A"](fake_a)
        set_requires_grad([self.nets["D_A"], self.nets["D_B"]], False)
        with self.autocast():
            loss_g = (F.l1_loss(n["G_A"](real_b), real_b) * idt + F.l1_loss(n["G_B"](real_a), real_a) * idt
                      + mse(n["D_A"](fake_b), 1.0) + mse(n["D_B"](fake_a), 1.0)
                      + F.l1_loss(rec_a, real_a) * lam + F.l1_loss(rec_b, real_b) * lam)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad([self.nets["D_A"], self.nets["D_B"]], True)
        self.opt_d.zero_grad(set_to_none=True)
        for d, real, fake in (("D_A", real_b, self.pools["B"].query(fake_b)),
                              ("D_B", real_a, self.pools["A"].query(fake_a))):
            with self.autocast():
                loss_d = 0.5 * (mse(n[d](real), 1.0) + mse(n[d](fake.detach()), 0.0))
            loss_d.backward()
        self.opt_d.step()
        return {"g_loss": loss_g.detach(), "d_loss": loss_d.detach()}
