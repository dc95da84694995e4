"""Differentially private generators trained with DP-SGD (Opacus).

* ``dp_tvae`` (:class:`~bench.generators.dp_tvae.DPTVAEGenerator`): TVAE-style
  VAE, encoder and decoder both private.
* ``dp_ctgan`` (:class:`~bench.generators.dp_ctgan.DPCTGANGenerator`):
  CTGAN-style GAN, discriminator private, generator post-processing.

Both preprocess from the schema's public bounds and domains
(:class:`~bench.generators.dp_base.PublicTransformer`), Poisson-sample rows,
train a fixed number of epochs, and report ``privacy_spent()`` with the scope
their epsilon covers. See ``docs/dp.md``.
"""

from bench.generators.dp_base import ACCOUNTANTS, GRAD_SAMPLE_MODES, DPGeneratorBase, PublicTransformer
from bench.generators.dp_ctgan import DPCTGANGenerator
from bench.generators.dp_tvae import DPTVAEGenerator

__all__ = [
    "ACCOUNTANTS",
    "GRAD_SAMPLE_MODES",
    "DPCTGANGenerator",
    "DPGeneratorBase",
    "DPTVAEGenerator",
    "PublicTransformer",
]
