"""ganjax's Flax FID Inception against pytorch-fid's own model, with the same deterministic random weights.

    pip install torch torchvision pytorch-fid   # plus ganjax's requirements (jax, flax), in one environment
    python benchmarks/inception_equality.py     # --fixture '' to skip writing tests/fixtures/inception_equality.npz
    python benchmarks/inception_equality.py --replay   # without torch: ganjax against the committed fixture

pytorch-fid's `InceptionV3([3], resize_input=True, normalize_input=True)` is built with its weight download
replaced by a state dict of numpy-generated weights (ganjax.metrics.inception_convert.random_state_dict, He-scaled
convolutions, near-identity batch norms; fc, which the pool3 features do not use, is zero), loaded strictly, so
the names and shapes of ganjax's mapping are checked against pytorch-fid's real module tree. The same arrays go
through the converter's mapping (convert_state_dict) into the Flax network. Both see two sets of structured
random uint8 pictures of a non-299 size (so the bilinear resize is exercised): pytorch-fid as [0, 1] NCHW float32
tensors, ganjax as NHWC uint8 and as [-1, 1] floats. PyTorch runs in full fp32 (no TF32), one thread, deterministic.

Printed: the largest feature difference relative to the largest feature, each image's relative L2 difference,
the FID between the sets from each model's features (ganjax.metrics.frechet.frechet_distance), and the resize
against F.interpolate. The fixture (under 400 KB) keeps the recipe numbers, the pictures, pytorch-fid's features
and FID, and small F.interpolate cases, so tests/test_inception.py replays the check without torch.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Small F.interpolate cases kept in the fixture: (C, H_in, W_in, H_out, W_out), up-, down- and mixed sampling.
RESIZE_CASES = [(2, 7, 5, 3, 4), (1, 4, 3, 9, 11), (1, 13, 10, 5, 17), (1, 6, 6, 6, 6)]


def make_images(rng: np.random.Generator, n: int, h: int, w: int, contrast: float, blobs: int) -> np.ndarray:
    """(n, h, w, 3) uint8: a smooth random colour field (bilinear from a coarse grid) plus stripes and noise."""
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    out = []
    for _ in range(n):
        coarse = rng.uniform(0, 1, (blobs, blobs, 3))
        gy, gx = np.linspace(0, blobs - 1, h), np.linspace(0, blobs - 1, w)
        y0, x0 = np.minimum(gy.astype(int), blobs - 2), np.minimum(gx.astype(int), blobs - 2)
        fy, fx = (gy - y0)[:, None, None], (gx - x0)[None, :, None]
        field = ((1 - fy) * (1 - fx) * coarse[y0][:, x0] + (1 - fy) * fx * coarse[y0][:, x0 + 1]
                 + fy * (1 - fx) * coarse[y0 + 1][:, x0] + fy * fx * coarse[y0 + 1][:, x0 + 1])
        freq, angle = rng.uniform(2, 12), rng.uniform(0, np.pi)
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
        img = 0.5 + contrast * (0.7 * field + 0.3 * stripes[..., None] - 0.5) + 0.05 * rng.standard_normal((h, w, 3))
        out.append(np.clip(np.round(img * 255), 0, 255).astype(np.uint8))
    return np.stack(out)


def build_pytorch_fid(state_dict: dict):
    """pytorch-fid's InceptionV3([3], resize_input=True, normalize_input=True) loaded (strictly) with
    `state_dict` instead of the published weights: its load_state_dict_from_url is replaced while it builds."""
    import torch
    import pytorch_fid.inception as pfi

    sd = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in state_dict.items()}
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda url, progress=True, **kw: sd
    try:
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                                normalize_input=True)
    finally:
        pfi.load_state_dict_from_url = original
    return model.eval()


def torch_features(model, images_u8: np.ndarray) -> np.ndarray:
    import torch

    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).to(torch.float32) / 255  # as ToTensor()
    with torch.no_grad():
        return model(x)[0].squeeze(3).squeeze(2).numpy().astype(np.float32)


def rel_errors(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |ours − ref| / max |ref|, max over images of ‖ours − ref‖ / ‖ref‖)."""
    d = np.abs(ours.astype(np.float64) - ref)
    return (float(d.max() / np.abs(ref).max()),
            float((np.linalg.norm(ours - ref.astype(np.float64), axis=1) / np.linalg.norm(ref, axis=1)).max()))


def ganjax_inception(state_dict: dict):
    """ganjax's FID Inception with these pytorch-fid weights, through the converter's mapping, the .npz and the
    loader (the path a user's converted file takes)."""
    from ganjax.metrics import inception as inc
    from ganjax.metrics.inception_convert import convert_state_dict, save_npz

    with tempfile.TemporaryDirectory() as tmp:
        save_npz(convert_state_dict(state_dict), os.path.join(tmp, "inception_random.npz"))
        return inc.load_inception(os.path.join(tmp, "inception_random.npz"))


def report(name: str, ours: np.ndarray, ref: np.ndarray, n: int, fid_ref: float) -> None:
    """One line: ganjax's features of the two sets (first n, rest) against pytorch-fid's, and the FIDs."""
    from ganjax.metrics.frechet import frechet_distance

    e_max, e_img = rel_errors(ours, ref)
    fid = frechet_distance(ours[:n], ours[n:])
    print(f"{name}: max|Δ|/max|ref| {e_max:.2e}, max per-image ‖Δ‖/‖ref‖ {e_img:.2e}; FID ganjax {fid:.6f}, "
          f"pytorch-fid {fid_ref:.6f}, relative {abs(fid - fid_ref) / abs(fid_ref):.2e}")


def replay(path: str) -> int:
    """The figures of a run with torch, from the fixture it wrote: pytorch-fid's features and FID of its pictures
    against ganjax's, whose weights come from the fixture's recipe through the converter."""
    from ganjax.metrics import inception as inc
    from ganjax.metrics.inception_convert import random_state_dict

    with np.load(path, allow_pickle=False) as z:
        fx = {k: z[k] for k in z.files}
    recipe = {k[len("recipe_"):]: fx[k].item() for k in fx if k.startswith("recipe_")}
    params = ganjax_inception(random_state_dict(**recipe))
    both, ref = np.concatenate([fx["images_a"], fx["images_b"]]), np.concatenate([fx["features_a"], fx["features_b"]])
    print(f"{path}: {len(both)} images {both.shape[1]}x{both.shape[2]}, pytorch-fid's features and FID")
    report("uint8 input", inc.inception_features(both, params, batch_size=len(both)), ref, len(fx["images_a"]),
           float(fx["fid"]))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="weight recipe seed")
    p.add_argument("--image-seed", type=int, default=1)
    p.add_argument("--n", type=int, default=8, help="images per set (two sets)")
    p.add_argument("--height", type=int, default=48)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--fixture", default=os.path.join(ROOT, "tests", "fixtures", "inception_equality.npz"),
                   help="where to write the test fixture ('' for nowhere)")
    p.add_argument("--replay", action="store_true",
                   help="no torch: compare ganjax with the pytorch-fid features and FID kept in --fixture")
    args = p.parse_args(argv)
    if args.replay:
        return replay(args.fixture)

    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    import jax
    import pytorch_fid
    from ganjax.metrics import inception as inc
    from ganjax.metrics.frechet import frechet_distance
    from ganjax.metrics.inception_convert import DEFAULT_RECIPE, random_state_dict

    recipe = dict(DEFAULT_RECIPE, seed=args.seed)
    state_dict = random_state_dict(**recipe)
    model = build_pytorch_fid(state_dict)  # a strict load: pytorch-fid's names and shapes are these
    params = ganjax_inception(state_dict)

    rng = np.random.default_rng(args.image_seed)
    a = make_images(rng, args.n, args.height, args.width, contrast=1.0, blobs=4)
    b = make_images(rng, args.n, args.height, args.width, contrast=0.6, blobs=6)
    both = np.concatenate([a, b])

    t = time.perf_counter()
    ref = torch_features(model, both)
    t_torch = time.perf_counter() - t
    t = time.perf_counter()
    ours_u8 = inc.inception_features(both, params, batch_size=len(both))
    t_jax = time.perf_counter() - t
    ours_f = inc.inception_features(both.astype(np.float32) * (2 / 255) - 1, params, batch_size=len(both))

    fid_ref = frechet_distance(ref[:args.n], ref[args.n:])
    print(f"pytorch-fid {pytorch_fid.__version__}, torch {torch.__version__}, jax {jax.__version__} "
          f"({jax.devices()[0].platform}); {len(both)} images {args.height}x{args.width}; "
          f"torch {t_torch:.1f} s, jax {t_jax:.1f} s (with compile)")
    print(f"features: mean {ref.mean():.4f}, std over images {ref.std(0).mean():.4f}, max {ref.max():.3f}")
    for name, ours in (("uint8 input", ours_u8), ("[-1,1] float input", ours_f)):
        report(name, ours, ref, args.n, fid_ref)

    # The resize alone against F.interpolate, including downsampling (no antialias) and the real 299 case.
    resize_in, resize_out, worst = [], [], 0.0
    cases = RESIZE_CASES + [(3, args.height, args.width, 299, 299), (3, 512, 400, 299, 299), (1, 300, 301, 299, 299)]
    for i, (c, hi, wi, ho, wo) in enumerate(cases):
        x = np.random.default_rng(100 + i).uniform(0, 1, (1, c, hi, wi)).astype(np.float32)
        want = F.interpolate(torch.from_numpy(x), size=(ho, wo), mode="bilinear", align_corners=False).numpy()
        got = np.asarray(inc.resize_bilinear(x.transpose(0, 2, 3, 1), (ho, wo))).transpose(0, 3, 1, 2)
        worst = max(worst, float(np.abs(got - want).max()))
        if i < len(RESIZE_CASES):
            resize_in.append(x[0])
            resize_out.append(want[0])
    print(f"bilinear resize vs F.interpolate over {len(cases)} cases (up to 512x400 -> 299x299): "
          f"max |Δ| {worst:.2e}")

    if args.fixture:
        fixture = {f"recipe_{k}": np.asarray(v) for k, v in recipe.items()}
        fixture.update(images_a=a, images_b=b, features_a=ref[:args.n], features_b=ref[args.n:],
                       fid=np.float64(fid_ref), resize_cases=np.asarray(RESIZE_CASES))
        for i, (x, y) in enumerate(zip(resize_in, resize_out)):
            fixture[f"resize_in_{i}"], fixture[f"resize_out_{i}"] = x, y
        os.makedirs(os.path.dirname(args.fixture), exist_ok=True)
        tmp = args.fixture + ".tmp.npz"
        np.savez_compressed(tmp, **fixture)
        os.replace(tmp, args.fixture)
        print(f"wrote {args.fixture} ({os.path.getsize(args.fixture) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
