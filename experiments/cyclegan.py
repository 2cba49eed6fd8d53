"""CycleGAN (Zhu et al. 2017) with the defaults of junyanz/pytorch-CycleGAN-and-pix2pix.

  ganjax train experiments/cyclegan.py --workdir runs/horse2zebra --config.data.root=datasets/horse2zebra
  ganjax train experiments/cyclegan.py:runlocal --workdir runs/tone        # built-in `tone` task, CPU minutes
  ganjax eval runs/tone                                                    # PSNR / SSIM vs the identity
  ganjax translate runs/tone --input photos/ --output out/                 # any image size

A user folder holds trainA/ trainB/ testA/ testB/. Without data.root the offline built-in task
data.builtin is used (`tone`: unpaired photo → sepia-like tone, with ground truth for evaluation).
The reference's 200 epochs of ~1 000 images at batch 1 are ~200 000 steps; its learning rate is constant
for the first half and decays linearly to 0 over the second (optim.*.decay_start = 0.5).
"""
import ml_collections

from ganjax.config import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False)
    c = ml_collections.ConfigDict()
    c.experiment = "cyclegan"
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.root = ""               # folder with trainA trainB testA testB ("" = data.builtin)
    c.data.builtin = "tone"        # tone | colorize (offline tasks with ground truth)
    c.data.channels = 3            # 3 (grayscale files become RGB) or 1
    c.data.load_size = 286         # images are resized to load_size², then randomly cropped
    c.data.crop_size = 256
    c.data.flip = True             # random horizontal flips
    c.data.max_images = 0          # read at most N files per folder (0 = all)

    c.model = ml_collections.ConfigDict()
    c.model.generator = "resnet"   # resnet (resnet_9blocks) | unet
    c.model.ngf = 64
    c.model.ndf = 64
    c.model.n_blocks = 9
    c.model.n_layers_d = 3         # 70x70 PatchGAN
    c.model.norm = "instance"      # instance | batch | none
    c.model.netd = "patch"         # patch (PatchGAN, n_layers_d; the reference's basic / n_layers) | pixel (1x1)
    c.model.norm_d = ""            # the discriminator's norm ("" = model.norm, as the reference)
    c.model.d_batch = "separate"   # batch norm in D: real and fake as separate batches (the reference) | joint
    c.model.dropout = False
    c.model.upsample = "phase"  # phase: the reference's ConvTranspose2d, same parameters, computed fast (9x on an
    #                             H100, 30x on CPU) | conv_transpose (the same layer as XLA runs it) | subpixel | resize_conv
    c.model.pool_size = 50         # image history per domain (0 = none)
    c.model.dtype = "float32"      # or bfloat16 (compute; parameters stay float32)

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "least_squares"  # LSGAN, the reference's default; any of ganjax.losses.ADVERSARIAL
    c.loss.lambda_A = 10.0         # cycle A→B→A
    c.loss.lambda_B = 10.0         # cycle B→A→B
    c.loss.lambda_identity = 0.5   # identity L1, times lambda_A / lambda_B (0 = off)
    c.loss.cycle_noise_A = 0.0     # std of Gaussian noise on G_A(A) before G_B in the A→B→A cycle (0 = off)
    c.loss.cycle_noise_B = 0.0     # the same on G_B(B) in B→A→B
    c.loss.cycle_space_A = "rgb"   # A→B→A measured in rgb, or luma (B holds no colour to bring back: sepia, grey)
    c.loss.cycle_space_B = "rgb"   # the same for B→A→B
    c.loss.histogram_A = 0.0       # per-channel histogram loss on G_A(A): its levels vs B's (0 = off)
    c.loss.histogram_B = 0.0       # the same on G_B(B) vs A's
    c.loss.histogram_memory = 0.0  # > 0: vs the target's whole training set, via a running histogram of G's
    #                                outputs with this momentum per step (0: vs the target's batch)
    c.loss.style_weight = 0.0      # Gram-matrix style loss vs the target domain (0 = off)
    c.loss.content_weight = 0.0    # feature content loss vs the input (0 = off)
    c.loss.feature_match = 0.0     # feature matching (Salimans et al. 2016): batch-mean features vs B (0 = off)
    c.loss.feature_net = ""        # "" = the discriminators' own features, or "package.module:attr"
    c.loss.feature_params = ""     # .npz params of feature_net
    c.loss.feature_layers = ""     # "" = every nn.Conv (D: all but the logit layer), or "name,name"

    c.optim = ml_collections.ConfigDict()
    for side in ("g", "d"):
        c.optim[side] = ml_collections.ConfigDict(dict(lr=2e-4, b1=0.5, b2=0.999, decay_start=0.5))

    c.ema = ml_collections.ConfigDict()  # the generators' moving average (stylegan2-ada's); samples use it
    c.ema.kimg = 0.5              # half-life in thousands of images (0.5: 500 steps at batch 1); 0 = off
    c.ema.rampup = 0.05           # half-life at most this fraction of the images seen so far (0 = no ramp-up)

    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = 1               # data-parallel devices: N, or -1 = all (every host's); batch_size is global

    c.train = ml_collections.ConfigDict()
    c.train.steps = 200_000
    c.train.batch_size = 1
    c.train.steps_per_dispatch = 50
    c.train.log_every = 100
    c.train.sample_every = 5000
    c.train.ckpt_every = 5000
    c.train.keep = 3
    c.train.num_sample_grid = 4    # test images shown (one row of six panels each)
    c.train.on_nan = "stop"
    c.train.tensorboard = True     # TensorBoard event files in RUN/tensorboard/ (view: tensorboard --logdir runs/)

    if arg.runlocal:  # the built-in task on a CPU in minutes (measured numbers: docs/quality.md)
        c.data.load_size = c.data.crop_size = 32  # flips only: the built-in crops are already random
        c.model.generator = "unet"  # skips: structure survives the few steps a CPU affords
        c.model.ngf = c.model.ndf = 16
        c.model.upsample = "subpixel"  # XLA:CPU is ~30x slower on transposed-conv weight gradients
        for side in ("g", "d"):
            c.optim[side].lr = 2e-3  # few steps: 10x the reference's 2e-4 (still linear to 0 over the 2nd half)
        # tone's B is (nearly) rank 1 in colour: A -> B -> A cannot bring A's colours back, and an RGB cycle made
        # G_A hide them in a faint pattern for G_B to decode; measured on luma, the cycle asks for what B keeps,
        # at the reference's weight of 10 (λ_A = 1 and cycle noise 0.1 had only weakened that demand)
        c.loss.cycle_space_A = "luma"
        # G_A's output levels pulled to train B's at the same rank of a running histogram of its outputs: the tone
        # curve itself. With the luma cycle, 3-seed means 28.67 / 0.911 -> 30.71 / 0.901 (PSNR / SSIM;
        # docs/quality.md)
        c.loss.histogram_A = 3.0
        c.loss.histogram_memory = 0.99
        # instance norm makes D blind to an image's overall levels (it removes each channel's mean and scale), and
        # tone is a tone curve; batch norm in D keeps them across the batch: 25.29 -> 26.10 dB over 3 seeds
        c.model.norm_d = "batch"
        # identity: the reference's 0.5. G_A(B) = B pulls G_A's curve towards no tone at all (tone(b) is brighter
        # than b); with the histogram term holding the levels, 1 left the output 3.5-5.7 levels too dark (30.71 dB)
        # 3 800 steps: its CPU time and 3 seeds are in docs/quality.md
        c.train.steps = 3800
        # no EMA: the learning rate falls linearly to 0 over the second half, so the last weights are already the
        # settled ones. Seeds 0 / 2, raw: 31.52 / 0.9016 and 32.07 / 0.9020; from a 2 kimg EMA (its 0.05 ramp-up
        # held it at 0.76 kimg, 190 steps, at the end): 31.43 / 0.9020 and 31.74 / 0.8958
        c.ema.kimg = 0.0
        c.train.batch_size = 4
        c.train.steps_per_dispatch = 5
        c.train.log_every = 50
        c.train.sample_every = 500
        c.train.ckpt_every = 500
    return c
