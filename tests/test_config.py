import json

import pytest

from ganjax import config
from ganjax.config import ConfigError
from tests.conftest import DCGAN, tiny_cfg


def test_defaults_are_the_articles_training_setup():
    cfg = config.load(DCGAN)
    assert cfg.train.batch_size == 64 and cfg.model.latent_dim == 100
    assert cfg.optim.g.lr == 2e-4 and cfg.optim.d.b1 == 0.5
    assert cfg.loss.name == "nonsaturating" and cfg.data.source == "digits"


def test_runlocal_shrinks_the_run():
    full, small = config.load(DCGAN), config.load(DCGAN + ":runlocal")
    assert small.train.steps < full.train.steps and small.model.g_width < full.model.g_width
    assert small.config_file.endswith(":runlocal")


def test_dotted_overrides_are_typed():
    cfg = tiny_cfg(("train.steps", "7"), ("optim.g.lr", "1e-3"), ("model.dtype", "bfloat16"))
    assert cfg.train.steps == 7 and isinstance(cfg.train.steps, int)
    assert cfg.optim.g.lr == 1e-3 and cfg.model.dtype == "bfloat16"


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.stepz' \(did you mean train.steps\?\)"):
        tiny_cfg(("train.stepz", "3"))


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="train.steps"):
        tiny_cfg(("train.steps", "many"))


def test_validation_rejects_bad_values():
    with pytest.raises(ConfigError, match="train.batch_size"):
        tiny_cfg(("train.batch_size", "0"))
    with pytest.raises(ConfigError, match="model.dtype"):
        tiny_cfg(("model.dtype", "float16"))


def test_unknown_config_argument():
    with pytest.raises(ConfigError, match="unknown config argument 'fast'"):
        config.load(DCGAN + ":fast")


def test_json_round_trip():
    cfg = tiny_cfg()
    back = config.from_json(config.to_json(cfg))
    assert json.loads(config.to_json(back)) == json.loads(config.to_json(cfg))


def test_missing_config_file():
    with pytest.raises(ConfigError, match="config file not found"):
        config.load("experiments/nope.py")
