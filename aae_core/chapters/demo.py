"""Chapter 1's demo: three small models with a 2-D code, trained on the same digits in the same way.

    autoencoder  the book's SemiSupervisedAAE with no y code, trained by the Trainer without its
                 adversarial phase (regularize=False): reconstruction only
    vae          a variational autoencoder (Kingma and Welling, 2013) of the same size with the same
                 prior: its encoder gives a Gaussian q(z|x) (a mean and a log-variance per code
                 dimension), its loss adds a one-sample estimate of KL(q(z|x) || p(z))
    aae          the same SemiSupervisedAAE, with the adversarial phase: D_z tells samples of the
                 prior (ten Gaussians on a circle) from codes, the encoder learns to fool it

Everything else is shared: the images, their order in batches, the input noise, AdamW and its
schedule, the seed. `train_demo` trains the three into a run folder each (`python -m aae_core
demo-2d --out results/demo-2d`), keeping the codes of the first validation digits and the decoder
at a few epochs for the chapter's latent map (`latent_map.py`).

The demo's parts live beside this module, one subject each; here is what the chapter reads of them,
and how it measures where the codes lie:
    demo_vae.py       the VAE and its training loop
    demo_training.py  the shared settings, the three runners, codes and decodings of a trained model
    demo_runs.py      the demo's own run-folder format, trained or read back
    demo_figures.py   the figures
"""
from __future__ import annotations

import torch

from ..losses import MIXTURE_COMPONENTS, MIXTURE_RADIUS, mixture_means, share_near_mixture
from .demo_figures import VIEW, beyond_view, plot_codes, plot_decoded_prior, plot_reconstruction
from .demo_runs import RUN_FILES, DemoRun, demo_models, load_demo, train_demo
from .demo_training import (COLORS, KINDS, SHORT, DemoSettings, codes_of, decode, decoder_of, make_runner,
                            prior_samples, train_model)
from .demo_vae import VAE, VAETrainer, mixture_log_density, vae_loss

__all__ = ["COLORS", "KINDS", "RUN_FILES", "SHORT", "VAE", "VIEW", "DemoRun", "DemoSettings", "VAETrainer",
           "beyond_view", "codes_of", "components_filled", "decode", "decoder_of", "demo_models", "load_demo",
           "make_runner", "mixture_log_density", "nearest_component", "plot_codes", "plot_decoded_prior",
           "plot_reconstruction", "prior_samples", "share_table", "train_demo", "train_model", "vae_loss"]


def nearest_component(codes: torch.Tensor, n_components: int = MIXTURE_COMPONENTS, radius: float = MIXTURE_RADIUS):
    """The index (N,) of each code's nearest mixture component and the distance (N,) to its mean."""
    distance, index = torch.cdist(codes[:, :2].float().cpu(), mixture_means(n_components, radius)).min(dim=1)
    return index, distance


def components_filled(codes: torch.Tensor, std: float, within: float = 2.0) -> float:
    """How many of the prior's components the codes within `within` std of one fill, counted as the
    exponential of the entropy of their shares: 10 when they spread evenly over all ten, 1 when
    they crowd into one (0 when no code is near any)."""
    index, distance = nearest_component(codes)
    near = index[distance <= within * std]
    if not len(near):
        return 0.0
    shares = torch.bincount(near, minlength=MIXTURE_COMPONENTS).float() / len(near)
    shares = shares[shares > 0]
    return float(torch.exp(-(shares * shares.log()).sum()))


def share_table(clouds: dict[str, torch.Tensor], std: float) -> str:
    """One line per cloud of codes: the share within 2 std of a prior component, and how many of
    the ten components those codes fill."""
    width = max(map(len, clouds))
    lines = [f"{'':<{width}}  within 2σ  components filled"]
    for name, codes in clouds.items():
        lines.append(f"{name:<{width}}  {share_near_mixture(codes, std):8.1f}%"
                     f"{components_filled(codes, std):19.1f}")
    return "\n".join(lines)
