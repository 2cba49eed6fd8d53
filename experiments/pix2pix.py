"""pix2pix (Isola et al. 2017) with the defaults of junyanz/pytorch-CycleGAN-and-pix2pix.

  ganjax train experiments/pix2pix.py --workdir runs/facades --config.data.root=datasets/facades
  ganjax train experiments/pix2pix.py:runlocal --workdir runs/colorize     # built-in `colorize`, CPU minutes
  ganjax eval runs/colorize                                                # PSNR / SSIM vs the identity
  ganjax translate runs/colorize --input photos/ --output out/

A user folder holds train/ and test/ (or val/) with A|B side by side, or A/{train,test} and
B/{train,test} with matching file names. Without data.root the built-in paired task `colorize`
(grayscale → colour) is used. The reference trains 200 epochs at batch 1 (facades: 400 images).
"""
import ml_collections

from ganjax.config import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False)
    c = ml_collections.ConfigDict()
    c.experiment = "pix2pix"
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.root = ""               # paired folder ("" = data.builtin)
    c.data.builtin = "colorize"    # colorize (paired, offline, with ground truth)
    c.data.direction = "AtoB"      # AtoB | BtoA (swap the domains)
    c.data.channels = 3
    c.data.load_size = 286
    c.data.crop_size = 256
    c.data.flip = True
    c.data.max_images = 0

    c.model = ml_collections.ConfigDict()
    c.model.generator = "unet"     # unet (unet_256: depth from the crop size) | resnet
    c.model.ngf = 64
    c.model.ndf = 64
    c.model.n_blocks = 9           # resnet only
    c.model.n_layers_d = 3
    c.model.norm = "batch"
    c.model.netd = "patch"         # patch (PatchGAN, n_layers_d; the reference's basic / n_layers) | pixel (1x1)
    c.model.norm_d = ""            # the discriminator's norm ("" = model.norm, as the reference)
    c.model.d_batch = "separate"   # batch norm in D: real and fake as separate batches (the reference) | joint
    c.model.dropout = True         # the U-Net's dropout 0.5 (train only)
    c.model.upsample = "phase"  # phase: the reference's ConvTranspose2d, same parameters, computed fast (9x on an
    #                             H100, 30x on CPU) | conv_transpose (the same layer as XLA runs it) | subpixel | resize_conv
    c.model.colorization = False   # the reference's colorization model: G maps luma to chroma (RGB data)
    c.model.dtype = "float32"

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "nonsaturating"  # BCE with logits: the reference's "vanilla" GAN loss
    c.loss.lambda_L1 = 100.0       # weight of the reconstruction term to the true B
    c.loss.recon = "l1"            # l1 (the reference: the median colour) | l2 (squared: the mean, what PSNR rewards)
    c.loss.style_weight = 0.0      # Gram-matrix style loss vs the true B (0 = off)
    c.loss.content_weight = 0.0    # feature content loss vs the true B (0 = off)
    c.loss.feature_match = 0.0     # feature matching (Salimans et al. 2016): batch-mean features vs B (0 = off)
    c.loss.feature_net = ""        # "" = D's own features (on concat(A, ·)), or "package.module:attr"
    c.loss.feature_params = ""
    c.loss.feature_layers = ""

    c.optim = ml_collections.ConfigDict()
    for side in ("g", "d"):
        c.optim[side] = ml_collections.ConfigDict(dict(lr=2e-4, b1=0.5, b2=0.999, decay_start=0.5))

    c.ema = ml_collections.ConfigDict()  # the generator's moving average (stylegan2-ada's); samples use it
    c.ema.kimg = 0.5              # half-life in thousands of images (0.5: 500 steps at batch 1); 0 = off
    c.ema.rampup = 0.05           # half-life at most this fraction of the images seen so far (0 = no ramp-up)

    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = 1               # data-parallel devices: N, or -1 = all (every host's); batch_size is global

    c.train = ml_collections.ConfigDict()
    c.train.steps = 80_000
    c.train.batch_size = 1
    c.train.steps_per_dispatch = 50
    c.train.log_every = 100
    c.train.sample_every = 5000
    c.train.ckpt_every = 5000
    c.train.keep = 3
    c.train.num_sample_grid = 6    # test images shown (one row of three panels each)
    c.train.on_nan = "stop"
    c.train.tensorboard = True     # TensorBoard event files in RUN/tensorboard/ (view: tensorboard --logdir runs/)

    if arg.runlocal:  # the built-in task on a CPU in minutes (measured numbers: docs/quality.md)
        c.data.load_size = c.data.crop_size = 32  # flips only: the built-in crops are already random
        c.model.ngf = c.model.ndf = 16
        c.model.upsample = "subpixel"  # XLA:CPU is ~30x slower on transposed-conv weight gradients
        c.model.colorization = True  # the built-in task is colorize: G maps luma to chroma
        c.optim.g.lr = 1e-3  # few steps: 5x the reference's 2e-4 for G; D keeps 2e-4
        c.loss.lambda_L1 = 20000.0  # PSNR rewards the L1 (median) colour over D's vivid ones (2 000: -0.17 dB)
        c.ema.kimg, c.ema.rampup = 2.0, 0.25  # vs 0.5 kimg: the same mean, a third the spread over seeds
        c.train.steps = 2500
        c.train.batch_size = 8  # 4: 27.27 dB mean over 3 seeds; 8: 27.98 (now 27.86, 3.5-3.7 CPU-min)
        c.train.steps_per_dispatch = 5
        c.train.log_every = 50
        c.train.sample_every = 500
        c.train.ckpt_every = 500
    return c
