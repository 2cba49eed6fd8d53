"""Feature networks for the style (Gram matrix) and content loss terms of the translation recipes.

By default the features are the model's own discriminator's: the outputs of its convolutions except
the last (the logit layer), computed in inference mode (batch norm uses its running averages) with the
current D parameters. Instead, ``loss.feature_net = "package.module:attr"`` names any importable Flax
module (an instance, or a class / zero-argument function returning one) whose parameters are read from
``loss.feature_params`` (an ``.npz`` file whose keys are "/"-joined paths such as
``Conv_0/kernel``, optionally under ``params/``). The user module gets images in [-1, 1] (NHWC) and is
called as ``module.apply({"params": p}, x)``.

``loss.feature_layers`` ("" = every convolution, ``nn.Conv`` or ``layers.Conv``; "a,b" = the modules whose path or name is listed)
selects the captured activations, via Flax's ``capture_intermediates``.

A run folder is data: opening a run (sample, eval, explain, translate, ``ganjax.load_run``) builds its
recipe from config.json but never imports ``loss.feature_net``; only building the training step does.
"""
from __future__ import annotations

import functools
import importlib
import os
import re

import flax.linen as nn
import numpy as np
from flax import traverse_util

from ganjax.config import ConfigError
from ganjax.models.layers import Conv


_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def import_attr(spec: str):
    """`package.module:attr` → the object (a Flax module instance, or called once if it is a class)."""
    mod_name, colon, attr = spec.partition(":")
    if not colon or not mod_name or not attr:
        raise ConfigError(f"loss.feature_net must look like 'package.module:attr', got {spec!r}")
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import loss.feature_net {spec!r}: {e}") from None
    if not isinstance(obj, nn.Module) and callable(obj):
        obj = obj()
    if not isinstance(obj, nn.Module):
        raise ConfigError(f"loss.feature_net {spec!r} is not a Flax linen module")
    return obj


def load_params(path: str) -> dict:
    """Nested params from an ``.npz`` file of "/"-joined keys (a top-level ``params`` level is removed)."""
    path = os.path.expanduser(path)
    if not path:
        raise ConfigError("loss.feature_net is set but loss.feature_params (an .npz file) is empty")
    if not os.path.isfile(path):
        raise ConfigError(f"loss.feature_params not found: {path}")
    try:
        with np.load(path) as f:
            flat = {tuple(k.split("/")): np.asarray(f[k]) for k in f.files}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read loss.feature_params {path}: {e}") from None
    tree = traverse_util.unflatten_dict(flat)
    return tree["params"] if set(tree) == {"params"} else tree


class FeatureExtractor:
    """Lists of activations of an image batch, for ``ganjax.losses.style_loss`` / ``content_loss``."""

    def __init__(self, lcfg):
        self.spec = lcfg.get("feature_net", "")
        if self.spec and not _SPEC.fullmatch(self.spec):  # checked as text; nothing is imported here
            raise ConfigError(f"loss.feature_net must look like 'package.module:attr', got {self.spec!r}")
        self.params_path = lcfg.get("feature_params", "")
        self.layers = tuple(s.strip() for s in lcfg.get("feature_layers", "").split(",") if s.strip())

    # A run folder is data: building a recipe from a run's config.json (sample, eval, explain, translate)
    # never imports `loss.feature_net`. Only the training loss needs the user's module, so it is imported
    # when the training step is built (recipe.device_data() reads `params`, the step calls the extractor),
    # and training takes its config from an experiment file and --config overrides, not from a run folder.
    @functools.cached_property
    def module(self) -> nn.Module | None:
        return import_attr(self.spec) if self.spec else None

    @functools.cached_property
    def params(self) -> dict | None:
        """The user module's parameters (None for D's own features); imports the module first, so that a
        bad feature_net is reported before training writes anything."""
        if not self.spec:
            return None
        self.module  # noqa: B018 (import and check it)
        return load_params(self.params_path)

    @property
    def own(self) -> bool:
        """True when the discriminator itself is the feature network (it then sees D's input layout)."""
        return not self.spec

    def _wanted(self, mdl: nn.Module, method: str) -> bool:
        if method != "__call__":
            return False
        if not self.layers:
            return isinstance(mdl, (nn.Conv, Conv))
        path = "/".join(str(p) for p in mdl.scope.path) if mdl.scope is not None else ""
        return mdl.name in self.layers or path in self.layers

    def __call__(self, run, d_name: str, x, params=None) -> list:
        """Activations of ``x``: D ``d_name``'s (with ``run``'s D parameters) or the user module's.

        ``params`` overrides the user module's parameters (the recipes pass them through the step's
        data so that they are an argument of the compiled step rather than a constant).
        """
        if self.own:
            module = run.modules[d_name]
            variables = {"params": run.params[d_name], **run.model_state.get(d_name, {})}
            kwargs = {"train": False}
        else:
            module, kwargs = self.module, {}
            variables = {"params": self.params if params is None else params}
        _, state = module.apply(variables, x, capture_intermediates=self._wanted,
                                mutable=["intermediates"], **kwargs)
        flat = traverse_util.flatten_dict(state.get("intermediates", {}))
        feats = [a for v in flat.values() for a in (v if isinstance(v, tuple) else (v,))]
        if self.own and not self.layers:
            feats = feats[:-1]  # the logit convolution
        if not feats:
            raise ConfigError(f"loss.feature_layers {','.join(self.layers)!r} matched no layer of the "
                              f"feature network")
        return feats
