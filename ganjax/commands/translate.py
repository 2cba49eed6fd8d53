"""`ganjax translate RUN --input FILE|DIR --output DIR`: a CycleGAN / pix2pix run on image files of any size.

Every input gets one PNG of its own size, `OUTPUT/<name>.png` (`--side-by-side`: input | output); how each
size is handled (resize, tiles) is ganjax/image_translation.py. Existing files are never overwritten
without `--overwrite`, and this is checked before anything is written. Grayscale and RGB inputs are
converted to the run's channel count; EXIF orientation is applied; unreadable files are skipped with a count.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np


def add_parser(sub) -> None:
    tr = sub.add_parser("translate", help="translate images with a cyclegan / pix2pix run (any size)",
                        description="Translate an image or a folder of images of any size with a trained "
                                    "CycleGAN or pix2pix run; one PNG of the input's size per input.")
    tr.add_argument("run", help="run folder")
    tr.add_argument("--input", required=True, help="an image file or a folder of images")
    tr.add_argument("--output", required=True, help="folder for the translated PNGs")
    tr.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                    help="AtoB uses G_A, BtoA G_B (cyclegan only); default AtoB")
    tr.add_argument("--mode", default="auto", choices=("auto", "resize", "tile"),
                    help="resize: to the training crop size and back; tile: overlapping crop-size tiles at "
                         "full resolution, blended; auto (default): tile images longer than 2x the crop, "
                         "resize the others")
    tr.add_argument("--side-by-side", action="store_true", help="write input | output")
    tr.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    tr.add_argument("--overwrite", action="store_true", help="replace existing files in --output")
    tr.set_defaults(func=run)


def run(args, overrides) -> None:
    written = translate_files(args.run, args.input, args.output, direction=args.direction, mode=args.mode,
                              side_by_side=args.side_by_side, step=args.step, overwrite=args.overwrite)
    print(f"wrote {len(written)} image(s) to {args.output} ({args.mode} mode, {args.direction})")


def input_files(path: str) -> list[Path]:
    """The image file `path`, or the image files (by extension) directly inside the folder `path`."""
    from ganjax.data.translation import IMG_EXTENSIONS
    from ganjax.errors import UsageError

    p = Path(os.path.expanduser(path))
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise UsageError(f"--input {path} does not exist")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMG_EXTENSIONS
                   and not f.name.startswith("."))
    if not files:
        raise UsageError(f"--input {path} holds no image files ({', '.join(IMG_EXTENSIONS)})")
    return files


def output_paths(files: list[Path], output: str, overwrite: bool) -> list[Path]:
    """OUTPUT/<stem>.png per input (<stem>_<ext>.png where stems collide); refuses existing files."""
    from ganjax.errors import UsageError

    out = Path(os.path.expanduser(output))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder")
    stems = [f.stem for f in files]
    paths = [out / (f"{f.stem}_{f.suffix.lstrip('.').lower()}.png" if stems.count(f.stem) > 1 else f"{f.stem}.png")
             for f in files]
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise FileExistsError(f"{taken[0]} exists{more}; use --overwrite or another --output")
    return paths


def read_image(path: Path, channels: int) -> np.ndarray | None:
    """uint8 (H, W, channels), or None when the file cannot be decoded."""
    from ganjax.data.translation import decode_image

    im = decode_image(path, channels)
    if im is None:
        return None
    arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def translate_files(run: str, input: str, output: str, direction: str = "AtoB", mode: str = "auto",
                    side_by_side: bool = False, step: int | None = None, overwrite: bool = False) -> list[str]:
    """Translate `input` (a file or folder) with the run's generator; returns the written paths."""
    from ganjax.errors import UsageError
    from ganjax.image_translation import AUTO_TILE_FACTOR, MODES, choose_mode, pil_image, translate_image
    from ganjax.inference import load_run, translator_fn
    from ganjax.recipes import TRANSLATION
    from ganjax.train.workdir import load_config

    cfg = load_config(run)
    if cfg.experiment not in TRANSLATION:
        raise UsageError(f"{run} is a {cfg.experiment} run; translate needs a cyclegan or pix2pix run")
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if direction not in ("AtoB", "BtoA") or (direction == "BtoA" and cfg.experiment == "pix2pix"):
        raise UsageError(f"--direction {direction} is not available for a {cfg.experiment} run "
                         f"(cyclegan: AtoB or BtoA; pix2pix: AtoB)")
    files = input_files(input)
    targets = output_paths(files, output, overwrite)
    opened = load_run(run, step)
    recipe = opened.recipe
    fn = translator_fn(opened, direction)
    written, skipped, used = [], [], {"resize": 0, "tile": 0}
    for src, dst in zip(files, targets):
        image = read_image(src, recipe.channels)
        if image is None:
            skipped.append(src.name)
            continue
        how = choose_mode(mode, image.shape, recipe.crop)
        used[how] += 1
        out = translate_image(fn, image, recipe.crop, how, recipe.recombine)
        if side_by_side:
            out = np.concatenate([image, out], axis=1)
        os.makedirs(os.path.expanduser(output), exist_ok=True)  # only once something is to be written
        tmp = dst.with_name(dst.name + ".tmp.png")
        pil_image(out).save(tmp)
        os.replace(tmp, dst)
        written.append(str(dst))
    if skipped:
        print(f"ganjax: warning: skipped {len(skipped)} unreadable file(s): {', '.join(skipped[:3])}"
              f"{', ...' if len(skipped) > 3 else ''}", file=sys.stderr)
    if not written:
        raise UsageError(f"none of the {len(files)} input file(s) could be read as an image")
    if mode == "auto":
        print(f"auto mode: tiled {used['tile']} image(s) longer than {AUTO_TILE_FACTOR}x the {recipe.crop}-px "
              f"training crop, resized {used['resize']} (--mode tile|resize to choose)")
    return written
