"""What a metric family may read for one scored synthetic table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.data.loaders import Dataset
from bench.data.splits import Splits
from bench.metrics.shapes import RealProfile


@dataclass
class EvalContext:
    """Everything a metric or attack may read for one run.

    Attributes:
        dataset: the loaded dataset (schema, fingerprint).
        splits: train (members), holdout (non-members, TSTR test), reference.
        synthetic: the synthetic table (m, d), coerced to the schema.
        seed: the run's seed.
        generator: the fitted generator (attacks that refit use its config).
        generator_factory: zero-argument callable returning a fresh, unfitted
            generator with the run's settings (shadow-model attacks).
        cache: per-run scratch space shared by the families (the real profile,
            ``run_record`` details merged into ``run.json``, attack results).
    """

    dataset: Dataset
    splits: Splits
    synthetic: pd.DataFrame
    seed: int = 0
    generator: Any = None
    generator_factory: Callable[[], Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self):
        return self.dataset.schema

    @property
    def real_profile(self) -> RealProfile:
        """The training split's :class:`RealProfile`, built once per run."""
        if "real_profile" not in self.cache:
            self.cache["real_profile"] = RealProfile.from_frame(self.splits.train, self.schema)
        return self.cache["real_profile"]

    def run_record(self) -> dict[str, Any]:
        """The run-level details dict (names and counts, never values) merged into ``run.json``."""
        return self.cache.setdefault("run_record", {})


__all__ = ["EvalContext"]
