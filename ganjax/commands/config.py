"""`ganjax config EXPERIMENT[:arg] [--config.k=v ...]`: the resolved config, each key with its comment."""
from __future__ import annotations


def add_parser(sub) -> None:
    c = sub.add_parser("config", help="print an experiment's resolved config: every key, its value and comment",
                       description="Print EXPERIMENT's config after the :arg and --config.a.b=value overrides: "
                                   "one line per key (the names --config.KEY=VALUE takes), with the comment from "
                                   "the experiment file; keys you changed show their default.")
    c.add_argument("config", help="experiments/NAME.py[:runlocal,key=value]")
    c.set_defaults(func=run, takes_overrides=True)


def run(args, overrides) -> None:
    print(describe(args.config, overrides))


def describe(spec: str, overrides=()) -> str:
    from ganjax import config as config_lib

    cfg = config_lib.load(spec, overrides)
    changed = config_lib.differences(cfg, config_lib.load(spec)) if overrides else {}
    comments = config_lib.key_comments(spec.partition(":")[0])
    rows = [(k, repr(v)) for k, v in config_lib.flat(cfg).items() if k != "config_file"]
    width = max(len(k) + len(v) + 3 for k, v in rows)
    lines = [f"# {cfg.config_file}: {len(rows)} keys; set any with --config.KEY=VALUE"]
    for k, v in rows:
        note = comments.get(k, "")
        if k in changed:
            note = f"(default {changed[k][1]!r}) {note}".strip()
        lines.append(f"{k} = {v}".ljust(width) + f"  # {note}" if note else f"{k} = {v}")
    return "\n".join(lines)
