"""PyTorch twins of ganjax's article DCGAN and CycleGAN train steps, and loaders of ganjax params into them.

DCGAN (ganjax/models/dcgan.py, recipes/dcgan.py): G = Linear(100 → 7·7·W) relu, viewed NHWC → 2 ×
[upsample relu] → Conv2d(C, 5, pad 2) tanh; D = 2 × [Conv2d(W, 5, s2, pad 2) leaky 0.2] → NCHW→NHWC
permute, flatten → Linear(1). Upsampling: conv_transpose = ConvTranspose2d(5, s2, p2, output_padding 1)
("phase" is the same layer in torch), subpixel = Conv2d(4W, 5, pad 2) + PixelShuffle(2), resize_conv =
nearest ×2 + Conv2d(W, 5, pad 2). The step is ganjax's: G forward once, D update (non-saturating
logistic loss on real ++ detached fake), then G update through the *updated* D (as PyTorch's DCGAN example).

CycleGAN (models/resnet_gen.py, models/patchgan.py): torch_twin_cyclegan.py (kept apart for size), made
by `twins.make_twin("cyclegan", ...)`.

All steps draw their batch on the device (random indices into uint8 data, → [-1, 1], noise) like ganjax.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))  # a writable copy


def load_conv(m: nn.Conv2d, p: dict) -> None:
    """flax nn.Conv params (HWIO kernel) → Conv2d (OIHW)."""
    m.weight.copy_(_t(np.asarray(p["kernel"]).transpose(3, 2, 0, 1)))
    if m.bias is not None:
        m.bias.copy_(_t(p["bias"]))


def load_conv_transpose(m: nn.ConvTranspose2d, p: dict, transpose_kernel: bool) -> None:
    """flax nn.ConvTranspose → ConvTranspose2d (in, out, kh, kw). transpose_kernel=False stores an unflipped
    (kh, kw, in, out) correlation kernel: torch's weight is it flipped spatially; True stores (kh, kw, out, in)."""
    k = np.asarray(p["kernel"])
    m.weight.copy_(_t(k.transpose(3, 2, 0, 1) if transpose_kernel else k[::-1, ::-1].transpose(2, 3, 0, 1)))
    if m.bias is not None:
        m.bias.copy_(_t(p["bias"]))


def load_dense(m: nn.Linear, p: dict) -> None:
    m.weight.copy_(_t(np.asarray(p["kernel"]).T))
    m.bias.copy_(_t(p["bias"]))


# -- the article's DCGAN -----------------------------------------------------------------------------------
class Upsample(nn.Module):
    def __init__(self, ch: int, method: str):
        super().__init__()
        self.method = method
        if method in ("conv_transpose", "phase"):
            self.conv = nn.ConvTranspose2d(ch, ch, 5, 2, 2, output_padding=1)
        elif method == "subpixel":
            self.conv = nn.Conv2d(ch, 4 * ch, 5, padding=2)
        elif method == "resize_conv":
            self.conv = nn.Conv2d(ch, ch, 5, padding=2)
        else:
            raise ValueError(f"unknown upsample {method!r}")

    def forward(self, x):
        if self.method == "subpixel":
            return F.pixel_shuffle(self.conv(x), 2)
        if self.method == "resize_conv":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x)

    def load(self, p: dict) -> None:
        sub = p.get("ConvTranspose_0") or p["Conv_0"]
        if isinstance(self.conv, nn.ConvTranspose2d):
            load_conv_transpose(self.conv, sub, transpose_kernel=False)
        else:
            load_conv(self.conv, sub)


class DCGANGenerator(nn.Module):
    def __init__(self, width=128, upsample="subpixel", channels=1, image_size=28, latent=100):
        super().__init__()
        self.base, self.width = image_size // 4, width
        self.fc = nn.Linear(latent, self.base * self.base * width)
        self.ups = nn.ModuleList([Upsample(width, upsample) for _ in range(2)])
        self.out = nn.Conv2d(width, channels, 5, padding=2)

    def forward(self, z):
        x = F.relu(self.fc(z)).view(z.shape[0], self.base, self.base, self.width).permute(0, 3, 1, 2)
        for up in self.ups:
            x = F.relu(up(x))
        return torch.tanh(self.out(x)).float()

    @torch.no_grad()
    def load(self, p: dict) -> None:
        load_dense(self.fc, p["Dense_0"])
        for i, up in enumerate(self.ups):
            up.load(p[f"Upsample_{i}"])
        load_conv(self.out, p["Conv_0"])


class DCGANDiscriminator(nn.Module):
    def __init__(self, width=128, channels=1, image_size=28):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(channels, width, 5, 2, 2), nn.Conv2d(width, width, 5, 2, 2)])
        self.fc = nn.Linear((image_size // 4) ** 2 * width, 1)

    def forward(self, x):
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.2)
        return self.fc(x.permute(0, 2, 3, 1).flatten(1))[:, 0].float()  # NHWC flatten order, as ganjax

    @torch.no_grad()
    def load(self, p: dict) -> None:
        for i, c in enumerate(self.convs):
            load_conv(c, p[f"Conv_{i}"])
        load_dense(self.fc, p["Dense_0"])


def adam(params):
    """optax.adam(2e-4, b1=0.5, b2=0.999), ganjax's default (eps 1e-8 outside the square root, as torch)."""
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999), eps=1e-8)


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class Twin:
    """Shared by the twins: device, autocast (bfloat16 = float32 params, bfloat16 compute, as ganjax)."""

    def __init__(self, device, dtype):
        self.device = torch.device(device)
        self.use_autocast = dtype == "bfloat16"

    def autocast(self):
        return torch.autocast(self.device.type, torch.bfloat16, enabled=self.use_autocast)

    def step(self, nets=None) -> dict:
        """One full step on a freshly sampled batch; `nets` replaces modules by name (torch.compile'd)."""
        return self.update(*self.sample(), nets=nets)


class DCGANTwin(Twin):
    """The article DCGAN's step; `update(real, z)` trains on a given batch (real NCHW in [-1, 1])."""

    def __init__(self, width=128, upsample="subpixel", batch=64, device="cpu", dtype="float32", latent=100):
        super().__init__(device, dtype)
        self.nets = {"g": DCGANGenerator(width, upsample, latent=latent).to(self.device),
                     "d": DCGANDiscriminator(width).to(self.device)}
        self.opt_g, self.opt_d = adam(self.nets["g"].parameters()), adam(self.nets["d"].parameters())
        self.batch, self.latent, self.data = batch, latent, None

    def load(self, params: dict) -> None:
        """ganjax params {"g": {"g": ...}, "d": {"d": ...}} → the twin."""
        self.nets["g"].load(params["g"]["g"])
        self.nets["d"].load(params["d"]["d"])

    def set_data(self, images_uint8: np.ndarray) -> None:
        self.data = torch.from_numpy(images_uint8).permute(0, 3, 1, 2).contiguous().to(self.device)

    def sample(self):
        idx = torch.randint(0, self.data.shape[0], (self.batch,), device=self.device)
        real = self.data[idx].float() * (2.0 / 255.0) - 1.0
        return real, torch.randn(self.batch, self.latent, device=self.device)

    def update(self, real, z, nets=None) -> dict:
        g, d = (nets or self.nets)["g"], (nets or self.nets)["d"]
        with self.autocast():
            fake = g(z)
            logits = d(torch.cat([real, fake.detach()]))
            n = real.shape[0]
            d_loss = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        set_requires_grad([self.nets["d"]], False)  # G's step needs no D weight gradients
        with self.autocast():
            g_loss = F.softplus(-d(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        set_requires_grad([self.nets["d"]], True)
        self.opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

