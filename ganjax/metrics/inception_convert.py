"""One-time conversion of pytorch-fid's Inception weights into the pickle-free .npz that ganjax loads.

    python -m ganjax.metrics.inception_convert pt_inception-2015-12-05-6726825d.pth inception_fid.npz

The .pth (https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth)
is read with torch.load(map_location="cpu", weights_only=True); torch is needed only here, only for that. The .npz
holds float32 arrays named by "/"-joined flax paths ("Mixed_5b/branch1x1/conv/kernel", ".../bn/scale", ...).

The name mapping (convert_state_dict) is plain numpy, so tests and benchmarks/inception_equality.py use it on
deterministic random weights in pytorch-fid's layout (random_state_dict) without torch or the published file.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping

import numpy as np

from ganjax.atomic import save_arrays
from ganjax.errors import UsageError
from ganjax.metrics.inception import CONVERT_COMMAND, WEIGHTS_FILE, WEIGHTS_URL, param_shapes

# flax leaf → PyTorch parameter/buffer of the same BasicConv2d
_LEAF_TO_TORCH = {"conv/kernel": "conv.weight", "bn/scale": "bn.weight", "bn/bias": "bn.bias",
                  "bn/mean": "bn.running_mean", "bn/var": "bn.running_var"}
# In pytorch-fid's state dict but not on the path to the pool3 features.
_IGNORED_PREFIXES = ("fc.",)
_IGNORED_SUFFIXES = (".num_batches_tracked",)


def torch_name(flax_path: str) -> str:
    """"Mixed_5b/branch1x1/conv/kernel" → "Mixed_5b.branch1x1.conv.weight"."""
    module, kind, leaf = flax_path.rsplit("/", 2)
    return module.replace("/", ".") + "." + _LEAF_TO_TORCH[f"{kind}/{leaf}"]


def torch_shapes() -> dict[str, tuple[int, ...]]:
    """{PyTorch state-dict name: shape} of every weight the pool3 features use (fc and counters excluded)."""
    out = {}
    for path, shape in param_shapes().items():
        if path.endswith("conv/kernel"):  # flax HWIO ← PyTorch OIHW
            shape = (shape[3], shape[2], shape[0], shape[1])
        out[torch_name(path)] = shape
    return out


def convert_state_dict(state_dict: Mapping[str, object], source: str = "the state dict") -> dict[str, np.ndarray]:
    """pytorch-fid's FIDInceptionV3 state dict (arrays or CPU tensors) → {"/"-joined flax path: float32 array}.
    Raises a one-line UsageError when names or shapes are not pytorch-fid's."""
    expected = torch_shapes()
    names = set(state_dict)
    unused = sorted(k for k in names - set(expected)
                    if not (k.startswith(_IGNORED_PREFIXES) or k.endswith(_IGNORED_SUFFIXES)))
    missing = sorted(set(expected) - names)
    if missing or unused:
        why = ("; it looks like torchvision's ImageNet inception_v3, not pytorch-fid's FID weights"
               if any(k.startswith("AuxLogits.") for k in unused) else "")
        detail = "; ".join(s for s in (f"{len(missing)} weights missing, e.g. {missing[0]}" if missing else "",
                                       f"{len(unused)} unexpected, e.g. {unused[0]}" if unused else "") if s)
        raise UsageError(f"{source} is not pytorch-fid's {WEIGHTS_FILE} ({detail}{why}); it is published at "
                         f"{WEIGHTS_URL}")
    out = {}
    for path in param_shapes():
        name = torch_name(path)
        v = state_dict[name]
        v = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float32)
        if v.shape != expected[name]:
            raise UsageError(f"{source}: {name} has shape {v.shape}, pytorch-fid's has {expected[name]}")
        out[path] = v.transpose(2, 3, 1, 0) if path.endswith("conv/kernel") else v
    return out


# Deterministic random weights in pytorch-fid's layout: He-scaled convolutions and near-identity batch norms, so
# that activations stay O(1) through the 94 layers. Used to check the Flax network against pytorch-fid's own.
DEFAULT_RECIPE = {"seed": 0, "conv_gain": float(np.sqrt(2.0)), "bn_scale_low": 0.8, "bn_scale_high": 1.2,
                  "bn_bias_std": 0.1, "bn_mean_std": 0.1, "bn_var_low": 0.8, "bn_var_high": 1.2}


def random_state_dict(seed: int = 0, conv_gain: float = DEFAULT_RECIPE["conv_gain"],
                      bn_scale_low: float = 0.8, bn_scale_high: float = 1.2, bn_bias_std: float = 0.1,
                      bn_mean_std: float = 0.1, bn_var_low: float = 0.8,
                      bn_var_high: float = 1.2) -> dict[str, np.ndarray]:
    """{PyTorch name: float32 array} for every weight the features use. Each array comes from its own numpy
    Generator seeded with (seed, index of its name in sorted order): conv weights N(0, (gain/√fan_in)²);
    BN weight U(scale_low, scale_high), bias N(0, bias_std²), running_mean N(0, mean_std²),
    running_var U(var_low, var_high)."""
    out = {}
    for i, (name, shape) in enumerate(sorted(torch_shapes().items())):
        rng = np.random.default_rng([seed, i])
        if name.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            v = rng.standard_normal(shape, dtype=np.float32) * np.float32(conv_gain / np.sqrt(fan_in))
        elif name.endswith("bn.weight"):
            v = rng.uniform(bn_scale_low, bn_scale_high, shape)
        elif name.endswith("bn.bias"):
            v = rng.normal(0.0, bn_bias_std, shape)
        elif name.endswith("bn.running_mean"):
            v = rng.normal(0.0, bn_mean_std, shape)
        else:  # bn.running_var
            v = rng.uniform(bn_var_low, bn_var_high, shape)
        out[name] = np.asarray(v, np.float32)
    return out


def save_npz(params_flat: Mapping[str, np.ndarray], out_path: str) -> None:
    """Write atomically (a temporary file, then rename), as float32."""
    save_arrays(out_path, {k: np.asarray(v, np.float32) for k, v in params_flat.items()})


def load_torch_state_dict(path: str) -> dict:
    try:
        import torch
    except ImportError:
        raise UsageError(f"converting {path} needs PyTorch (pip install torch); only this one-time step does") \
            from None
    if not os.path.isfile(path):
        raise UsageError(f"{path} does not exist: download pytorch-fid's {WEIGHTS_FILE} from {WEIGHTS_URL}, then "
                         f"run `{CONVERT_COMMAND}`")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise UsageError(f"{path} is not a PyTorch state dict torch.load can read safely ({first})") from None
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise UsageError(f"{path} holds a {type(sd).__name__}, not a state dict; expected pytorch-fid's "
                         f"{WEIGHTS_FILE} ({WEIGHTS_URL})")
    return dict(sd)


def main(argv=None) -> int:
    from ganjax.errors import ArgumentParser

    p = ArgumentParser(prog="python -m ganjax.metrics.inception_convert",
                       description=f"Convert pytorch-fid's {WEIGHTS_FILE} ({WEIGHTS_URL}) into the .npz that "
                                   f"ganjax's Inception FID/KID loads (needs torch, once).")
    p.add_argument("pth", help=f"pytorch-fid's {WEIGHTS_FILE}")
    p.add_argument("out", help="the .npz to write, e.g. inception_fid.npz")
    args = p.parse_args(argv)
    try:
        flat = convert_state_dict(load_torch_state_dict(args.pth), source=args.pth)
        save_npz(flat, args.out)
    except UsageError as e:
        print(f"ganjax: error: {e}", file=sys.stderr)
        return 2
    n = sum(v.size for v in flat.values())
    print(f"wrote {args.out}: {len(flat)} arrays, {n / 1e6:.1f} M weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
