"""Tools that explain a trained GAN: attributions, adversarial probes, latent directions, features.

Everything is a pure function over arrays; attribution and attack functions are jitted and vmapped.
Figures live in ``ganjax.interpret.figures`` (imported lazily so matplotlib loads only when used).
"""
from ganjax.interpret.attacks import fgsm, pgd, robustness_curve
from ganjax.interpret.features import (ablation_effect, capture, channel_grid, layer_names,
                                       layer_statistics, top_activating)
from ganjax.interpret.integrated_gradients import (baseline_black, baseline_blur, baseline_mean,
                                                   baseline_uniform, baseline_zeros,
                                                   integrated_gradients,
                                                   make_integrated_gradients, path_nodes)
from ganjax.interpret.latent import direction_strips, interpolate, principal_directions
from ganjax.interpret.saliency import (gradient_x_input, layer_integrated_gradients, list_layers,
                                       saliency, smoothgrad)

__all__ = [
    "integrated_gradients", "make_integrated_gradients", "path_nodes",
    "baseline_black", "baseline_zeros", "baseline_blur", "baseline_uniform", "baseline_mean",
    "saliency", "gradient_x_input", "smoothgrad", "layer_integrated_gradients", "list_layers",
    "fgsm", "pgd", "robustness_curve",
    "interpolate", "principal_directions", "direction_strips",
    "capture", "layer_names", "channel_grid", "top_activating", "layer_statistics",
    "ablation_effect",
]
