"""``dp_marginals``: an epsilon-DP generator of independent, Laplace-noised column histograms.

The simplest honest DP synthesiser, and the reference the epsilon audit must
never flag: every column is modelled on its own as a histogram over *public*
slots, each count gets Laplace noise, and rows are drawn column by column from
the noisy histograms. Correlations between columns are not kept (like the
``independent`` baseline).

Slots per column, fixed by the schema alone (nothing read from the rows except
through the DP bounds release below):

* numerical with bounds [low, high]: ``[missing, == low, == high,
  bin_0 .. bin_{k-1}]`` with ``k = n_bins`` equal-width bins over the bounds
  (values are clipped into the bounds first; the two point masses keep spikes
  such as capital-gain = 0); a sampled bin gives a uniform value within it,
  rounded for the schema's ``integers`` columns. Bounds are the schema's
  public bounds or, for ``dp_bounds`` columns, released with the exponential
  mechanism (:mod:`bench.generators.dp_bounds`);
* categorical / boolean with a public domain: the domain plus one slot for
  missing or out-of-domain values; booleans default to ``["False", "True"]``;
* the missing slot is sampled only for the schema's ``nullable`` columns
  (elsewhere its noisy frequency is set to 0 before normalising:
  post-processing on the public schema);
* ``id`` columns are not modelled (``id_<i>`` is written).

Privacy (pure epsilon-DP, delta = 0), neighbouring datasets = replace one
record (n is public): a replaced record takes 1 from one slot and adds 1 to
another in each of the d modelled columns' histograms, so the vector of all d
histograms moves by at most 2d in L1. Laplace noise of scale ``2d /
epsilon_hist`` on every count is therefore epsilon_hist-DP (the Laplace
mechanism, Dwork, McSherry, Nissim and Smith 2006). With ``dp_bounds``
columns, a share ``bounds_epsilon_fraction`` of epsilon releases their bounds
first, and ``epsilon_hist = epsilon - epsilon_bounds`` (basic composition of
pure-DP releases). Clipping negative counts, normalising and sampling rows
are post-processing.

What epsilon covers: everything the generator reads. Not covered and not
data-dependent: the schema (public bounds with their citations, domains,
integer and nullable columns), the number of rows the caller asks for
(tailbench's default is the training-set size n, public under replace-one).
Caveats recorded in the notes: a textbook floating-point Laplace sampler,
not a discretised or snapped one (Mironov, CCS 2012); seeded noise unless
``secure_mode``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.errors import ConfigError, SchemaError
from bench.generators.accounting import NEIGHBOURING, PURE_DELTA_RATIONALE, check_tuned_on, tuning_scope
from bench.generators.base import BaseGenerator, PrivacySpent
from bench.generators.dp_bounds import (
    DEFAULT_FRACTION,
    DEFAULT_QUANTILES,
    check_fraction,
    check_public_schema,
    needs_release,
    numeric_output,
    resolve_bounds,
)
from bench.generators.noise import NoiseSource


def laplace_frequencies(
    counts: np.ndarray, scale: float, noise: NoiseSource | None, keep: np.ndarray | None = None
) -> np.ndarray:
    """Frequencies from a histogram released with the Laplace mechanism.

    Adds ``Laplace(0, scale)`` noise to every count (none when ``scale`` is
    0), clips negative counts to 0 and normalises; an all-zero result becomes
    uniform. Clipping and normalising are post-processing, so the release is
    ``sensitivity / scale``-DP (Dwork et al. 2006), where ``sensitivity`` is
    the L1 sensitivity of the histogram(s) the caller releases at this scale
    (2 per histogram under replace-one neighbours: one count down, one up).

    Args:
        counts: ``(k,)`` counts of one histogram.
        scale: Laplace scale b (0 = exact, for epsilon = inf).
        noise: the mechanism's :class:`~bench.generators.noise.NoiseSource`
            (seeded or secure); unused when ``scale`` is 0.
        keep: optional ``(k,)`` boolean mask of public slots that may be
            sampled; the others get frequency 0 after the noise
            (post-processing, e.g. the missing slot of a non-nullable column).
    Returns:
        ``(k,)`` float64 frequencies summing to 1.
    """
    c = np.asarray(counts, dtype=float)
    if scale > 0:
        c = c + noise.laplace(scale, c.shape)
    c = np.maximum(c, 0.0)
    if keep is not None:
        c = np.where(keep, c, 0.0)
    total = c.sum()
    if total > 0:
        return c / total
    k = np.ones_like(c) if keep is None else keep.astype(float)
    return k / k.sum()


@dataclass
class _Slots:
    """A column's public histogram slots (slot 0 of a numerical column, the last slot of a categorical one,
    is "missing or out of domain")."""

    name: str
    kind: str  # "numerical" | "categorical"
    low: float = 0.0
    high: float = 1.0
    n_bins: int = 0
    integer: bool = False
    categories: list[str] = field(default_factory=list)
    nullable: bool = False

    @property
    def size(self) -> int:
        return self.n_bins + 3 if self.kind == "numerical" else len(self.categories) + 1

    @property
    def missing_slot(self) -> int:
        return 0 if self.kind == "numerical" else len(self.categories)

    def keep(self) -> np.ndarray:
        """Slots that may be sampled: all but the missing one for a non-nullable column (schema only)."""
        k = np.ones(self.size, dtype=bool)
        if not self.nullable:
            k[self.missing_slot] = False
        return k

    def counts(self, s: pd.Series) -> np.ndarray:
        """Exact count of the rows in each slot (each row lands in exactly one)."""
        if self.kind == "numerical":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            miss = np.isnan(v)
            v = np.clip(np.where(miss, self.low, v), self.low, self.high)
            pos = (v - self.low) / (self.high - self.low) * self.n_bins
            b = np.minimum(np.floor(pos), self.n_bins - 1).astype(int)
            slot = np.where(miss, 0, np.where(v == self.low, 1, np.where(v == self.high, 2, 3 + b)))
        else:
            index = {c: i for i, c in enumerate(self.categories)}
            other = len(self.categories)
            slot = np.array([index.get(x, other) if isinstance(x, str) else other for x in s.to_numpy()], int)
        return np.bincount(slot, minlength=self.size).astype(float)

    def decode(self, slot: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Values for sampled slots (uniform within a numerical bin; format from the schema)."""
        if self.kind == "numerical":
            width = (self.high - self.low) / self.n_bins
            b = np.clip(slot - 3, 0, self.n_bins - 1)
            v = self.low + (b + rng.random(len(slot))) * width
            v = np.where(slot == 1, self.low, np.where(slot == 2, self.high, v))
            return pd.Series(numeric_output(v, self.low, self.high, self.integer, missing=slot == 0))
        cats = np.array(list(self.categories) + [None], dtype=object)
        vals = cats[slot]
        return pd.Series(vals, dtype=object).where(pd.notna(vals), np.nan)

    def state(self) -> dict:
        """The slot layout as plain data (for audits and tests)."""
        return dict(
            name=self.name,
            kind=self.kind,
            low=self.low,
            high=self.high,
            n_bins=self.n_bins,
            integer=self.integer,
            categories=list(self.categories),
            nullable=self.nullable,
        )


class DPMarginalsGenerator(BaseGenerator):
    """Independent column histograms with Laplace noise: epsilon-DP over the whole pipeline.

    Args:
        epsilon: privacy budget of the whole fit (> 0); ``inf`` = exact
            histograms without noise (a non-private reference).
        n_bins: equal-width bins per numerical column between its bounds.
        bounds_epsilon_fraction: share of epsilon spent releasing the bounds
            of the schema's ``dp_bounds`` columns (only spent when there are
            any), in (0, 1).
        bounds_quantiles: ``[q_low, q_high]`` of that release.
        secure_mode: draw the Laplace and Gumbel noise from the OS's CSPRNG
            (not reproducible) instead of the seed.
        tuned_on: the dataset ``n_bins`` was chosen on (``"none"``: a fixed
            default, not tuned).
        random_state: seed of the noise (unless ``secure_mode``) and of the
            sampling.
    Raises (in ``fit``):
        ConfigError: epsilon not > 0, n_bins < 1, a bad fraction or quantiles.
        SchemaError: a numerical column with neither public bounds nor
            dp_bounds, a categorical column without a public domain, or a
            datetime column.
    Source: Laplace mechanism, Dwork et al. 2006 ("Calibrating Noise to
    Sensitivity in Private Data Analysis"); sequential and parallel
    composition, McSherry 2009 (PINQ); DP bounds: :mod:`bench.generators.dp_bounds`.
    """

    name = "dp_marginals"

    delta = 0.0
    cacheable = True

    def __init__(
        self,
        epsilon: float = 1.0,
        n_bins: int = 10,
        bounds_epsilon_fraction: float = DEFAULT_FRACTION,
        bounds_quantiles=DEFAULT_QUANTILES,
        secure_mode: bool = False,
        tuned_on: str = "none",
        random_state: int | None = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.epsilon = epsilon
        self.n_bins = n_bins
        self.bounds_epsilon_fraction = bounds_epsilon_fraction
        self.bounds_quantiles = bounds_quantiles
        self.secure_mode = secure_mode
        self.tuned_on = tuned_on

    def _fit(self, train: pd.DataFrame) -> None:
        try:
            eps = float(self.epsilon)
        except (TypeError, ValueError):
            raise ConfigError(f"generator.epsilon must be a positive number or inf, got {self.epsilon!r}") from None
        if math.isnan(eps) or eps <= 0:
            raise ConfigError(f"generator.epsilon must be > 0 (or inf for no privacy), got {self.epsilon!r}")
        if not isinstance(self.n_bins, (int, np.integer)) or int(self.n_bins) < 1:
            raise ConfigError(f"generator.n_bins must be an integer >= 1, got {self.n_bins!r}")
        if not isinstance(self.secure_mode, bool):
            raise ConfigError(f"generator.secure_mode must be true or false, got {self.secure_mode!r}")
        self.tuned_on_ = check_tuned_on(self.tuned_on)
        frac = check_fraction(self.bounds_epsilon_fraction)
        sch = self.schema_
        check_public_schema(sch, self.name)
        for col, kind in sch.columns.items():
            if kind == "datetime":
                raise SchemaError(
                    f"column {col!r} is a datetime; dp_marginals models numerical and categorical "
                    "columns with public bounds/domains only (declare it numerical, or drop it)"
                )
            if kind == "categorical" and col not in sch.domains:
                raise SchemaError(
                    f"categorical column {col!r} has no public domain in the schema "
                    f"(dataset.schema.domains.{col}: [...]); dp_marginals reads nothing about "
                    "the columns from the training rows"
                )
        self.noise_ = NoiseSource(secure=self.secure_mode, seed=self.seed_)
        self.epsilon_ = eps
        self.bounds_epsilon_ = frac * eps if (needs_release(sch) and math.isfinite(eps)) else 0.0
        self.bounds_ = resolve_bounds(
            train,
            sch,
            epsilon=self.bounds_epsilon_ if math.isfinite(eps) else eps,
            noise=self.noise_,
            quantiles=self.bounds_quantiles,
        )
        self.slots_: list[_Slots] = []
        for col, kind in sch.columns.items():
            if kind == "id":
                continue
            nullable = col in sch.nullable
            if kind == "numerical":
                lo, hi = self.bounds_.bounds[col]
                self.slots_.append(
                    _Slots(
                        col, "numerical", float(lo), float(hi), int(self.n_bins), col in sch.integers, nullable=nullable
                    )
                )
            else:
                cats = list(sch.domains[col]) if col in sch.domains else ["False", "True"]
                self.slots_.append(_Slots(col, "categorical", categories=cats, nullable=nullable))
        if not self.slots_:
            raise SchemaError("the schema has no numerical or categorical column to model")
        d = len(self.slots_)
        self.hist_epsilon_ = eps - self.bounds_epsilon_
        # replace-one: one record moves one count down and one up in each of the d histograms (L1 2d)
        self.noise_scale_ = 2 * d / self.hist_epsilon_ if math.isfinite(eps) else 0.0
        self.probs_ = [
            laplace_frequencies(sl.counts(train[sl.name]), self.noise_scale_, self.noise_, keep=sl.keep())
            for sl in self.slots_
        ]
        self.id_columns_ = [c for c, k in sch.columns.items() if k == "id"]

    def _sample(self, n: int) -> pd.DataFrame:
        out = {}
        for sl, p in zip(self.slots_, self.probs_):
            slot = self.rng_.choice(len(p), size=n, p=p)
            out[sl.name] = sl.decode(slot, self.rng_)
        for c in self.id_columns_:
            out[c] = [f"id_{i}" for i in range(n)]
        return pd.DataFrame(out)

    def privacy_spent(self) -> PrivacySpent | None:
        """Pure epsilon-DP (delta = 0) under replace-one neighbours over the whole pipeline; None before ``fit``."""
        if not hasattr(self, "probs_"):
            return None
        d = len(self.slots_)
        tuning, outside = tuning_scope(self.tuned_on_, self.schema_.name)
        common = dict(
            neighbouring=NEIGHBOURING,
            rng=self.noise_.describe(),
            bounds_source=self.bounds_.describe(),
            tuning_source=tuning,
        )
        if not math.isfinite(self.epsilon_):
            return PrivacySpent(
                epsilon=math.inf,
                delta=None,
                accountant="none",
                scope=["no-noise: epsilon=inf, no privacy guarantee"],
                full_scope=False,
                notes=["exact histograms without noise (matched non-private reference)"],
                delta_rationale="none: no guarantee is claimed",
                **{**common, "rng": "none: no noise"},
                outside=["everything: epsilon=inf trains without noise"] + outside,
            )
        scope = [
            (
                f"histograms:laplace(scale={self.noise_scale_:.4g}=2d/epsilon_hist, d={d} columns, "
                f"epsilon_hist={self.hist_epsilon_:.4g}, L1 sensitivity 2d under replace-one)"
            ),
            "composition:parallel-over-slots,sequential-over-columns",
            "preprocessing:public-schema",
            "output-format:public-schema(integers,nullable)",
            "sampling:post-processing",
        ]
        notes = [
            "textbook floating-point Laplace and Gumbel noise (not snapped/discrete mechanisms, Mironov 2012)",
            (
                "integer columns from the public schema: "
                + (", ".join(s.name for s in self.slots_ if s.kind == "numerical" and s.integer) or "none")
            ),
            ("the number of rows sampled is the caller's (default: the training-set size n, public under replace-one)"),
        ]
        if self.noise_.kind == "seeded":
            notes.insert(
                0,
                "seeded noise: reproducible for benchmarking; the guarantee holds only for someone who "
                "does not know the seed (written to run.json)",
            )
        if self.bounds_.released:
            scope.insert(
                1,
                f"bounds:exponential-mechanism({', '.join(self.bounds_.released)}; epsilon={self.bounds_epsilon_:.4g})",
            )
            notes.append(
                f"epsilon = {self.bounds_epsilon_:.4g} (DP bounds) + {self.hist_epsilon_:.4g} "
                "(Laplace histograms), basic composition"
            )
        if self.bounds_.data_dependent:
            outside.append("bounds read from the training rows: " + ", ".join(self.bounds_.data_dependent))
        return PrivacySpent(
            epsilon=self.epsilon_,
            delta=0.0,
            accountant="laplace+exponential-basic-composition (pure epsilon-DP)",
            scope=scope,
            full_scope=not outside,
            notes=notes,
            delta_rationale=PURE_DELTA_RATIONALE,
            outside=outside,
            **common,
        )


__all__ = ["DPMarginalsGenerator", "laplace_frequencies"]
