"""`ganjax translate RUN --input FILE|DIR --output DIR`: a CycleGAN / pix2pix run on image files of any size.

Every input gets one PNG of its own size, `OUTPUT/<stem>.png` (`--side-by-side`: input | output), distinct
for inputs that share a stem (`<stem>_<ext>.png`, then `_2`, ...: output_names); each is written through a
new exclusively created temporary file (ganjax/atomic.py). How each size is handled (resize, tiles) is
ganjax/image_translation.py. Existing files are never overwritten
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
    tr.add_argument("--raw", action="store_true", help="use the raw generator, not its EMA (default: the EMA, "
                                                         "where the run keeps one)")
    tr.set_defaults(func=run)


def run(args, overrides) -> None:
    written, generator = translate_files(args.run, args.input, args.output, direction=args.direction,
                                         mode=args.mode, side_by_side=args.side_by_side, step=args.step,
                                         overwrite=args.overwrite, ema=not args.raw)
    print(f"wrote {len(written)} image(s) to {args.output} ({args.mode} mode, {args.direction}, {generator} generator)")


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


def output_names(files: list[Path]) -> list[str]:
    """One distinct PNG name per input: `<stem>.png` where the stem is unique; where stems collide
    `<stem>_<ext>.png`, and `_2`, `_3`, ... after it while that is still taken (a.png, a.jpg and a_png.png
    give a_png_2.png, a_jpg.png and a_png.png). Unique stems keep their names; case is ignored when
    comparing (case-insensitive disks)."""
    stems = [f.stem.lower() for f in files]
    unique = [stems.count(s) == 1 for s in stems]
    used = {s for s, u in zip(stems, unique) if u}
    names = []
    for f, u in zip(files, unique):
        base = name = f.stem if u else f"{f.stem}_{f.suffix.lstrip('.').lower()}"
        k = 2
        while not u and name.lower() in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name.lower())
        names.append(name + ".png")
    return names


def output_paths(files: list[Path], output: str, overwrite: bool) -> list[Path]:
    """OUTPUT/<name>.png per input, distinct for every input (output_names); refuses existing files."""
    from ganjax.errors import UsageError

    out = Path(os.path.expanduser(output))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder")
    paths = [out / name for name in output_names(files)]
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise FileExistsError(f"{taken[0]} exists{more}; use --overwrite or another --output")
    return paths


def read_image(path: Path, channels: int, grayed: list | None = None) -> np.ndarray | None:
    """uint8 (H, W, channels), or None when the file cannot be decoded (16-bit and float images are
    converted by their range; a colour image read for a 1-channel run is appended to `grayed`)."""
    from ganjax.data.translation import decode_image

    im = decode_image(path, channels, grayed)
    if im is None:
        return None
    arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def translate_files(run: str, input: str, output: str, direction: str = "AtoB", mode: str = "auto",
                    side_by_side: bool = False, step: int | None = None, overwrite: bool = False,
                    ema: bool = True) -> tuple[list[str], str]:
    """Translate `input` (a file or folder) with the run's generator (its EMA unless ema=False); returns the
    written paths and "EMA" or "raw"."""
    from ganjax.atomic import save_image
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
    opened = load_run(run, step, ema)
    recipe = opened.recipe
    fn = translator_fn(opened, direction)
    written, skipped, grayed, used = [], [], [], {"resize": 0, "tile": 0}
    for src, dst in zip(files, targets):
        image = read_image(src, recipe.channels, grayed)
        if image is None:
            skipped.append(src.name)
            continue
        how = choose_mode(mode, image.shape, recipe.crop)
        used[how] += 1
        out = translate_image(fn, image, recipe.crop, how, recipe.recombine)
        if side_by_side:
            out = np.concatenate([image, out], axis=1)
        os.makedirs(os.path.expanduser(output), exist_ok=True)  # only once something is to be written
        save_image(pil_image(out), str(dst), "PNG")  # through a new O_EXCL temporary file, never a symlink
        written.append(str(dst))
    if skipped:
        print(f"ganjax: warning: skipped {len(skipped)} unreadable file(s): {', '.join(skipped[:3])}"
              f"{', ...' if len(skipped) > 3 else ''}", file=sys.stderr)
    if grayed:
        print(f"ganjax: warning: {len(grayed)} colour image(s) converted to gray: this run translates "
              f"1-channel images", file=sys.stderr)
    if not written:
        raise UsageError(f"none of the {len(files)} input file(s) could be read as an image")
    if mode == "auto":
        print(f"auto mode: tiled {used['tile']} image(s) longer than {AUTO_TILE_FACTOR}x the {recipe.crop}-px "
              f"training crop, resized {used['resize']} (--mode tile|resize to choose)")
    return written, opened.generator
