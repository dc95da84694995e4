"""Collapse settings and the training set each mode builds for the next generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError

MODES = ("replace", "accumulate", "accumulate_subsample", "anchor")


ANCHOR_POOLS = ("train", "reference", "fixed")


METRIC_GROUPS = ("tails", "fidelity", "utility", "dcr")


@dataclass
class CollapseSettings:
    """The ``collapse:`` block of the config (defaults used when a key is absent).

    Attributes:
        mode: one of :data:`MODES`.
        generations: number of synthetic generations G (tables 1..G), >= 1.
        n: rows per synthetic table; None = the size of the real train split.
        anchor_fraction: f in [0, 1), share of real rows in ``anchor`` mode.
        anchor_pool: where anchor rows come from, one of :data:`ANCHOR_POOLS`.
        rare_threshold: real relative frequency below which a category is rare.
        metrics: metric groups to compute, a subset of :data:`METRIC_GROUPS`.
        utility_models: TSTR models (``hgb``, ``logreg``).
        dcr_rows: synthetic rows (sampled) whose DCR to the real train is computed.
        cache: reuse each generation's synthetic table from the cache directory.
    """

    mode: str = "replace"
    generations: int = 5
    n: int | None = None
    anchor_fraction: float = 0.1
    anchor_pool: str = "train"
    rare_threshold: float = 0.01
    metrics: list[str] = field(default_factory=lambda: list(METRIC_GROUPS))
    utility_models: list[str] = field(default_factory=lambda: ["hgb"])
    dcr_rows: int = 2000
    cache: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"collapse.mode={self.mode!r} is unknown; choose from {', '.join(MODES)}")
        if not isinstance(self.generations, (int, np.integer)) or int(self.generations) < 1:
            raise ConfigError(f"collapse.generations must be an integer >= 1, got {self.generations!r}")
        self.generations = int(self.generations)
        if self.n is not None:
            if not isinstance(self.n, (int, np.integer)) or int(self.n) < 2:
                raise ConfigError(f"collapse.n must be an integer >= 2 or null, got {self.n!r}")
            self.n = int(self.n)
        try:
            f = float(self.anchor_fraction)
        except (TypeError, ValueError):
            f = float("nan")
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"collapse.anchor_fraction must be in [0, 1), got {self.anchor_fraction!r}")
        self.anchor_fraction = f
        if self.anchor_pool not in ANCHOR_POOLS:
            raise ConfigError(
                f"collapse.anchor_pool={self.anchor_pool!r} is unknown; choose from {', '.join(ANCHOR_POOLS)}"
            )
        if not 0.0 < float(self.rare_threshold) < 1.0:
            raise ConfigError(f"collapse.rare_threshold must be in (0, 1), got {self.rare_threshold!r}")
        self.metrics = list(self.metrics)
        bad = [m for m in self.metrics if m not in METRIC_GROUPS]
        if bad:
            raise ConfigError(f"collapse.metrics has unknown group(s) {bad}; choose from {list(METRIC_GROUPS)}")
        self.utility_models = list(self.utility_models)
        if int(self.dcr_rows) < 1:
            raise ConfigError(f"collapse.dcr_rows must be >= 1, got {self.dcr_rows!r}")
        self.dcr_rows = int(self.dcr_rows)

    @classmethod
    def from_mapping(cls, d: Any) -> CollapseSettings:
        """Build from a dict or DictConfig (``None`` = all defaults).

        Raises:
            ConfigError: on an unknown key or an invalid value (naming ``collapse.<key>``).
        """
        if d is None:
            return cls()
        try:
            from omegaconf import DictConfig, OmegaConf

            if isinstance(d, DictConfig):
                d = OmegaConf.to_container(d, resolve=True)
        except ImportError:  # pragma: no cover - omegaconf is a dependency
            pass
        d = dict(d)
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"collapse has unknown key(s) {unknown}; allowed: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)

    @property
    def label(self) -> str:
        """The mode as shown in results: ``anchor_f0.1`` carries its fraction."""
        return f"anchor_f{self.anchor_fraction:g}" if self.mode == "anchor" else self.mode


def anchor_split(n: int, anchor_fraction: float) -> tuple[int, int]:
    """``(synthetic rows, real rows)`` of an anchor training set of ``n`` rows.

    Synthetic rows = ``int(n (1 - f))`` (as in Bertrand et al.); real rows the rest.
    """
    n_syn = int(n * (1.0 - anchor_fraction) + 1e-9)
    return n_syn, n - n_syn


def training_set(
    mode: str,
    real: pd.DataFrame,
    synthetic: list[pd.DataFrame],
    *,
    n: int,
    rng: np.random.Generator,
    anchor_fraction: float = 0.1,
    anchor_pool: pd.DataFrame | None = None,
    fixed_anchor: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """The table the next round's model trains on.

    Args:
        mode: one of :data:`MODES`.
        real: the real training split (n_real, d).
        synthetic: synthetic tables so far, oldest first (tables 1..t); empty
            for round 0, which trains on ``real`` in every mode.
        n: rows per generation (size of the ``accumulate_subsample`` and
            ``anchor`` training sets).
        rng: draws the subsample and the anchor rows.
        anchor_fraction: f, share of real rows in ``anchor`` mode.
        anchor_pool: real rows that fresh anchor rows are drawn from (default ``real``).
        fixed_anchor: if given, the anchor uses exactly these real rows every round.
    Returns:
        ``(table, real_rows)``: the training table (fresh RangeIndex except in
        round 0 and ``replace``) and how many of its rows are real.
    Raises:
        ConfigError: for an unknown mode.
    """
    if mode not in MODES:
        raise ConfigError(f"collapse.mode={mode!r} is unknown; choose from {', '.join(MODES)}")
    if not synthetic:
        return real, len(real)
    last = synthetic[-1]
    if mode == "replace":
        return last, 0
    if mode == "accumulate":
        return pd.concat([real, *synthetic], ignore_index=True), len(real)
    if mode == "accumulate_subsample":
        pool = pd.concat([real, *synthetic], ignore_index=True)
        idx = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
        return pool.iloc[np.sort(idx)].reset_index(drop=True), int((idx < len(real)).sum())
    n_syn, n_real = anchor_split(n, anchor_fraction)
    syn = last.iloc[rng.choice(len(last), size=n_syn, replace=n_syn > len(last))]
    if fixed_anchor is not None:
        anchor = fixed_anchor
    else:
        pool = real if anchor_pool is None else anchor_pool
        anchor = pool.iloc[rng.choice(len(pool), size=n_real, replace=n_real > len(pool))]
    return pd.concat([syn, anchor], ignore_index=True), len(anchor)
