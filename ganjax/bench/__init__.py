"""Throughput of ganjax's full train step (`ganjax bench`; the scripts in benchmarks/ reuse it).

harness.py: runners, interleaved timing, rows and tables; options.py: the shared command-line options;
models.py: what is timed (the article's DCGAN and CycleGAN on synthetic data).
"""
from ganjax.bench.harness import (CPU_NOTE, DEFAULT_OUT, PEAK_FLOPS, JaxRunner, backend, device_info,  # noqa: F401
                                  format_table, jax_peak_memory, make_row, measure, peak_flops, rss_peak_bytes,
                                  write_jsonl, xla_flops, xla_step_memory)
from ganjax.bench.options import add_arguments, parse_list, resolve_defaults  # noqa: F401
