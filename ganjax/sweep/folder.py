"""The sweep folder: sweep.json (members, overrides, program, status) and the check that a --workdir is new,
empty or this same sweep before anything is written; `--part K/N` for one host's share."""
from __future__ import annotations

import json
import os

from ganjax.errors import UsageError
from ganjax.train import workdir as wd

RECORD = wd.SWEEP_RECORD


class Record:
    """sweep.json: the members (name, overrides, program, status, step, failure) — rewritten atomically."""

    def __init__(self, root: str, spec: str, members, programs, old: dict | None):
        self.path = os.path.join(root, RECORD)
        old_members = {m["name"]: m for m in (old or {}).get("members", [])}
        self.data = {"config": spec, "members": []}
        for p, prog in enumerate(programs):
            for m in prog.members:
                prev = old_members.get(m.name, {})
                self.data["members"].append({
                    "name": m.name, "overrides": m.overrides, "program": p, "status": prev.get("status", "new"),
                    "step": prev.get("step", 0), "failed_at": prev.get("failed_at"),
                    "failed_term": prev.get("failed_term")})
        self.data["members"].sort(key=lambda r: r["name"])
        self.by_name = {r["name"]: r for r in self.data["members"]}

    def update(self, name: str, **fields) -> None:
        self.by_name[name].update(fields)

    def save(self) -> None:
        wd.write_atomic(self.path, json.dumps(self.data, indent=1, default=str))


def _normal(overrides: dict) -> str:
    return json.dumps(overrides, sort_keys=True, default=str)


def check_folder(workdir: str, members) -> tuple[str, dict | None]:
    """Check, writing nothing, that `workdir` is new, empty or this same sweep; returns (root, old record)."""
    root = os.path.abspath(os.path.expanduser(workdir))
    if os.path.exists(root) and not os.path.isdir(root):
        raise wd.RunFolderError(f"sweep workdir {root} exists and is not a folder")
    path = os.path.join(root, RECORD)
    old = None
    if os.path.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
            have = {m["name"]: _normal(m["overrides"]) for m in old["members"]}
        except (ValueError, KeyError, TypeError):
            raise wd.RunFolderError(f"{path} is not a ganjax sweep record; use another --workdir") from None
        want = {m.name: _normal(json.loads(json.dumps(m.overrides, default=str))) for m in members}
        if have != want:
            diff = next((n for n in sorted(set(have) | set(want)) if have.get(n) != want.get(n)))
            raise wd.RunFolderError(f"sweep workdir {root} holds another sweep ({diff}: {have.get(diff, 'absent')} "
                                    f"vs {want.get(diff, 'absent')}); use another --workdir")
    elif os.path.isdir(root) and not all(  # what a start that failed before its record was written leaves
            n == wd.LOCK or (n.startswith("member_") and os.path.isdir(os.path.join(root, n))
                             and wd._only_leftovers(os.path.join(root, n))) for n in os.listdir(root)):
        raise wd.RunFolderError(f"sweep workdir {root} is not empty and holds no ganjax sweep; use a new folder")
    for m in members:
        wd.check(os.path.join(root, m.name), m.cfg)
    return root, old


def parse_part(part: str | None) -> tuple[int, int]:
    """"K/N" → (K, N) with 0 <= K < N; None → (0, 1)."""
    if part is None:
        return 0, 1
    k, _, n = str(part).partition("/")
    if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise UsageError(f"--part {part!r}: write K/N with 0 <= K < N (e.g. --part 0/4 on the first of 4 hosts)")
    return int(k), int(n)
