"""`ganjax bench MODEL [options]`: throughput of ganjax's compiled train step (ganjax/bench/)."""
from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    bn = sub.add_parser("bench", help="throughput of the full train step (images/s, compile, memory, FLOPs)",
                        description="Time ganjax's compiled train step on synthetic data: "
                                    "`ganjax bench dcgan --help` lists the options.")
    bn.add_argument("model", choices=("dcgan", "cyclegan"))
    bn.add_argument("options", nargs=argparse.REMAINDER, help="--batch 64,256 --dtype float32,bfloat16 ... "
                                                              "(`ganjax bench dcgan --help` lists them)")
    bn.set_defaults(func=run)


def run(args, overrides) -> None:
    main([args.model, *args.options])


def main(argv: list[str]) -> list[dict]:
    """The ganjax side only; prints a table, appends JSON lines."""
    from ganjax.bench import harness, models, options
    from ganjax.errors import ArgumentParser

    p = ArgumentParser(prog="ganjax bench", description="Throughput of ganjax's full train step on synthetic "
                                                          "data, timed after compilation.")
    p.add_argument("model", choices=("dcgan", "cyclegan"))
    cpu = harness.backend() == "cpu"
    options.add_arguments(p, cpu)
    args = p.parse_args(argv)
    for note in options.resolve_defaults(args, cpu):
        print(note)
    info, rows = harness.device_info(), []
    parse_list = options.parse_list
    for batch in parse_list(args.batch, int):
        for dtype in parse_list(args.dtype):
            for variant in parse_list(args.upsample):
                for k in parse_list(args.steps_per_dispatch, int):
                    runner = models.jax_runner(args.model, batch, dtype, k, variant, args)
                    (timing,) = harness.measure([runner], args.repeats, args.warmup, args.iters,
                                                target_block_s=1.0 if cpu else 0.3)
                    rows.append(harness.make_row(runner, timing, {**info, "load_avg_1m": round(os.getloadavg()[0], 2)}))
                    harness.write_jsonl(rows[-1:], args.out)  # one line per configuration, as soon as it is measured
                    table = harness.format_table(rows[-1:])
                    print(table.splitlines()[-1] if len(rows) > 1 else table, flush=True)
                    del runner
    table = f"\n{harness.format_table(rows)}" if len(rows) > 1 else ""  # one row: printed above already
    print(f"{table}\n{harness.CPU_NOTE if cpu else ''}\nwrote {len(rows)} line(s) to {args.out}")
    return rows
