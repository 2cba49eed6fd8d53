"""Sweeps: members of one experiment trained together, those that differ only in numbers in one vmapped
program (members.py: expand, classify, plan; runner.py: training; summary.py: table, CSV, figure)."""
from ganjax.sweep.members import Member, Program, SweepError, classify, expand, plan
from ganjax.sweep.runner import run_sweep

__all__ = ["Member", "Program", "SweepError", "classify", "expand", "plan", "run_sweep"]
