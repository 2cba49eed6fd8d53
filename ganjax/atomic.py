"""Atomic file writes through temporary files that cannot be hijacked.

`replacing(path)` opens a new temporary file in `path`'s folder with exclusive creation (`O_CREAT | O_EXCL`,
and `O_NOFOLLOW`): an existing file or symlink at the temporary name is never opened, truncated or written
through, a fresh random name is tried instead. On success the file replaces `path` in one `os.replace`
(a reader sees the old file or the new one, never half of one); on any error it is removed.
"""
from __future__ import annotations

import contextlib
import os
import secrets

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def open_exclusive(path: str, tries: int = 100) -> tuple[int, str]:
    """(file descriptor, name) of a new temporary file `.NAME.RANDOM.tmp` beside `path`."""
    folder, name = os.path.split(os.path.abspath(path))
    for _ in range(tries):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


@contextlib.contextmanager
def replacing(path: str):
    """`with replacing(path) as f: f.write(...)`: a binary file object that becomes `path` when the block
    ends without an error."""
    fd, tmp = open_exclusive(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_arrays(path: str, arrays: dict, compressed: bool = False) -> str:
    """Save named numpy arrays as an .npz file atomically (no pickle: object arrays are refused)."""
    import numpy as np

    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    if any(a.dtype == object for a in arrays.values()):
        raise ValueError(f"{path}: object arrays would need pickle")
    with replacing(path) as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return path


def save_image(image, path: str, format: str | None = None) -> str:
    """Save a PIL image atomically; the format comes from `path`'s suffix unless given."""
    from PIL import Image

    fmt = format or Image.registered_extensions().get(os.path.splitext(path)[1].lower(), "PNG")
    with replacing(path) as f:
        image.save(f, format=fmt)
    return path
