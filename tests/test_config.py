import os
import json

import pytest

from ganjax import config
from ganjax.config import ConfigError
from tests.conftest import DCGAN, tiny_cfg


def test_defaults_are_the_articles_setup_with_the_swept_optimizer():
    """The article's batch, latent size and loss; lr 8e-4 and R1 γ 1 from experiments/dcgan_mnist_sweep.py."""
    cfg = config.load(DCGAN)
    assert cfg.train.batch_size == 64 and cfg.model.latent_dim == 100 and cfg.model.arch == "article"
    assert cfg.optim.g.lr == cfg.optim.d.lr == 8e-4 and cfg.optim.d.b1 == 0.5 and cfg.loss.r1_gamma == 1.0
    assert cfg.loss.name == "nonsaturating" and cfg.data.source == "digits" and cfg.train.steps == 2000
    mnist = config.load(DCGAN + ":mnist")  # the README's real-MNIST run: the same, longer, self-conditioned
    assert mnist.train.steps == 3000 and mnist.optim.g.lr == 8e-4 and mnist.train.ckpt_every == 600
    assert mnist.model.clusters == 20 and cfg.model.clusters == 0 and mnist.model.arch == "article"


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


# The range table (ganjax.config.RANGES): one bad value per rule, with the one-line message it gives.
CYCLEGAN = DCGAN.replace("dcgan_mnist.py", "cyclegan.py")
PIX2PIX = DCGAN.replace("dcgan_mnist.py", "pix2pix.py")
BAD_VALUES = [
    (DCGAN, "seed", "1e30", "config key 'seed' must be in [0, 2147483648), got 1000000000000000019884624838656"),
    (DCGAN, "seed", "18446744073709551617", "config key 'seed' must be in [0, 2147483648), got 18446744073709551617"),
    (DCGAN, "seed", "-1", "config key 'seed' must be in [0, 2147483648), got -1"),
    (DCGAN, "optim.d.lr", "-1", "config key 'optim.d.lr' must be positive, got -1"),
    (DCGAN, "optim.g.lr", "0", "config key 'optim.g.lr' must be positive, got 0"),
    (DCGAN, "optim.d.b1", "2", "config key 'optim.d.b1' must be in [0, 1), got 2"),
    (DCGAN, "optim.g.b2", "1", "config key 'optim.g.b2' must be in [0, 1), got 1"),
    (DCGAN, "optim.g.decay_start", "-1", "config key 'optim.g.decay_start' must be in [0, 1], got -1"),
    (DCGAN, "data.holdout", "nan", "config key 'data.holdout' must be a finite number, got nan"),
    (DCGAN, "data.holdout", "-0.5", "config key 'data.holdout' must be in [0, 1), got -0.5"),
    (DCGAN, "data.holdout", "1", "config key 'data.holdout' must be in [0, 1), got 1"),
    (DCGAN, "data.limit", "-1", "config key 'data.limit' must be >= 0, got -1"),
    (DCGAN, "model.image_size", "0", "config key 'model.image_size' must be positive, got 0"),
    (DCGAN, "model.image_size", "-28", "config key 'model.image_size' must be positive, got -28"),
    (DCGAN, "model.latent_dim", "0", "config key 'model.latent_dim' must be positive, got 0"),
    (DCGAN, "model.g_width", "0", "config key 'model.g_width' must be positive, got 0"),
    (DCGAN, "model.channels", "2", "config key 'model.channels' is 2; valid: 1, 3"),
    (DCGAN, "loss.r1_gamma", "-5", "config key 'loss.r1_gamma' must be >= 0, got -5"),
    (DCGAN, "loss.gp_weight", "inf", "config key 'loss.gp_weight' must be a finite number, got inf"),
    (DCGAN, "ema.kimg", "-1", "config key 'ema.kimg' must be >= 0, got -1"),
    (DCGAN, "ema.rampup", "-0.1", "config key 'ema.rampup' must be >= 0, got -0.1"),
    (DCGAN, "mesh.data", "0", "config key 'mesh.data' must be positive or -1 (every device), got 0"),
    (DCGAN, "train.steps", "0", "config key 'train.steps' must be positive, got 0"),
    (DCGAN, "train.batch_size", "0", "config key 'train.batch_size' must be positive and below 2147483648, got 0"),
    (DCGAN, "train.batch_size", "1e12", "config key 'train.batch_size' must be positive and below 2147483648, got 1000000000000"),
    (DCGAN, "train.steps_per_dispatch", "0", "config key 'train.steps_per_dispatch' must be positive, got 0"),
    (DCGAN, "train.log_every", "0", "config key 'train.log_every' must be positive, got 0"),
    (DCGAN, "train.sample_every", "-1", "config key 'train.sample_every' must be positive, got -1"),
    (DCGAN, "train.ckpt_every", "0", "config key 'train.ckpt_every' must be positive, got 0"),
    (DCGAN, "train.keep", "0", "config key 'train.keep' must be positive, got 0"),
    (DCGAN, "train.keep", "-1", "config key 'train.keep' must be positive, got -1"),
    (DCGAN, "model.d_pack", "0", "config key 'model.d_pack' must be positive, got 0"),
    (DCGAN, "train.num_sample_grid", "0", "config key 'train.num_sample_grid' must be positive, got 0"),
    (DCGAN, "eval.num_samples", "0", "config key 'eval.num_samples' must be positive, got 0"),
    (DCGAN, "eval.classifier_steps", "0", "config key 'eval.classifier_steps' must be positive, got 0"),
    (CYCLEGAN, "data.load_size", "0", "config key 'data.load_size' must be positive, got 0"),
    (CYCLEGAN, "data.crop_size", "-4", "config key 'data.crop_size' must be positive, got -4"),
    (CYCLEGAN, "data.max_images", "-1", "config key 'data.max_images' must be >= 0, got -1"),
    (CYCLEGAN, "data.channels", "4", "config key 'data.channels' is 4; valid: 1, 3"),
    (CYCLEGAN, "model.ngf", "0", "config key 'model.ngf' must be positive, got 0"),
    (CYCLEGAN, "model.ndf", "0", "config key 'model.ndf' must be positive, got 0"),
    (CYCLEGAN, "model.n_blocks", "-1", "config key 'model.n_blocks' must be >= 0, got -1"),
    (CYCLEGAN, "model.n_layers_d", "0", "config key 'model.n_layers_d' must be positive, got 0"),
    (CYCLEGAN, "model.pool_size", "-1", "config key 'model.pool_size' must be >= 0, got -1"),
    (CYCLEGAN, "loss.lambda_A", "-10", "config key 'loss.lambda_A' must be >= 0, got -10"),
    (CYCLEGAN, "loss.lambda_identity", "nan", "config key 'loss.lambda_identity' must be a finite number, got nan"),
    (CYCLEGAN, "loss.style_weight", "-1", "config key 'loss.style_weight' must be >= 0, got -1"),
    (PIX2PIX, "loss.lambda_L1", "-100", "config key 'loss.lambda_L1' must be >= 0, got -100"),
    (PIX2PIX, "loss.content_weight", "-inf", "config key 'loss.content_weight' must be a finite number, got -inf"),
]


@pytest.mark.parametrize("path,key,value,message", BAD_VALUES, ids=[f"{k}={v}" for _, k, v, _ in BAD_VALUES])
def test_every_range_rule_refuses_with_one_line(path, key, value, message):
    with pytest.raises(ConfigError) as e:
        config.load(path, [(key, value)])
    assert str(e.value) == message


def test_every_number_of_every_experiment_has_a_declared_range():
    """A new numeric config key needs a line in ganjax.config.RANGES (or CHOICES)."""
    import glob
    import os

    for path in sorted(glob.glob(os.path.join(os.path.dirname(DCGAN), "*.py"))):
        for arg in ("", ":runlocal"):
            cfg = config.load(path + arg)
            missing = [k for k, v in config.flat(cfg).items() if isinstance(v, (int, float))
                       and not isinstance(v, bool) and config.range_of(k) is None and k not in config.CHOICES]
            assert missing == [], f"{path}{arg}: no range for {missing}"


def test_edge_values_are_accepted():
    cfg = config.load(DCGAN, [("seed", "2147483647"), ("optim.g.b1", "0"), ("optim.g.decay_start", "0"),
                              ("optim.d.decay_start", "1"), ("data.holdout", "0"), ("loss.r1_gamma", "0"),
                              ("mesh.data", "-1"), ("ema.kimg", "0"), ("train.keep", "1")])
    assert cfg.seed == 2 ** 31 - 1 and cfg.mesh.data == -1


def test_batch_that_cannot_fit_in_memory_is_refused():
    """Below the int32 bound but beyond any machine's memory: refused from a lower-bound estimate."""
    with pytest.raises(ConfigError, match=r"^config key 'train.batch_size' is 2000000000: one layer's "
                                          r"activations alone need [\d,]+ GiB per device, more than this "
                                          r"machine's [\d,]+ GiB of memory$"):
        config.load(DCGAN, [("train.batch_size", "2e9")])
    assert config.load(DCGAN, [("train.batch_size", "4096")]).train.batch_size == 4096


def test_integers_are_parsed_exactly():
    cfg = config.load(DCGAN, [("seed", "1e3"), ("train.steps", "123456789")])
    assert cfg.seed == 1000 and cfg.train.steps == 123456789
    for text in ("2.5", "nan", "inf"):
        with pytest.raises(ConfigError, match=f"config key 'seed': expected int, got '{text}'"):
            config.load(DCGAN, [("seed", text)])


@pytest.mark.parametrize("key", [".train.steps", "train..steps", "train.steps."])
def test_empty_key_component_names_the_key(key):
    with pytest.raises(ConfigError) as e:
        config.load(DCGAN, [(key, "5")])
    assert str(e.value) == f"config key {key!r} has an empty component; write e.g. train.steps"


@pytest.mark.parametrize("text,message", [
    ("import ml_collections\n\ndef get_config(arg=None)\n    return None\n", "{path}:3: expected ':'"),
    ("def get_config(arg=None):\n  x = 1\n    return x\n", "{path}:3: unexpected indent"),
    ("import no_such_module_xyz\n", "{path}:1: ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ("def get_config(arg=None):\n    return 1 / 0\n", "{path}:2: ZeroDivisionError: division by zero"),
    ("def get_config():\n    pass\n", "{path}: TypeError: get_config() takes 0 positional arguments but 1 was given"),
    ("def get_config(arg=None):\n    return {}\n", "{path}: get_config must return an ml_collections.ConfigDict"),
])
def test_config_file_errors_are_one_line_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "x.py"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(str(path))
    assert str(e.value) == message.format(path=path)


def test_seed_arguments():
    import argparse

    assert config.seed_arg("7") == 7
    for text in ("99999999999999999999", "-1", "2147483648", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"must be an integer in \[0, 2147483648\)"):
            config.seed_arg(text)


def test_config_command_prints_every_key_with_its_comment(capsys):
    from ganjax.commands import main

    exp = os.path.join(os.path.dirname(__file__), "..", "experiments")
    assert main(["config", os.path.join(exp, "dcgan_mnist.py"), "--config.train.steps=7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# ") and "set any with --config.KEY=VALUE" in lines[0]
    by_key = {line.split(" = ")[0]: line for line in lines[1:]}
    assert by_key["train.steps"].split("#")[0].strip() == "train.steps = 7"
    assert "(default 2000)" in by_key["train.steps"]  # an override shows the experiment's default
    assert by_key["train.keep"].endswith("# checkpoints kept")
    assert "model.g_width" in by_key and "config_file" not in by_key
    assert main(["config", os.path.join(exp, "pix2pix.py")]) == 0
    out = {line.split(" = ")[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "#" not in out["optim.g.lr"]  # the :runlocal block's comment describes its own value, not this one
    assert "| subpixel | resize_conv" in out["model.upsample"]  # a comment continued on the next line
