"""eval.json as a table: each number's label and what a good value of it is."""
from __future__ import annotations

import math


# (label, what good looks like) of eval.json's numbers; eval.json keys not listed here are shown by name.
EVAL_KEYS = {
    "frechet_distance": ("Fréchet distance (generated vs held-out real)",
                         "lower is better; compare it with the real-vs-real floor beside it"),
    "frechet_ratio": ("Fréchet distance ÷ real floor",
                      "1.0 is as close as real data; below 1.5 is good"),
    "inception_fid": ("Inception FID", "lower is better; comparable with papers only at 50 000 samples against "
                                       "the same reference set"),
    "fid": ("FID", "lower is better"),
    "kid": ("KID (kernel distance)", "0 when the distributions match; read it against its ± and the real floor"),
    "precision": ("precision (fidelity)", "share of generated images that look like real ones: higher is better, "
                                          "real data itself scores below 1"),
    "recall": ("recall (diversity)", "share of real images the generator covers: higher is better"),
    "density": ("density", "about 1 when generated images are spread like real ones; > 1 crowds the densest "
                           "real regions, < 1 falls off the real data"),
    "coverage": ("coverage", "share of real images with a generated neighbour: higher is better, near the "
                             "real floor is good"),
    "min_class_share": ("smallest class share", "0.10 for balanced digits; 0.08 or more means no class is "
                                                "neglected (mode collapse drives it to 0)"),
    "classes_at_least_5pct": ("classes with ≥ 5 % of samples", "all classes for a generator that makes every "
                                                               "digit"),
    "mean_confidence": ("classifier confidence on generated images",
                        "legible digits score near the classifier's confidence on real ones (about 0.9)"),
    "classifier_test_accuracy": ("evaluation classifier's accuracy on held-out reals",
                                 "how far to trust the class shares and features: above 0.9 is a reliable judge"),
    "psnr": ("PSNR of G(A) vs the true B (dB)", "higher is better; it must beat the identity baseline (A itself)"),
    "ssim": ("SSIM of G(A) vs the true B", "1 is identical; it must beat the identity baseline (A itself)"),
}
# Keys that describe how the evaluation was made: shown as a sentence above the table.
EVAL_META = {"step": "step", "num_samples": "generated samples", "fd_sample_size":
             "Fréchet sample size (each set)", "kid_subset_size": "KID subset size", "feature_space": "features",
             "experiment": "experiment", "task": "test set", "direction": "direction", "num_images": "test images",
             "crop_size": "crop size", "psnr_cap_db": "PSNR cap (identical images) dB"}
EVAL_HIDDEN = ("kid_std", "frechet_floor_real_vs_real", "real_vs_real", "class_share", "per_image")


def fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def eval_rows(result: dict) -> list[dict]:
    """The eval table: [{key, label, value, baseline, good}] with values as text; baseline is the real-vs-real
    floor (digit runs) or the identity translation (translation runs) where eval.json has one."""
    real = result.get("real_vs_real") if isinstance(result.get("real_vs_real"), dict) else {}
    rows = []

    def add(key, value, baseline=None):
        label, good = EVAL_KEYS.get(key, (key.replace("_", " "), ""))
        rows.append({"key": key, "label": label, "value": value, "baseline": baseline, "good": good})

    def pm(d, key):  # "value ± std" where a std is logged beside it
        v = d.get(key)
        s = d.get(f"{key}_std")
        return None if v is None else (f"{fmt(v)} ± {fmt(s)}" if isinstance(s, (int, float)) else fmt(v))

    ordered = [k for k in EVAL_KEYS if k in result] + [k for k in result if k not in EVAL_KEYS]
    for key in ordered:
        v = result[key]
        if key in EVAL_META or key in EVAL_HIDDEN or key.startswith("identity_"):
            continue
        if key == "frechet_distance":
            add(key, fmt(v), fmt(result.get("frechet_floor_real_vs_real", real.get(key))))
        elif key == "frechet_ratio":
            add(key, fmt(v), "1")
        elif key == "classes_at_least_5pct" and isinstance(result.get("class_share"), list):
            add(key, f"{v} / {len(result['class_share'])}")
        elif isinstance(v, (bool, str)):
            add(key, str(v))
        elif isinstance(v, (int, float)):
            ident = result.get(f"identity_{key}")
            base = pm(real, key) if key in real else (fmt(ident) if ident is not None else None)
            add(key, pm(result, key), base)
        elif isinstance(v, list) and len(v) <= 12 and all(isinstance(x, (int, float)) for x in v):
            add(key, fmt(v))
        elif isinstance(v, dict):
            for sub, sv in v.items():
                if isinstance(sv, (int, float)) and not isinstance(sv, bool):
                    add(f"{key}.{sub}", fmt(sv))
    return rows
