"""The PyTorch twin of a ganjax model by name: torch_twin.py (DCGAN) and torch_twin_cyclegan.py (CycleGAN)."""
from __future__ import annotations

from torch_twin import DCGANTwin
from torch_twin_cyclegan import CycleGANTwin


def make_twin(model: str, **kwargs):
    """DCGANTwin(**kwargs) for "dcgan", CycleGANTwin(**kwargs) for "cyclegan"."""
    return DCGANTwin(**kwargs) if model == "dcgan" else CycleGANTwin(**kwargs)
