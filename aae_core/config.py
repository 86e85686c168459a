"""Settings of a run, as frozen dataclasses, and the named optimizer presets.

The presets are the hyperparameter tables of Latała's reproduction report
(Latała, "Adversarial Autoencoders in a Semi-Supervised Setting", Tables 1 and 2),
which in turn follow Makhzani et al. 2015, "Adversarial Autoencoders".
Nothing here reads files or argv: `runs/` stores these as JSON, `cli.py` fills them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from .errors import AAEError

PAPER_LABELS = (100, 1000, "all")  # the label counts of the paper's Table 2 (and of Latała's Table 3)
UNSUPERVISED_ONLY = ("recon_loss", "prior_std", "z_prior", "regularize")  # what a supervised_only run has no use for
PHASES = ("reconstruction", "discriminator", "generator", "semi_supervised")
# The phases each precision computes in fp32 (bf16-fp32-labeled: bf16 but for the labeled batch's phase).
FP32_PHASES = {"fp32": PHASES, "bf16": (), "bf16-fp32-labeled": ("semi_supervised",)}
EPOCH_DEFS = ("unlabeled", "labeled")
RECON_LOSSES = ("sum", "mean")
LABEL_SUBSETS = ("balanced", "random")
Z_PRIORS = ("gaussian", "mixture")
PRECISIONS = ("fp32", "bf16", "bf16-fp32-labeled")
BENCH_PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
EXECUTORS = ("slurm", "local")  # where `reproduce --executor` submits its runs as jobs (submitit)
BF16_WEIGHTS = ("copies", "autocast")  # with bf16: compute with bf16 weight copies, or cast fp32 weights in each phase
OPTIMIZER_KERNELS = ("fused", "foreach", "loop")  # how an optimizer step runs; the math is the same
N_TRAIN = 50_000  # the training split; the other 10,000 training images validate
MAX_SEED = 2**63 - 1  # seeds are int64 wherever torch stores them
MAX_EPOCHS = 100_000  # 20 times the 5000 of Latała's repository: a typo's 10^20 never trains on without end


def check_seed(name: str, value) -> None:
    """A seed is a whole number in 0..2^63-1; AAEError naming `name` otherwise."""
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        raise AAEError(f"{name} must be a whole number from 0 to 2^63-1, got {value!r}")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


MAX_BENCH_BATCH = 2_000  # the bench holds 50 batches of random images (2,000 a batch: 314 MB)
MAX_BENCH_STACK = 64  # runs in one stacked bench
MAX_BENCH_STEPS = 100_000  # timed steps: minutes on a CPU, so a typo's extra zeros end in an error, not a day


def check_bench_options(batch_size, steps, precision: str = "fp32", stack: int | None = None) -> None:
    """An AAEError naming the first `bench` option out of range, before torch loads and the minute of timing."""
    if not (is_int(batch_size) and 1 <= batch_size <= MAX_BENCH_BATCH):
        raise AAEError(f"the bench's batch size must be from 1 to {MAX_BENCH_BATCH:,}, got {batch_size!r}")
    if not (is_int(steps) and 1 <= steps <= MAX_BENCH_STEPS):
        raise AAEError(f"the bench's timed steps must be from 1 to {MAX_BENCH_STEPS:,}, got {steps!r}")
    if precision not in BENCH_PRECISIONS:
        raise AAEError(f"the bench's precision is one of {', '.join(BENCH_PRECISIONS)}, got {precision!r}")
    if stack is not None and not (is_int(stack) and 1 <= stack <= MAX_BENCH_STACK):
        raise AAEError(f"--stack (or --runs) must be between 1 and {MAX_BENCH_STACK} runs")


def check_finite(name: str, value, positive: bool = False) -> None:
    """A float setting is a finite number, at least 0 (above 0 if `positive`): NaN and inf would train on
    silently, or be reported as a diverged run."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (number and (value > 0 if positive else value >= 0)):
        raise AAEError(f"{name} must be a finite number {'above' if positive else 'of at least'} 0, got {value!r}")


# Groups of `train --help`, in order: each setting below names its group (none: API only).
OPTION_GROUPS = {
    "run": "the run",
    "method": "the method's settings",
    "diagnosis": "diagnosing Latała's setup",
    "recipe": "recipe search",
    "speed": "speed",
}


def named_twice(values) -> list[str]:
    """The values given more than once, in order of first mention: on a command line, a typo to say."""
    values = list(values)
    return [str(v) for v in dict.fromkeys(values) if values.count(v) > 1]


def one_value_per_phase(pairs) -> dict:
    """[(phase, value), ...] as a dict: a phase named twice is a mistake to say, not a value to drop."""
    twice = sorted(named_twice(phase for phase, _ in pairs))
    if twice:
        raise AAEError(f"names {', '.join(twice)} twice; give each phase once")
    return dict(pairs)


def setting(default, help: str, group: str | None = None, **option) -> "field":
    """A config field with its one declaration of help text and `train` option (argparse keywords in
    `option`; `convert` turns the parsed value into the field's type). group=None: API only."""
    return field(default=default, metadata={"help": help, "group": group, "option": option})


@dataclass(frozen=True)
class ModelConfig:
    """Layer sizes of the semi-supervised AAE (Latała's report, section 3)."""

    input_dim: int = setting(784, "pixels of an input image")
    hidden_dim: int = setting(1000, "width of the encoder's and decoder's two hidden layers")
    n_classes: int = setting(10, "categories of y (softmax); 0 = an unsupervised AAE with z only")
    style_dim: int = setting(10, "dimensions of the style code z (linear)")
    disc_hidden_dim: int = setting(1000, "width of the two hidden layers of D_y and D_z")
    init_std: float = setting(0.01, "std of the N(0, std^2) initial weights (Latała's code); 0 = PyTorch's default",
                              "recipe", type=float)

    def check(self) -> "ModelConfig":
        """Raise AAEError naming the first size or std out of range (a crafted model.pt, a typo); return self."""
        for name in ("input_dim", "hidden_dim", "style_dim", "disc_hidden_dim"):
            if not (is_int(getattr(self, name)) and getattr(self, name) >= 1):
                raise AAEError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (is_int(self.n_classes) and self.n_classes >= 0):
            raise AAEError(f"n_classes must be 0 or a positive integer, got {self.n_classes!r}")
        check_finite("init_std", self.init_std)
        return self


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer family for all four phases, with a learning rate and momentum per phase.

    A preset is a training recipe, so it may also set the noise on phase (3)'s labelled images
    (`labeled_noise_std`; None = the run's input noise, as in the paper)."""

    name: str  # "sgd" or "adamw"
    lr: dict  # phase -> initial learning rate
    momentum: dict = field(default_factory=dict)  # phase -> SGD momentum (unused by AdamW)
    milestones: tuple = (50, 1000)  # epochs at which every learning rate is divided by 10
    gamma: float = 0.1
    labeled_noise_std: float | None = None

    def lr_at(self, phase: str, epoch: int) -> float:
        """Learning rate of `phase` during 0-based `epoch` (a step schedule, derived, never stored)."""
        drops = sum(epoch >= m for m in self.milestones)
        return self.lr[phase] * self.gamma**drops


# Latała's Table 1 (the paper's settings): SGD with momentum, separate optimizer per phase.
TABLE1_SGD = OptimizerConfig(
    name="sgd",
    lr={"reconstruction": 0.01, "discriminator": 0.1, "generator": 0.1, "semi_supervised": 0.1},
    momentum={"reconstruction": 0.9, "discriminator": 0.1, "generator": 0.1, "semi_supervised": 0.9},
)

PRESETS = {
    "paper-sgd": TABLE1_SGD,
    # Our recipe for few labels (appendix B): Table 1, but the labelled images get twice the input noise
    # in phase (3), which makes a handful of them harder to memorise before the unlabelled phases have
    # shaped the code. With 1000 labels or more it costs accuracy (there is no weak draw to rescue).
    "sgd-labeled-noise": replace(TABLE1_SGD, labeled_noise_std=0.6),
    # Our recipe for 50-epoch runs (appendix B): Table 1's schedule, but the learning rates drop tenfold
    # at epoch 40 instead of 50, so a 50-epoch run ends after ten quieter epochs rather than at the
    # noisy plateau of lr 0.1 (Table 1's drop at 50 is never reached by a 50-epoch run).
    "sgd-early-drop": replace(TABLE1_SGD, milestones=(40, 1000)),
    # Latała's Table 2 (its disentanglement runs): AdamW everywhere, one learning rate.
    "adamw": OptimizerConfig(name="adamw", lr={phase: 0.001 for phase in PHASES}),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes (the device and precision too). Each field
    is declared once, with its help and its `train` option (cli.py builds the options from these)."""

    labels: int | str = setting(100, "labeled images: 'all' or a multiple of 10", "run", type="labels")
    epochs: int = setting(50, "passes over the unlabeled pool", "run", type="whole")
    milestones: tuple = setting((), "epochs after which the test accuracy is recorded too (in history.jsonl): a "
                                "curve to report, never a choice", "run", type="whole", nargs="+", metavar="EPOCH",
                                convert=tuple)
    seed: int = setting(0, "initial weights, batch order, noise and (unless --label-seed) the labeled images",
                        "run", type="whole")
    preset: str = setting("paper-sgd", "optimizers and learning-rate schedule of the four phases", "run",
                          choices=sorted(PRESETS))
    batch_size: int = setting(100, "images per batch, unlabeled and labeled alike", "speed", type="whole")
    unlabeled: int | None = setting(None, "subsample the unlabeled pool to this many images (quick runs)", "run",
                                    type="whole")
    epoch_def: str = setting("unlabeled", "'labeled' = Latała's epoch (one pass over the labeled set)",
                             "diagnosis", choices=EPOCH_DEFS)
    recon_loss: str = setting("sum", "squared error summed over pixels (paper), or 'mean' (nn.MSELoss, Latała's code)",
                              "diagnosis", choices=RECON_LOSSES)
    prior_std: float = setting(1.0, "std of the Gaussian style prior (Latała's code defaults to 5)", "diagnosis",
                               type=float)
    z_prior: str = setting("gaussian", "prior of z: 'gaussian', or 'mixture' (10 Gaussians on a circle, chapter 1)")
    regularize: bool = setting(True, "False: a plain autoencoder, no adversarial phase (chapter 1)")
    noise_std: float = setting(0.3, "std of the Gaussian noise on every training input (the paper's)", "method",
                               type=float)
    labeled_noise_std: float | None = setting(None, "noise on the labeled images of phase (3); default: the "
                                              "preset's, else --noise-std", "recipe", type=float)
    label_subset: str = setting("balanced", "'balanced' = labels/10 per digit; 'random' = any images", "diagnosis",
                                choices=LABEL_SUBSETS)
    label_seed: int | None = setting(None, "pick the labeled images with this seed instead of --seed", "diagnosis",
                                     type="whole")
    lr_milestones: tuple | None = setting(None, "epochs at which the learning rates drop tenfold; default: the "
                                          "preset's", "recipe", type="whole", nargs="+", metavar="EPOCH", convert=tuple)
    supervised_only: bool = setting(False, "the NN baseline: train the encoder's y head on the labeled images only",
                                    "diagnosis", action="store_true")
    phase_lr: dict | None = setting(None, "override the preset's initial learning rate of a phase "
                                    f"({', '.join(PHASES)})", "recipe", type="phase_value", nargs="+",
                                    metavar="PHASE=LR", convert=one_value_per_phase)
    phase_momentum: dict | None = setting(None, "override the preset's SGD momentum of a phase", "recipe",
                                          type="phase_value", nargs="+", metavar="PHASE=M", convert=one_value_per_phase)
    device: str = setting("auto", "where to train ('auto': cuda, then mps, then cpu)", "speed", choices=DEVICES)
    precision: str = setting("fp32", "bf16: bf16 matrix products, fp32 master weights", "speed", choices=PRECISIONS)

    @property
    def optimizer(self) -> OptimizerConfig:
        """The preset, with the run's own learning-rate milestones when it sets them."""
        preset = PRESETS[self.preset]
        return replace(preset, lr={**preset.lr, **(self.phase_lr or {})},
                       momentum={**preset.momentum, **(self.phase_momentum or {})},
                       milestones=preset.milestones if self.lr_milestones is None else tuple(self.lr_milestones))

    @property
    def labeled_noise(self) -> float:
        for std in (self.labeled_noise_std, PRESETS[self.preset].labeled_noise_std):
            if std is not None:
                return std
        return self.noise_std

    @property
    def labeled_images_seed(self) -> int:
        return self.seed if self.label_seed is None else self.label_seed

    @property
    def n_labeled(self) -> int:
        return N_TRAIN if self.labels == "all" else int(self.labels)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("lr_milestones", "milestones"):  # JSON stores a tuple as a list
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **changes)

    def check(self, unsupervised: bool = False) -> "TrainConfig":
        """Raise AAEError naming the first setting that is out of range; return self otherwise.
        `unsupervised` also admits labels=0 (no semi-supervised phase; the API only)."""
        if unsupervised and self.labels == 0:
            if self.epoch_def == "labeled":
                raise AAEError("epoch_def 'labeled' needs labels")
        elif self.labels != "all" and not (is_int(self.labels) and 10 <= self.labels <= N_TRAIN
                                           and self.labels % 10 == 0):
            raise AAEError(f"labels must be 'all' or a multiple of 10 between 10 and {N_TRAIN}, got {self.labels!r}")
        choices = {"preset": PRESETS, "epoch_def": EPOCH_DEFS, "recon_loss": RECON_LOSSES, "z_prior": Z_PRIORS,
                   "precision": PRECISIONS, "device": DEVICES, "label_subset": LABEL_SUBSETS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise AAEError(f"unknown {name} {getattr(self, name)!r}; choose from {', '.join(allowed)}")
        for name in ("regularize", "supervised_only"):
            if not isinstance(getattr(self, name), bool):
                raise AAEError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size"):
            if not (is_int(getattr(self, name)) and getattr(self, name) >= 1):
                raise AAEError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.epochs > MAX_EPOCHS:
            raise AAEError(f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs:,}")
        check_seed("seed", self.seed)
        if self.label_seed is not None:
            check_seed("label_seed", self.label_seed)
        if self.unlabeled is not None and not (is_int(self.unlabeled) and self.batch_size <= self.unlabeled <= N_TRAIN):
            raise AAEError(f"unlabeled must be between the batch size ({self.batch_size}) and {N_TRAIN}, "
                           f"got {self.unlabeled!r}")
        if self.batch_size > N_TRAIN:  # a batch larger than the pool would silently shrink to it
            raise AAEError(f"batch_size must be at most the {N_TRAIN} unlabeled images, got {self.batch_size}")
        if self.lr_milestones is not None and any(not is_int(m) or m < 1 for m in self.lr_milestones):
            raise AAEError(f"lr_milestones must be positive epochs, got {list(self.lr_milestones)}")
        if not isinstance(self.milestones, tuple) or any(not is_int(m) or not 1 <= m <= MAX_EPOCHS
                                                         for m in self.milestones):
            raise AAEError(f"milestones must be epochs from 1 to {MAX_EPOCHS:,}, got {list(self.milestones)}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise AAEError(f"milestones must rise, each epoch named once, got {list(self.milestones)}")
        if any(m > self.epochs for m in self.milestones):  # never reached: a curve point silently missing
            raise AAEError(f"milestones must be at most the run's {self.epochs} epochs, got {list(self.milestones)}")
        if self.supervised_only and self.labels == 0:
            raise AAEError("supervised_only needs labels")
        for name in ("phase_lr", "phase_momentum"):
            for phase, value in (getattr(self, name) or {}).items():
                if phase not in PHASES:
                    raise AAEError(f"unknown phase {phase!r} in {name}; choose from {', '.join(PHASES)}")
                check_finite(f"{name} of {phase}", value, positive=name == "phase_lr")
                if name == "phase_momentum" and value >= 1:
                    raise AAEError(f"phase_momentum of {phase} must be in [0, 1), got {value!r}")
        if self.phase_momentum and PRESETS[self.preset].name != "sgd":
            raise AAEError(f"phase_momentum is for SGD presets; {self.preset} has none")
        if self.supervised_only:  # said, not silently ignored: the NN baseline has no decoder or prior
            unused = [f.name for f in fields(self)
                      if f.name in UNSUPERVISED_ONLY and getattr(self, f.name) != f.default]
            unused += [f"{name} of {phase}" for name in ("phase_lr", "phase_momentum")
                       for phase in getattr(self, name) or {} if phase != "semi_supervised"]
            if unused:
                raise AAEError(f"supervised_only trains the classifier alone (the semi_supervised phase), so "
                               f"{', '.join(unused)} would change nothing; leave "
                               f"{'it at its default' if len(unused) == 1 else 'them at their defaults'}")
        check_finite("noise_std", self.noise_std)
        if self.labeled_noise_std is not None:
            check_finite("labeled_noise_std", self.labeled_noise_std)
        check_finite("prior_std", self.prior_std, positive=True)
        return self


def model_config_from_dict(data: dict) -> ModelConfig:
    known = {f.name for f in fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in data.items() if k in known})
