"""The original article's DCGAN on handwritten digits (defects fixed; see ganjax/models/dcgan.py).

  ganjax train experiments/dcgan_mnist.py --workdir runs/dcgan                  # offline sklearn digits
  ganjax train experiments/dcgan_mnist.py:runlocal --workdir /tmp/x             # a one-minute smoke run
  ganjax train experiments/dcgan_mnist.py:mnist --workdir runs/m --config.data.source=idx:PATH  # real MNIST
"""
import ml_collections

from ganjax.config import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False, mnist=False)
    c = ml_collections.ConfigDict()
    c.experiment = "dcgan"
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.source = "digits"      # digits | idx:PATH | folder:PATH | tfds:NAME[:split]
    c.data.holdout = 0.2          # the last 20 % are held out for evaluation
    c.data.limit = 0              # use only the first N images (0 = all)
    c.data.resize = False         # folder: resize images of another size to model.image_size
    c.data.tfds_dir = ""

    c.model = ml_collections.ConfigDict()
    c.model.arch = "article"      # article (28x28, the original's layers) | dcgan64 (Radford et al.)
    c.model.image_size = 28
    c.model.channels = 1
    c.model.latent_dim = 100
    c.model.g_width = 64           # the article used 128: 4x the compute, see README
    c.model.d_width = 64
    c.model.upsample = "phase"     # phase (= the article's conv_transpose, computed fast) | conv_transpose
                                   # | subpixel | resize_conv
    c.model.dtype = "float32"      # or bfloat16 (compute; parameters stay float32)
    c.model.d_pack = 1             # PacGAN: D judges this many images at once (channel-stacked); 1 = the article
    c.model.d_mbstd = 0            # minibatch stddev (Karras et al. 2018) over groups of this many in D; 0 = off
    c.model.d_augment = ""         # DiffAugment before D, real and fake: "translation", "cutout", both (comma)
    c.model.info_codes = 0         # InfoGAN (Chen et al. 2016): a one-hot code of this many categories in z, read
                                   # back by a Q head on D (0 = off); sample a category with `ganjax sample --code`
    c.model.clusters = 0           # self-conditioning: G and a projection D conditioned on K k-means clusters of the
                                   # real images, codes drawn with the clusters' shares (0 = off)

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "nonsaturating"  # nonsaturating | minimax | hinge | least_squares | wgan_gp
    c.loss.r1_gamma = 1.0          # > 0 adds (γ/2)·E‖∇D(x)‖² on reals (the article: 0)
    c.loss.gp_weight = 10.0        # used by wgan_gp
    c.loss.info = 1.0              # InfoGAN's weight on the code's cross-entropy (with model.info_codes)

    c.optim = ml_collections.ConfigDict()
    for side in ("g", "d"):
        # lr 8e-4 (the article: 2e-4) and R1 γ 1: experiments/dcgan_mnist_sweep.py, table in docs/quality.md
        c.optim[side] = ml_collections.ConfigDict(dict(lr=8e-4, b1=0.5, b2=0.999, decay_start=1.0))

    c.ema = ml_collections.ConfigDict()  # the generator's moving average (stylegan2-ada's); samples use it
    c.ema.kimg = 20.0             # half-life in thousands of images (20: ~310 steps at batch 64); 0 = off
    c.ema.rampup = 0.05           # half-life at most this fraction of the images seen so far (0 = no ramp-up)

    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = 1               # data-parallel devices: N, or -1 = all (every host's); batch_size is global

    c.train = ml_collections.ConfigDict()
    c.train.steps = 2000              # offline digits: Fréchet ratio 1.84 at 1 000 steps, 1.45 at 1 500, 1.25 at 2 000
    c.train.batch_size = 64
    c.train.steps_per_dispatch = 50   # steps fused into one compiled call (lax.scan)
    c.train.log_every = 50
    c.train.sample_every = 500
    c.train.ckpt_every = 500
    c.train.keep = 3                  # checkpoints kept
    c.train.num_sample_grid = 64      # images in samples/step_XXXXXX.png (fixed noise)
    c.train.on_nan = "stop"           # stop | restore (restore the last good checkpoint, skip ahead)
    c.train.tensorboard = True        # TensorBoard event files in RUN/tensorboard/ (view: tensorboard --logdir runs/)

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = 2000
    c.eval.classifier_steps = 800

    if arg.mnist:                     # real MNIST (give --config.data.source): 9 min on a quiet 2-core CPU
        c.train.steps = 3000
        # self-conditioning on 20 k-means clusters: every part of the data generated as often as it is real
        # (seeds 0/1/2: Fréchet ratio 0.83/0.885/0.75, rarest class 8.05/7.75/8.35 %; without: 1.18 and 5.7 % on
        # seed 0; docs/quality.md)
        c.model.clusters = 20
        c.train.sample_every = c.train.ckpt_every = 600
    if arg.runlocal:
        c.train.steps = 100
        c.train.steps_per_dispatch = 25
        c.train.log_every = 25
        c.train.sample_every = 50
        c.train.ckpt_every = 50
        c.model.g_width = c.model.d_width = 32
        c.eval.num_samples = 200
        c.eval.classifier_steps = 100
    return c
