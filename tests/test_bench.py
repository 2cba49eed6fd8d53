"""`ganjax bench`: runs a tiny configuration and appends a JSON line with the documented fields."""
import json
import os

import pytest

from ganjax import bench
from ganjax.commands import main

FIELDS = ("impl", "model", "variant", "dtype", "fuse", "batch", "k", "images_per_s", "step_ms", "step_ms_min",
          "compile_s", "peak_mem_bytes", "peak_mem_source", "flops_per_image", "flops_source", "peak_flops",
          "frac_peak", "iters", "repeats", "backend", "device", "load_avg_1m", "time")


def test_bench_dcgan_writes_a_json_line(tmp_path, capsys):
    out = tmp_path / "bench.jsonl"
    assert main(["bench", "dcgan", "--batch", "8", "--width", "8", "--dtype", "float32", "--upsample", "phase",
                 "--steps-per-dispatch", "1", "--iters", "1", "--repeats", "1", "--warmup", "1",
                 "--out", str(out)]) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(FIELDS) <= set(row)
    assert (row["impl"], row["variant"], row["batch"], row["k"]) == ("ganjax", "phase", 8, 1)
    assert row["images_per_s"] > 0 and row["step_ms"] > 0 and row["compile_s"] > 0
    assert row["flops_per_image"] > 0 and row["flops_source"] == "xla_cost_analysis"
    assert row["peak_mem_bytes"] > 0
    if row["backend"] == "cpu":
        assert row["frac_peak"] is None and row["peak_mem_source"] == "process peak RSS"
    assert "img/s" in capsys.readouterr().out


def test_bench_rejects_an_unknown_model():
    with pytest.raises(SystemExit):
        main(["bench", "gan9000"])


class _Compiled:
    def __init__(self, cost):
        self.cost = cost

    def cost_analysis(self):
        return self.cost


@pytest.mark.parametrize("option,value", [("--batch", "abc"), ("--batch", "64,x"), ("--steps-per-dispatch", "0")])
def test_bench_rejects_bad_lists_in_one_line(option, value, capsys):
    assert main(["bench", "dcgan", option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ganjax: error: {option}: expected comma-separated positive integers, got {value!r}"


def test_xla_flops_reads_dict_or_list():
    assert bench.xla_flops(_Compiled({"flops": 10.0})) == 10.0
    assert bench.xla_flops(_Compiled([{"flops": 7.0}])) == 7.0
    assert bench.xla_flops(_Compiled([])) is None


def test_peak_table_and_fraction():
    assert bench.peak_flops("NVIDIA H100 80GB HBM3", "bfloat16")[0] == 800e12
    assert bench.peak_flops("cpu", "float32")[0] is None


def test_table_ratio_to_torch_eager():
    row = dict(model="m", variant="v", dtype="float32", batch=8, k=1, step_ms=1.0, compile_s=1.0,
               peak_mem_bytes=2**20, flops_per_image=1e9, frac_peak=None)
    text = bench.format_table([{**row, "impl": "ganjax", "images_per_s": 30.0},
                               {**row, "impl": "torch-eager", "images_per_s": 20.0},
                               {**row, "impl": "torch-compile", "images_per_s": None}], ratio_to="torch-eager")
    assert "1.50" in text and "failed" in text
    # ganjax in bfloat16 against the twin's float32 default: the "× torch fp32" column
    text = bench.format_table([{**row, "impl": "ganjax", "dtype": "bfloat16", "images_per_s": 90.0},
                               {**row, "impl": "torch-eager", "images_per_s": 20.0}], ratio_to="torch-eager")
    assert text.splitlines()[2].split()[-1] == "4.50"
    # two runs of the same configuration in one table: each ganjax row against its own run's twin
    text = bench.format_table([{**row, "group": "a", "impl": "ganjax", "images_per_s": 30.0},
                               {**row, "group": "a", "impl": "torch-eager", "images_per_s": 20.0},
                               {**row, "group": "b", "impl": "ganjax", "images_per_s": 30.0},
                               {**row, "group": "b", "impl": "torch-eager", "images_per_s": 10.0}],
                              ratio_to="torch-eager")
    assert [line.split()[-2] for line in text.splitlines()[2:]] == ["1.50", "1.00", "3.00", "1.00"]


def test_goals_table_pairs_rows_timed_together(capsys):
    """benchmarks/goals.py: each goal's ratio is the best ganjax row over the PyTorch row of its own group,
    met or not against the issue's target; a goal with no such pair is "not measured"."""
    import goals

    def row(impl, ips, group, model="dcgan-w128", batch=64, dtype="float32", k=1, **kw):
        return dict(impl=impl, images_per_s=ips, group=group, model=model, batch=batch, dtype=dtype, k=k, **kw)

    rows = [row("ganjax", 40_000, "a"), row("ganjax", 60_000, "a", k=20), row("torch-eager", 10_000, "a"),
            row("ganjax", 120_000, "b", dtype="bfloat16", k=20), row("torch-eager", 11_000, "b"),
            row("ganjax", 500_000, "c"),  # another group with no PyTorch row: never a ratio
            row("ganjax", 200_000, "d", batch=1024, dtype="bfloat16", frac_peak=0.21),
            row("torch-eager", 80_000, "d", batch=1024, dtype="bfloat16"),
            row("torch-compile", 90_000, "d", batch=1024, dtype="bfloat16"),
            row("ganjax", 30.0, "e", model="cyclegan-256px-ngf64-b9", batch=1, dtype="bfloat16",
                step_mem_bytes=1200 * 2**20),
            row("torch-eager", 7.5, "e", model="cyclegan-256px-ngf64-b9", batch=1, peak_mem_bytes=2600 * 2**20)]
    b64, b1k, peak, cg1, cg4, memory = goals.goal_lines(rows)
    assert b64[0].startswith("DCGAN b64") and b64[3:] == ["10.91×", "", "yes"]  # 120 000 / 11 000, not 500 000
    assert "bfloat16, K=20" in b64[1]
    assert b1k[2].startswith("90 000 img/s (compile") and b1k[3:] == ["2.22×", "21.0 % (bfloat16)", "no"]
    assert "peak" in peak[0] and peak[3:] == ["21.0 %", "21.0 % (bfloat16)", "no"]
    assert cg1[0].startswith("CycleGAN b1") and cg1[3:] == ["4.00×", "", "yes"]
    assert cg4[0].startswith("CycleGAN b4") and cg4[3] == "not measured"
    assert memory[1:4] == ["1 200 MiB (bfloat16)", "2 600 MiB (eager float32)", "0.46×"] and memory[5] == "yes"
    assert goals.markdown(goals.goal_lines(rows)).count("\n") == 7  # header, rule, six goals


def test_flops_count_one_step_and_fill_rows_measured_elsewhere(tmp_path, capsys, monkeypatch):
    """A K-step dispatch reports the FLOPs of one step per image (a scan's body is counted once), and
    benchmarks/flops_on_cpu.py fills GPU rows (whose cost analysis misses cuDNN) from the CPU's count."""
    import flops_on_cpu

    from ganjax.models import cpu_rules
    monkeypatch.setattr(cpu_rules, "ENABLED", False)  # the model's own FLOPs, as flops_on_cpu counts them
    out = tmp_path / "bench.jsonl"
    args = ["bench", "dcgan", "--batch", "4", "--width", "8", "--dtype", "float32", "--upsample", "conv_transpose",
            "--iters", "1", "--repeats", "1", "--warmup", "1", "--out", str(out)]
    assert main(args + ["--steps-per-dispatch", "1"]) == 0
    assert main(args + ["--steps-per-dispatch", "3", "--fuse", "scan"]) == 0
    one, three = [json.loads(line) for line in out.read_text().splitlines()]
    assert three["flops_per_image"] == pytest.approx(one["flops_per_image"], rel=1e-6)
    gpu_row = {**one, "flops_per_image": 1.0, "peak_flops": 800e12, "device": "NVIDIA H100 80GB HBM3"}
    rows_file = tmp_path / "gpu.jsonl"
    rows_file.write_text(json.dumps(gpu_row) + "\n")
    (filled,) = flops_on_cpu.main([str(rows_file)])
    assert filled["flops_per_image"] == pytest.approx(one["flops_per_image"], rel=1e-6)
    assert filled["frac_peak"] == pytest.approx(one["flops_per_image"] * one["images_per_s"] / 800e12)
    assert cpu_rules.ENABLED is False  # restored to what it was


def test_xla_flag_defaults_respect_what_the_user_set(monkeypatch):
    """ganjax/xla_flags.py adds its GPU defaults to XLA_FLAGS once, never overrides a flag the user named,
    and sets nothing with GANJAX_XLA_DEFAULTS=0."""
    from ganjax import xla_flags
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    monkeypatch.delenv("GANJAX_XLA_DEFAULTS", raising=False)
    assert xla_flags.apply() == list(xla_flags.DEFAULTS)
    assert os.environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2", *xla_flags.DEFAULTS]
    assert xla_flags.apply() == []  # idempotent
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_enable_latency_hiding_scheduler=false")
    assert xla_flags.apply() == [] and os.environ["XLA_FLAGS"] == "--xla_gpu_enable_latency_hiding_scheduler=false"
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setenv("GANJAX_XLA_DEFAULTS", "0")
    assert xla_flags.apply() == [] and os.environ["XLA_FLAGS"] == ""
