"""Input checks shared by the feature-set metrics (KID, precision/recall, density/coverage)."""
from __future__ import annotations

import numpy as np

from ganjax.errors import UsageError


def feature_pair(real, fake, what: str, min_samples: int, why: str) -> tuple[np.ndarray, np.ndarray]:
    """``real`` and ``fake`` as float64 ``(n, d)`` arrays, or a one-line UsageError naming ``what``.

    ``min_samples`` is the fewest rows each set may have; ``why`` says what needs them
    (e.g. ``"more than k=3"``) for the message.
    """
    out = []
    for name, x in (("real", real), ("fake", fake)):
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise UsageError(f"{what}: {name} features are not numeric ({e})") from None
        if a.ndim != 2:
            raise UsageError(f"{what}: {name} features must be a 2-D (samples, features) array, got shape {a.shape}")
        if a.shape[1] == 0:
            raise UsageError(f"{what}: {name} features have no feature dimensions, shape {a.shape}")
        out.append(a)
    a, b = out
    if a.shape[1] != b.shape[1]:
        raise UsageError(f"{what}: real and fake features differ in dimension ({a.shape[1]} vs {b.shape[1]})")
    if a.shape[0] < min_samples or b.shape[0] < min_samples:
        raise UsageError(f"{what}: needs {why} samples in each set, got {a.shape[0]} real and {b.shape[0]} fake")
    for name, x in (("real", a), ("fake", b)):
        bad = x.size - int(np.count_nonzero(np.isfinite(x)))
        if bad:
            raise UsageError(f"{what}: {name} features contain {bad} NaN or infinite value(s)")
    return a, b


def positive_int(value, name: str, what: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or a one-line UsageError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UsageError(f"{what}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
