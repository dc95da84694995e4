"""Wrappers around SDV 2 synthesizers: Gaussian copula, CTGAN and TVAE.

The SDV metadata is built from tailbench's schema (declared kinds only), not
detected from the data. These generators give no formal privacy guarantee
(``epsilon=None``).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from joblib import parallel_config

from bench.generators.base import BaseGenerator

log = logging.getLogger(__name__)


class _SDVGenerator(BaseGenerator):
    """Common fit/sample for SDV single-table synthesizers (wrapped, not subclassed).

    Fit and sample run under joblib's sequential backend. ctgan's
    ``DataTransformer.transform`` (CTGAN and TVAE) maps columns with
    ``Parallel(n_jobs=-1)`` once a table has 500 rows or more. Inside a joblib
    worker, as in a parallel sweep, that falls back to threads. rdt seeds
    each column transformer by swapping numpy's global RNG state, so the
    threads race on it, and the same seed gave a different table in every
    worker. Sequentially, the same seed gives the same table in the main
    process and in workers (``tests/test_generators.py``).
    """

    def _make(self, metadata: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, train: pd.DataFrame) -> None:
        sch = self.schema_
        self.table_ = sch.name
        data = train[sch.modelled]
        synth = self._make(sch.to_sdv_metadata())
        with parallel_config(backend="sequential"):
            synth.fit({self.table_: data})
        self.synth_ = synth
        self.id_columns_ = [c for c in train.columns if c not in sch.modelled]

    def _sample(self, n: int) -> pd.DataFrame:
        # SDV samples from a fixed seed unless told otherwise; tie it to ours.
        if hasattr(self.synth_, "_set_random_state"):
            self.synth_._set_random_state(self.seed_)
        with parallel_config(backend="sequential"):
            out = self.synth_.sample(num_rows=n)
        if isinstance(out, dict):
            out = out[self.table_]
        out = out.reset_index(drop=True)
        for c in self.id_columns_:
            out[c] = [f"id_{i}" for i in range(n)]
        return out


class GaussianCopulaGenerator(_SDVGenerator):
    """SDV ``GaussianCopulaSynthesizer``.

    Args:
        default_distribution: marginal family for numerical columns
            (SDV's default ``"beta"``; ``"norm"``, ``"truncnorm"``, ...).
        random_state: seed for sampling.
    Source: sdv.single_table.GaussianCopulaSynthesizer (Patki et al. 2016).
    """

    name = "gaussian_copula"

    def __init__(self, default_distribution: str = "beta", random_state: int | None = None) -> None:
        super().__init__(random_state=random_state)
        self.default_distribution = default_distribution

    def _make(self, metadata: Any) -> Any:
        from sdv.single_table import GaussianCopulaSynthesizer

        return GaussianCopulaSynthesizer(metadata, default_distribution=self.default_distribution)


class CTGANGenerator(_SDVGenerator):
    """SDV ``CTGANSynthesizer`` (conditional GAN with mode-specific normalisation).

    Args:
        epochs: training epochs (CTGAN's default is 300; the demo uses fewer).
        batch_size: rows per step; must be a multiple of ``pac``.
        pac: rows per discriminator "pack".
        verbose: show ctgan's progress bar (epoch, generator and discriminator loss).
    Source: Xu et al. 2019, "Modeling Tabular Data using Conditional GAN";
        sdv.single_table.CTGANSynthesizer.
    """

    name = "ctgan"

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int = 500,
        pac: int = 10,
        verbose: bool = True,
        random_state: int | None = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.epochs = epochs
        self.batch_size = batch_size
        self.pac = pac
        self.verbose = verbose

    def _make(self, metadata: Any) -> Any:
        from sdv.single_table import CTGANSynthesizer

        return CTGANSynthesizer(
            metadata,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            pac=int(self.pac),
            verbose=self.verbose,
            enable_gpu=False,
        )


class TVAEGenerator(_SDVGenerator):
    """SDV ``TVAESynthesizer`` (variational autoencoder for tables).

    Args:
        epochs: training epochs (default 300; the demo uses fewer).
        batch_size: rows per step.
        verbose: show a progress bar with the loss.
    Source: Xu et al. 2019; sdv.single_table.TVAESynthesizer.
    """

    name = "tvae"

    def __init__(
        self, epochs: int = 300, batch_size: int = 500, verbose: bool = True, random_state: int | None = None
    ) -> None:
        super().__init__(random_state=random_state)
        self.epochs = epochs
        self.batch_size = batch_size
        self.verbose = verbose

    def _make(self, metadata: Any) -> Any:
        from sdv.single_table import TVAESynthesizer

        return TVAESynthesizer(
            metadata, epochs=int(self.epochs), batch_size=int(self.batch_size), verbose=self.verbose, enable_gpu=False
        )
