"""The throughput issue's GPU goals, read from one run's benchmark rows: a Markdown table for the README.

  python benchmarks/goals.py ROWS.jsonl [--dcgan-batches 64,1024]

benchmarks/gpu_all.sh runs it last, on the rows of that run (with FLOPs filled in by flops_on_cpu.py). A ratio
divides a ganjax row by a PyTorch row timed with it (compare_torch's `group`: one process, one
configuration, interleaved), so it never mixes runs; of several ganjax rows (dtypes, steps per dispatch) the
best is reported, with its configuration. A goal without such a pair of rows is "not measured".
"""
from __future__ import annotations

import argparse
import json


def _fmt_ips(r: dict) -> str:
    return f"{r['images_per_s']:,.0f}".replace(",", " ") if r["images_per_s"] >= 100 else f"{r['images_per_s']:.1f}"


def _eager_fp32(group: list[dict]) -> dict | None:
    return next((r for r in group if r["impl"] == "torch-eager" and r["dtype"] == "float32"), None)


def _best_torch(group: list[dict]) -> dict | None:
    return max((r for r in group if r["impl"].startswith("torch")), key=lambda r: r["images_per_s"], default=None)


def _groups(rows: list[dict], model: str, batch: int) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("group") and r.get("images_per_s") and r["model"].startswith(model) and r["batch"] == batch:
            groups.setdefault(r["group"], []).append(r)
    return list(groups.values())


def best_ratio(rows: list[dict], model: str, batch: int, reference) -> tuple[dict, dict, float] | None:
    """(ganjax row, its PyTorch reference row, ratio) with the highest images/s ratio within one group."""
    best = None
    for group in _groups(rows, model, batch):
        ref = reference(group)
        for r in (r for r in group if r["impl"] == "ganjax") if ref else ():
            ratio = r["images_per_s"] / ref["images_per_s"]
            if best is None or ratio > best[2]:
                best = (r, ref, ratio)
    return best


def goal_lines(rows: list[dict], b64: int = 64, b1k: int = 1024) -> list[list[str]]:
    """[goal, ganjax, PyTorch, measured, % peak, met] for each GPU goal of the throughput issue."""
    out = []

    def peak(r):
        return "" if r.get("frac_peak") is None else f"{100 * r['frac_peak']:.1f} % ({r['dtype']})"

    def ratio_goal(name, model, batch, reference, target):
        found = best_ratio(rows, model, batch, reference)
        if found is None:
            return out.append([name, "", "", "not measured", "", ""])
        r, ref, ratio = found
        out.append([name, f"{_fmt_ips(r)} img/s ({r['dtype']}, K={r['k']})",
                    f"{_fmt_ips(ref)} img/s ({ref['impl'][6:]} {ref['dtype']})", f"{ratio:.2f}×", peak(r),
                    "yes" if ratio >= target else "no"])

    ratio_goal(f"DCGAN b{b64} ≥ 10× PyTorch eager fp32", "dcgan", b64, _eager_fp32, 10)
    ratio_goal(f"DCGAN b{b1k} ≥ 3× the best PyTorch variant", "dcgan", b1k, _best_torch, 3)
    bf16 = [r for r in rows if r["impl"] == "ganjax" and r["model"].startswith("dcgan") and r["batch"] == b1k
            and r["dtype"] == "bfloat16" and r.get("frac_peak") is not None]
    if bf16:
        r = max(bf16, key=lambda r: r["frac_peak"])
        out.append([f"DCGAN b{b1k} ≥ 40 % of bf16 peak", f"{_fmt_ips(r)} img/s (K={r['k']})", "",
                    f"{100 * r['frac_peak']:.1f} %", peak(r), "yes" if r["frac_peak"] >= 0.4 else "no"])
    else:
        out.append([f"DCGAN b{b1k} ≥ 40 % of bf16 peak", "", "", "not measured (no FLOPs or peak)", "", ""])
    ratio_goal("CycleGAN b1 ≥ 4× PyTorch eager fp32", "cyclegan", 1, _eager_fp32, 4)
    ratio_goal("CycleGAN b4 ≥ 3× PyTorch eager fp32", "cyclegan", 4, _eager_fp32, 3)
    # memory: the compiled step's need (XLA memory analysis) against the twin's torch.cuda.max_memory_allocated
    pairs = [(r, _eager_fp32(g)) for g in _groups(rows, "cyclegan", 1) for r in g
             if r["impl"] == "ganjax" and r.get("step_mem_bytes")]
    pairs = [(r, ref) for r, ref in pairs if ref and ref.get("peak_mem_bytes")]
    if pairs:
        r, ref = max(pairs, key=lambda p: p[0]["step_mem_bytes"] / p[1]["peak_mem_bytes"])
        mib = lambda b: f"{b / 2**20:,.0f} MiB".replace(",", " ")
        out.append(["CycleGAN b1 step memory ≤ PyTorch's", f"{mib(r['step_mem_bytes'])} ({r['dtype']})",
                    f"{mib(ref['peak_mem_bytes'])} (eager {ref['dtype']})",
                    f"{r['step_mem_bytes'] / ref['peak_mem_bytes']:.2f}×", "",
                    "yes" if r["step_mem_bytes"] <= ref["peak_mem_bytes"] else "no"])
    else:
        out.append(["CycleGAN b1 step memory ≤ PyTorch's", "", "", "not measured", "", ""])
    return out


def markdown(lines: list[list[str]]) -> str:
    head = ["goal", "ganjax", "PyTorch twin (same process)", "measured", "ganjax % peak", "met"]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [head, ["---"] * len(head), *lines])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", nargs="+", help="JSON-lines files of one run (compare_torch.py / ganjax bench)")
    p.add_argument("--dcgan-batches", default="64,1024", help="the goals' two DCGAN batch sizes")
    args = p.parse_args(argv)
    rows = [json.loads(line) for path in args.rows for line in open(path) if line.strip()]
    b64, b1k = map(int, args.dcgan_batches.split(","))
    devices = sorted({r.get("device", "?") for r in rows})
    print(f"GPU goals of the throughput issue, from {len(rows)} rows on {', '.join(devices) or 'no device'}:")
    print(markdown(goal_lines(rows, b64, b1k)))
    print("ganjax step memory: XLA memory analysis of the compiled step; PyTorch's: max_memory_allocated "
          "(on a CPU: the process's peak RSS, not the goal's measure)")


if __name__ == "__main__":
    main()
