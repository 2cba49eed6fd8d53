"""`ganjax explain` / `ganjax attack` end to end on a tiny DCGAN run (trained once per module)."""
import json
import os
import shutil

import pytest

from ganjax.commands import main


def snapshot(run, skip=("figures",)):
    """{relative path: (size, mtime_ns)} of every file in the run outside `skip` folders."""
    out = {}
    for root, dirs, files in os.walk(run):
        rel_root = os.path.relpath(root, run)
        if rel_root.split(os.sep)[0] in skip:
            continue
        for f in files:
            st = os.stat(os.path.join(root, f))
            out[os.path.normpath(os.path.join(rel_root, f))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("explain") / "dcgan")
    assert main(["train", "experiments/dcgan_mnist.py:runlocal", "--workdir", workdir, "--quiet",
                 "--config.train.steps=10", "--config.train.steps_per_dispatch=10",
                 "--config.train.log_every=10", "--config.train.sample_every=10",
                 "--config.train.ckpt_every=10", "--config.data.limit=300"]) == 0
    return workdir


def _check_untouched(run, before, allowed=("report.html",), skip=("figures",)):
    after = snapshot(run, skip)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= set(allowed), changed


def test_discriminator_ig_writes_figures_and_report(run, capsys):
    before = snapshot(run)
    assert main(["explain", run, "--n", "3", "--steps", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "completeness" in out and "median" in out
    fig = os.path.join(run, "figures", "explain_discriminator_ig.png")
    assert os.path.getsize(fig) > 1000
    with open(os.path.join(run, "figures", "explain_discriminator_ig.json")) as f:
        res = json.load(f)
    comp = res["real (held-out)"]["completeness"]
    assert comp["n"] == 3 and comp["median_ratio"] >= 0 and len(res["generated"]["logits"]) == 3
    with open(os.path.join(run, "report.html")) as f:
        assert "figures/explain_discriminator_ig.png" in f.read()
    _check_untouched(run, before)


@pytest.mark.parametrize("args,name", [
    (["--method", "saliency"], "explain_discriminator_saliency.png"),
    (["--method", "smoothgrad", "--baseline", "blur"], "explain_discriminator_smoothgrad.png"),
    (["--layer", "Conv_1", "--steps", "4", "--sign", "positive"], "explain_discriminator_ig_Conv_1.png"),
])
def test_discriminator_variants_to_output_dir(run, tmp_path, args, name):
    before = snapshot(run, skip=())
    assert main(["explain", run, "--n", "2", "--quiet", "--output", str(tmp_path)] + args) == 0
    assert os.path.exists(tmp_path / name)
    _check_untouched(run, before, allowed=(), skip=())  # --output elsewhere: the run is untouched


def test_generator_target(run, capsys):
    before = snapshot(run)
    assert main(["explain", run, "--what", "generator", "--target", "region:10:18,10:18", "--n", "3",
                 "--steps", "8", "--quiet"]) == 0
    assert "top latent dims" in capsys.readouterr().out
    for f in ("explain_generator_ig.png", "explain_generator_ig_strips.png", "explain_generator_ig.json"):
        assert os.path.exists(os.path.join(run, "figures", f))
    with open(os.path.join(run, "figures", "explain_generator_ig.json")) as f:
        assert len(json.load(f)["top_dims"]) == 20
    _check_untouched(run, before)


def test_layers_and_latent(run, capsys):
    before = snapshot(run)
    assert main(["explain", run, "--what", "layers", "--n", "16", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "probe_acc" in out and "Conv_0" in out
    with open(os.path.join(run, "figures", "explain_layers_stats.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("layer,shape,mean_real") and len(lines) == 4  # Conv_0, Conv_1, Dense_0
    assert main(["explain", run, "--what", "latent", "--n", "2", "--quiet"]) == 0
    for f in ("explain_layers_features.png", "explain_layers_stats.png", "explain_layers_top_activating.png",
              "explain_latent_interpolation.png", "explain_latent_directions.png", "explain_latent.json"):
        assert os.path.exists(os.path.join(run, "figures", f)), f
    _check_untouched(run, before)


def test_attack(run, capsys):
    before = snapshot(run)
    assert main(["attack", run, "--method", "pgd", "--eps", "0.05,0.2", "--iters", "3", "--n", "8",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out
    with open(os.path.join(run, "figures", "attack_pgd_linf.json")) as f:
        res = json.load(f)
    assert res["eps"] == [0.0, 0.05, 0.2] and len(res["accuracy"]) == 3
    assert res["accuracy"][-1] <= res["accuracy"][0]
    assert main(["attack", run, "--method", "fgsm", "--eps", "0.1", "--n", "4", "--quiet"]) == 0
    for f in ("attack_pgd_linf.png", "attack_pgd_linf_examples.png", "attack_fgsm_linf.png"):
        assert os.path.exists(os.path.join(run, "figures", f))
    _check_untouched(run, before)


BAD = [
    (["explain", "{run}", "--what", "nonsense"], "valid: discriminator, generator"),
    (["explain", "{run}", "--method", "lime"], "valid: ig, saliency, gradxinput, smoothgrad"),
    (["explain", "{run}", "--baseline", "purple"], "valid: black, blur, noise, mean, zeros"),
    (["explain", "{run}", "--what", "generator", "--target", "region:20:40,0:5"], "28x28"),
    (["explain", "{run}", "--what", "generator", "--target", "pixel:3,99"], "28x28"),
    (["explain", "{run}", "--what", "generator", "--target", "channel:1"], "1 channel"),
    (["explain", "{run}", "--what", "generator", "--target", "middle"], "cannot parse --target"),
    (["explain", "{run}", "--what", "translator"], "valid: discriminator, generator, layers, latent"),
    (["explain", "{run}", "--layer", "Conv_9", "--n", "1", "--steps", "2"], "valid layers: Conv_0, Conv_1"),
    (["explain", "{run}", "--layer", "Conv_0", "--method", "saliency"], "--layer needs --method ig"),
    (["attack", "{run}", "--eps=0.1,-0.01"], "--eps must be >= 0"),
    (["attack", "{run}", "--eps", "a,b"], "cannot parse --eps"),
    (["attack", "{run}", "--method", "cw"], "valid: fgsm, pgd"),
    (["attack", "{run}", "--method", "fgsm", "--norm", "l2"], "use --norm linf"),
]


@pytest.mark.parametrize("argv,needle", BAD, ids=[" ".join(a[2:]) for a, _ in BAD])
def test_bad_input_is_one_line_error(run, capsys, argv, needle):
    before = snapshot(run, skip=())
    capsys.readouterr()
    assert main([a.format(run=run) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganjax: error:") and "\n" not in err, err
    assert needle in err, err
    _check_untouched(run, before, allowed=(), skip=())


def test_run_without_checkpoint(run, tmp_path, capsys):
    empty = tmp_path / "untrained"
    empty.mkdir()
    shutil.copy(os.path.join(run, "config.json"), empty)
    for argv in (["explain", str(empty)], ["attack", str(empty)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "no checkpoints" in err and "\n" not in err, err
    assert os.listdir(empty) == ["config.json"]
    assert main(["explain", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_ganspace_matches_library_principal_directions():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ganjax.interpret.latent import principal_directions
    from ganjax.interpret.latent_report import ganspace

    w = jax.random.normal(jax.random.key(1), (8, 40))
    f = lambda z: jnp.tanh(z @ w) * jnp.linspace(3.0, 0.1, 40)
    d1, r1 = principal_directions(f, jax.random.PRNGKey(2), 8, 400, 3, layer_fn="output")
    d2, r2 = ganspace(f, jax.random.PRNGKey(2), 8, 400, 3)
    np.testing.assert_allclose(r2, r1, rtol=1e-3)
    np.testing.assert_allclose(np.abs(np.sum(d1 * d2, axis=1)), 1.0, atol=1e-3)
