"""Shared machinery of tailbench's DP-SGD generators (``dp_tvae``, ``dp_ctgan``).

Built so that nothing data-dependent escapes the accountant:

* :class:`PublicTransformer`: a reversible encoding of a table built from the
  schema only: public bounds (or bounds released with DP,
  :mod:`bench.generators.dp_bounds`), category domains, and the output format
  (``schema.integers``, ``schema.nullable``). No Bayesian GMM, no min/max, no
  category list, no dtype or NaN presence measured on the training rows.
* :func:`make_dp_training`: wraps a module and optimizer with Opacus for
  per-sample clipping, and replaces Opacus' sampling and noise: each step's
  batch is a Poisson sample (each row independently with probability
  ``q = batch_size / n``) and the Gaussian noise comes from the fit's
  :class:`~bench.generators.noise.NoiseSource` (seeded, or ``os.urandom``
  with ``secure_mode``), so every secret draw of a fit comes from one source.
  The noise multiplier is calibrated with Google's ``dp-accounting`` PLD
  accountant under replace-one neighbours for exactly the q and step count
  that run (:mod:`bench.generators.accounting`).
* :class:`DPGeneratorBase`: argument validation, ``delta`` default
  (``1/n^2``), the progress bar (epoch and epsilon spent, nothing computed on
  the rows), and :meth:`privacy_spent` with its scope.

Source: Abadi et al. 2016, "Deep Learning with Differential Privacy" (DP-SGD);
Opacus 1.6 (Yousefpour et al. 2021) for per-sample clipping; Google
``dp-accounting`` 0.6.0 for the PLD accountant.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from bench.errors import ConfigError, SchemaError
from bench.generators.accounting import (
    ACCOUNTANT,
    DELTA_RATIONALE,
    NEIGHBOURING,
    PLD_MAX_EPSILON,
    accountant_label,
    calibrate_noise_multiplier,
    check_tuned_on,
    default_delta,
    poisson_schedule,
    replace_one_epsilon,
    tuning_scope,
)
from bench.generators.base import BaseGenerator, PrivacySpent
from bench.generators.dp_bounds import (
    DEFAULT_FRACTION,
    DEFAULT_QUANTILES,
    BoundsRelease,
    check_fraction,
    check_public_schema,
    needs_release,
    numeric_output,
    resolve_bounds,
)
from bench.generators.noise import NoiseSource

ACCOUNTANTS = (ACCOUNTANT,)
NO_NOISE_NOTE = "trained without clipping, noise or Poisson sampling (matched non-private reference)"
GRAD_SAMPLE_MODES = ("hooks", "functorch", "ew", "ghost")

# ctgan's span description, reused so ctgan-style activations and losses read it.
try:  # pragma: no cover - ctgan is a dependency
    from ctgan.data_transformer import SpanInfo
except ImportError:  # pragma: no cover
    from collections import namedtuple

    SpanInfo = namedtuple("SpanInfo", ["dim", "activation_fn"])


@contextlib.contextmanager
def quiet_opacus():
    """Silence the warnings Opacus and torch print on every step or setup.

    "Full backward hook is firing..." fires whenever a hooked module's backward
    runs with inputs that need no gradient (every step); "Secure RNG turned off"
    is recorded in the run's privacy notes instead of printed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Full backward hook is firing.*")
        warnings.filterwarnings("ignore", message=r".*Secure RNG turned off.*")
        warnings.filterwarnings("ignore", message=r".*Using a non-full backward hook.*")
        warnings.filterwarnings("ignore", message=r".*Optimal order is the (largest|smallest) alpha.*")
        yield


# ----------------------------------------------------------------- encoding
@dataclass
class _ColumnCode:
    """How one column is encoded (all fields are public knowledge or DP releases)."""

    name: str
    kind: str  # "numerical" | "categorical"
    low: float = 0.0
    high: float = 1.0
    n_bins: int = 0
    integer: bool = False
    categories: list[str] = field(default_factory=list)
    source: str = "schema"  # "schema", "dp" (released bounds) or "data" (the non-private shortcut)
    nullable: bool = False

    @property
    def spans(self) -> list:
        if self.kind == "numerical":
            # offset within the bin, then one-hot over [missing, ==low, ==high, bin_0..bin_{k-1}]
            return [SpanInfo(1, "tanh"), SpanInfo(self.n_bins + 3, "softmax")]
        return [SpanInfo(len(self.categories) + 1, "softmax")]  # last slot = missing / unknown

    @property
    def dim(self) -> int:
        return sum(s.dim for s in self.spans)

    @property
    def missing_slot(self) -> int:
        """Index of the missing slot within the column's softmax span."""
        return 0 if self.kind == "numerical" else len(self.categories)


class PublicTransformer:
    """Reversible table encoding from the schema's public bounds, domains and output format.

    Numerical column with bounds ``[low, high]`` (the schema's public bounds,
    or bounds released with DP passed in ``bounds``): values are clipped to
    the bounds, then encoded as a one-hot over ``[missing, ==low, ==high,
    bin_0 .. bin_{k-1}]`` (``k = n_bins`` equal-width bins over the bounds; the
    two point masses keep the spikes at a bound such as capital-gain = 0 or a
    top code) plus a scalar offset within the bin in ``[-1, 1]`` (a tanh span).
    This is CTGAN's mode-specific normalisation with public, data-independent
    "modes" in place of a Bayesian GMM fitted to the rows.

    Categorical or boolean column with a public domain: one-hot over the domain
    plus one slot for missing values and values outside the domain (both decode
    to NaN). Boolean columns default to the domain ``["False", "True"]``.

    Output format, from the schema only: a numerical column is written as whole
    numbers (int64) exactly when it is in ``schema.integers``; NaN is written
    only in ``schema.nullable`` columns. Training rows with a missing value in
    a non-nullable column are still encoded (in the missing slot), but the
    generators never sample that slot (:meth:`missing_positions`). Nothing
    about the training rows' dtypes or missing values enters the encoding.
    ``id`` columns are not modelled (the generator writes ``id_<i>``).

    Args:
        n_bins: equal-width bins per numerical column.
        allow_data_bounds: the non-private shortcut: take a missing domain
            from the training categories (missing numerical bounds are handled
            by :func:`~bench.generators.dp_bounds.resolve_bounds`). The columns
            it touched are listed in :attr:`data_dependent`.
    Raises (in :meth:`fit`):
        SchemaError: a numerical column without bounds, a categorical column
            without a public domain (unless ``allow_data_bounds``), or a
            datetime column (not modelled by the DP generators).
    """

    def __init__(self, n_bins: int = 10, allow_data_bounds: bool = False) -> None:
        self.n_bins = n_bins
        self.allow_data_bounds = allow_data_bounds

    # ------------------------------------------------------------------ fit
    def fit(self, train: pd.DataFrame, schema: Any, bounds: BoundsRelease | None = None) -> PublicTransformer:
        """Build the encoding from ``schema`` and the resolved ``bounds``.

        Args:
            train: the training rows; read only for categorical domains the
                schema lacks, and only when ``allow_data_bounds`` is True.
            schema: the table's schema.
            bounds: the fit's :class:`~bench.generators.dp_bounds.BoundsRelease`
                (public, DP-released or data bounds of every numerical
                column); None = the schema's public ``bounds`` only.
        """
        if int(self.n_bins) < 1:
            raise ConfigError(f"generator.n_bins must be >= 1, got {self.n_bins}")
        codes: list[_ColumnCode] = []
        self.data_dependent: list[str] = list(bounds.data_dependent) if bounds is not None else []
        released = set(bounds.released) if bounds is not None else set()
        for col, kind in schema.columns.items():
            if kind == "id":
                continue
            if kind == "datetime":
                raise SchemaError(
                    f"column {col!r} is a datetime; the DP generators model numerical and categorical "
                    "columns only (declare it numerical with public bounds, or drop it)"
                )
            nullable = col in schema.nullable
            if kind == "numerical":
                given = bounds.bounds if bounds is not None else schema.bounds
                if col not in given:
                    raise SchemaError(
                        f"numerical column {col!r} has no bounds: declare dataset.schema.bounds.{col} (public, "
                        f"cited) or dataset.schema.dp_bounds.{col} (a coarse range for a DP release) and build "
                        "the bounds with bench.generators.dp_bounds.resolve_bounds"
                    )
                lo, hi = given[col]
                source = "data" if col in self.data_dependent else "dp" if col in released else "schema"
                codes.append(
                    _ColumnCode(
                        col,
                        "numerical",
                        float(lo),
                        float(hi),
                        int(self.n_bins),
                        col in schema.integers,
                        source=source,
                        nullable=nullable,
                    )
                )
            else:  # categorical / boolean
                if col in schema.domains:
                    codes.append(
                        _ColumnCode(col, "categorical", categories=list(schema.domains[col]), nullable=nullable)
                    )
                elif kind == "boolean":
                    codes.append(_ColumnCode(col, "categorical", categories=["False", "True"], nullable=nullable))
                elif self.allow_data_bounds:
                    cats = sorted(train[col].dropna().astype(str).unique().tolist())
                    codes.append(_ColumnCode(col, "categorical", categories=cats, source="data", nullable=nullable))
                    self.data_dependent.append(col)
                else:
                    raise SchemaError(
                        f"categorical column {col!r} has no public domain in the schema "
                        f"(dataset.schema.domains.{col}: [...]); a DP generator cannot list its "
                        "categories from the training rows without spending budget. Declare it, or pass "
                        "generator.allow_data_bounds=true (non-private: the run's scope will say so)"
                    )
        if not codes:
            raise SchemaError("the schema has no numerical or categorical column to model")
        self.codes_ = codes
        self.output_info_list = [c.spans for c in codes]
        self.output_dimensions = sum(c.dim for c in codes)
        return self

    def state(self) -> list[dict[str, Any]]:
        """Everything the fitted encoding holds, as plain data (for audits and tests)."""
        return [
            dict(
                name=c.name,
                kind=c.kind,
                low=c.low,
                high=c.high,
                n_bins=c.n_bins,
                integer=c.integer,
                categories=list(c.categories),
                source=c.source,
                nullable=c.nullable,
            )
            for c in self.codes_
        ]

    def missing_positions(self) -> list[int]:
        """Positions in the encoding of the missing slot of every non-nullable column (never sampled)."""
        out = []
        for i, st, _ed in self.softmax_spans():
            c = self.codes_[i]
            if not c.nullable:
                out.append(st + c.missing_slot)
        return out

    # ------------------------------------------------------------ transform
    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode ``df`` (n rows) into a float32 array of shape ``(n, output_dimensions)``."""
        n = len(df)
        blocks = []
        for c in self.codes_:
            s = df[c.name]
            if c.kind == "numerical":
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
                miss = np.isnan(v)
                v = np.clip(np.where(miss, c.low, v), c.low, c.high)
                at_lo, at_hi = (v == c.low) & ~miss, (v == c.high) & ~miss
                pos = (v - c.low) / (c.high - c.low) * c.n_bins
                b = np.minimum(np.floor(pos), c.n_bins - 1)
                offset = np.where(miss | at_lo | at_hi, 0.0, (pos - b) * 2.0 - 1.0)
                slot = np.where(miss, 0, np.where(at_lo, 1, np.where(at_hi, 2, 3 + b))).astype(int)
                onehot = np.zeros((n, c.n_bins + 3), dtype=np.float32)
                onehot[np.arange(n), slot] = 1.0
                blocks += [offset.reshape(-1, 1).astype(np.float32), onehot]
            else:
                index = {k: i for i, k in enumerate(c.categories)}
                unknown = len(c.categories)
                codes = np.array(
                    [index.get(x, unknown) if isinstance(x, str) else unknown for x in s.to_numpy()], dtype=int
                )
                onehot = np.zeros((n, unknown + 1), dtype=np.float32)
                onehot[np.arange(n), codes] = 1.0
                blocks.append(onehot)
        return np.concatenate(blocks, axis=1)

    def inverse_transform(self, data: np.ndarray, slots: list[np.ndarray]) -> pd.DataFrame:
        """Decode generator output.

        Args:
            data: ``(n, output_dimensions)`` array; only the tanh (offset)
                entries are read, already squashed into ``[-1, 1]``.
            slots: one int array of length ``n`` per column: the chosen one-hot
                slot (sampled by the model from its softmax span).
        Returns:
            DataFrame with the encoded columns (NaN for the missing slot).
        """
        out, st = {}, 0
        for c, slot in zip(self.codes_, slots):
            if c.kind == "numerical":
                offset = np.clip(data[:, st], -1.0, 1.0)
                width = (c.high - c.low) / c.n_bins
                b = np.clip(slot - 3, 0, c.n_bins - 1)
                v = c.low + (b + (offset + 1.0) / 2.0) * width
                v = np.where(slot == 1, c.low, np.where(slot == 2, c.high, v))
                out[c.name] = numeric_output(v, c.low, c.high, c.integer, missing=np.asarray(slot) == 0)
            else:
                cats = np.array(list(c.categories) + [None], dtype=object)
                vals = cats[np.asarray(slot, dtype=int)]
                out[c.name] = pd.Series(vals, dtype=object).where(pd.notna(vals), np.nan)
            st += c.dim
        return pd.DataFrame(out)

    def softmax_spans(self) -> list[tuple[int, int, int]]:
        """``(column index, start, end)`` of every column's softmax span in the encoding."""
        out, st = [], 0
        for i, c in enumerate(self.codes_):
            for s in c.spans:
                if s.activation_fn == "softmax":
                    out.append((i, st, st + s.dim))
                st += s.dim
        return out

    def tanh_positions(self) -> list[int]:
        """Indices of the tanh (offset) entries in the encoding."""
        out, st = [], 0
        for c in self.codes_:
            for s in c.spans:
                if s.activation_fn == "tanh":
                    out.append(st)
                st += s.dim
        return out


# ----------------------------------------------------------- data loading
class RowTensor(Dataset):
    """The encoded training rows as one tensor, fetched a whole batch at a time.

    ``__getitems__`` lets torch's DataLoader (and Opacus' Poisson loader built
    from it) index the tensor once per batch instead of calling ``__getitem__``
    and collating once per row.
    """

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        return (self.x[i],)

    def __getitems__(self, idx: list[int]) -> tuple[torch.Tensor]:
        return (self.x[torch.as_tensor(idx, dtype=torch.long)],)


def _identity_collate(batch):
    return batch


class PoissonBatches(Sampler):
    """Poisson-sampled batches of row indices drawn from a :class:`NoiseSource`.

    Each of ``steps`` batches holds every row independently with probability
    ``q`` (so a batch may be empty and its size is Binomial(n, q)); the masks
    come from ``noise.bernoulli``, the same source as the fit's Gaussian noise.
    Under replace-one neighbours the masks do not depend on the data at all.

    Source: Abadi et al. 2016 (Poisson-sampled "lots"); the sampling the
    subsampled-Gaussian accountant assumes.
    """

    def __init__(self, n: int, q: float, steps: int, noise: NoiseSource) -> None:
        self.n, self.q, self.steps, self.noise = int(n), float(q), int(steps), noise

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield np.flatnonzero(self.noise.bernoulli(self.q, self.n)).tolist()


def shuffled_batches(n: int, batch_size: int, steps: int):
    """Index tensors for non-private training: reshuffle every pass, ``steps`` batches in all."""
    done = 0
    while done < steps:
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            if done >= steps:
                return
            yield perm[i : i + batch_size]
            done += 1


def attach_noise(optimizer: Any, noise: NoiseSource, counter: list[int]) -> None:
    """Make an Opacus optimizer draw its Gaussian noise from ``noise`` (this instance only).

    Replaces ``optimizer.add_noise`` (the method both ``DPOptimizer`` and the
    ghost-clipping ``DPOptimizerFastGradientClipping`` call after clipping)
    with one that mirrors it (check and mark the processed flag of each
    parameter's clipped sum, ``p.grad = summed_grad + N(0, (sigma C)^2)``) but
    draws the noise from the fit's NoiseSource as float32 tensors. Each call
    increments ``counter[0]``: the number of noisy steps that ran.
    """
    from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

    def add_noise() -> None:
        sigma = getattr(optimizer, "_adjusted_noise_multiplier", optimizer.noise_multiplier)
        std = float(sigma) * float(optimizer.max_grad_norm)
        for p in optimizer.params:
            _check_processed_flag(p.summed_grad)
            z = torch.from_numpy(noise.normal(tuple(p.summed_grad.shape), scale=std).astype(np.float32))
            p.grad = (p.summed_grad + z.to(device=p.summed_grad.device, dtype=p.summed_grad.dtype)).view_as(p)
            _mark_as_processed(p.summed_grad)
        counter[0] += 1

    optimizer.add_noise = add_noise


@dataclass
class DPTraining:
    """What :func:`make_dp_training` returns.

    ``steps_run`` is a one-element list counting the noisy steps that ran
    (the accountant's step count after training).
    """

    module: nn.Module
    optimizer: Any
    loader: DataLoader
    criterion: Any
    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    total_steps: int
    delta: float
    pure_epsilons: tuple[float, ...] = ()
    steps_run: list[int] = field(default_factory=lambda: [0])

    def epsilon(self, steps: int | None = None) -> float:
        """Epsilon at ``delta`` after ``steps`` noisy steps (default: the steps that ran), pure parts included."""
        k = self.steps_run[0] if steps is None else int(steps)
        return replace_one_epsilon(self.noise_multiplier, self.sample_rate, k, self.delta, self.pure_epsilons)


def make_dp_training(
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    batch_size: int,
    epochs: int,
    target_epsilon: float,
    target_delta: float,
    max_grad_norm: float,
    grad_sample_mode: str,
    noise: NoiseSource,
    pure_epsilons: tuple[float, ...] = (),
    criterion: Any = None,
) -> DPTraining:
    """Make ``module``/``optimizer`` private, calibrated to a replace-one budget.

    Sampling rate ``q = min(1, batch_size / n)``, ``ceil(n / batch_size)``
    steps per epoch, ``epochs`` epochs (:func:`~bench.generators.accounting.poisson_schedule`).
    The noise multiplier is the smallest sigma whose PLD epsilon under
    replace-one, composed with ``pure_epsilons``, is at most
    ``target_epsilon`` at ``target_delta`` for exactly that q and step count
    (:func:`~bench.generators.accounting.calibrate_noise_multiplier`).
    Opacus clips per-sample gradients (``grad_sample_mode``) and averages by
    the expected batch ``q * n``; batches come from :class:`PoissonBatches`
    and noise from :func:`attach_noise`, both drawing on ``noise``. Opacus'
    own accountant is detached: it would record rate ``1 / len(loader)``.

    Args:
        x: ``(n, d)`` encoded training rows.
        noise: the fit's NoiseSource.
        pure_epsilons: the fit's other (epsilon, 0)-DP releases.
        criterion: loss with a ``reduction`` attribute (ghost mode only).
    Returns:
        :class:`DPTraining`.
    Raises:
        ConfigError: if the budget cannot be reached.
    """
    from opacus import PrivacyEngine

    n = int(x.shape[0])
    q, per_epoch, total = poisson_schedule(n, batch_size, epochs)
    try:
        sigma = calibrate_noise_multiplier(
            float(target_epsilon), float(target_delta), q, total, tuple(float(e) for e in pure_epsilons)
        )
    except ValueError as exc:
        raise ConfigError(
            f"generator.epsilon={target_epsilon} cannot be reached with delta={target_delta:.3g}, "
            f"{epochs} epochs and sample rate {q:.4g} ({exc})"
        ) from None
    loader = DataLoader(RowTensor(x), batch_sampler=PoissonBatches(n, q, total, noise), collate_fn=_identity_collate)
    engine = PrivacyEngine(accountant="rdp", secure_mode=False)  # its accountant and RNG are not used
    kw: dict[str, Any] = dict(
        module=module,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=sigma,
        max_grad_norm=float(max_grad_norm),
        poisson_sampling=False,
        grad_sample_mode="hooks" if grad_sample_mode == "functorch" else grad_sample_mode,
    )
    if grad_sample_mode == "functorch":
        kw["force_functorch"] = True
    if grad_sample_mode == "ghost":
        kw["criterion"] = criterion
        module, optimizer, criterion, loader = engine.make_private(**kw)
    else:
        module, optimizer, loader = engine.make_private(**kw)
        criterion = None
    optimizer.expected_batch_size = q * n  # Opacus set int(n / len(loader)); averaging uses the Poisson mean
    optimizer.step_hook = None  # detach Opacus' accountant (it would record rate 1 / len(loader))
    training = DPTraining(
        module,
        optimizer,
        loader,
        criterion,
        float(sigma),
        q,
        per_epoch,
        total,
        float(target_delta),
        tuple(float(e) for e in pure_epsilons),
    )
    attach_noise(optimizer, noise, training.steps_run)
    return training


def dp_batches(training: DPTraining):
    """Yield ``(epoch, step_in_epoch, batch)`` for exactly ``training.total_steps`` Poisson batches."""
    for step, (xb,) in enumerate(training.loader):
        yield step // training.steps_per_epoch, step % training.steps_per_epoch, xb


# --------------------------------------------------------------- generator
class DPGeneratorBase(BaseGenerator):
    """Common arguments, validation and accounting of the DP-SGD generators.

    Args:
        epsilon: target epsilon of the (epsilon, delta)-DP guarantee under
            replace-one neighbours; ``float("inf")`` trains the same
            architecture without clipping, noise or Poisson sampling (a
            matched non-private reference, no guarantee claimed). At most
            :data:`~bench.generators.accounting.PLD_MAX_EPSILON`.
        delta: target delta; None means ``1 / n_train^2`` (see
            :data:`~bench.generators.accounting.DELTA_RATIONALE`). Must be in
            ``(0, 1 / n_train)``.
        epochs: passes over the data (``ceil(n / batch_size)`` Poisson steps
            each).
        batch_size: expected rows per Poisson batch (``q = batch_size / n``).
        max_grad_norm: per-sample gradient clipping norm C.
        accountant: ``"pld"``, the only one: Google ``dp-accounting``'s PLD
            accountant under replace-one neighbours.
        grad_sample_mode: how Opacus computes per-sample gradients
            (``"hooks"``, ``"functorch"``, ``"ew"``, ``"ghost"``; see
            ``benchmarks/dp_overhead.py`` for their cost).
        n_bins: equal-width bins per numerical column in the public encoding.
        allow_data_bounds: opt-in non-private shortcut (bounds/domains the
            schema lacks are read from the rows); the run's scope then says
            the guarantee is partial.
        bounds_epsilon_fraction: share of epsilon spent releasing the bounds
            of the schema's ``dp_bounds`` columns (only when there are any).
        bounds_quantiles: ``[q_low, q_high]`` of that release.
        secure_mode: draw every secret draw (Poisson masks, Gaussian noise,
            Laplace and Gumbel noise) from ``os.urandom`` instead of the seed:
            not reproducible. Model initialisation, dropout and sampling from
            the fitted model stay seeded either way.
        tuned_on: the dataset the hyperparameters were chosen on (``"none"``
            for defaults from the literature); when it is the dataset being
            released the scope is partial.
        verbose: progress bar with the epoch and the epsilon spent so far.
        random_state: seed for initialisation, sampling and (unless
            ``secure_mode``) the noise.
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: int = 50,
        batch_size: int = 500,
        max_grad_norm: float = 1.0,
        accountant: str = ACCOUNTANT,
        grad_sample_mode: str = "ghost",
        n_bins: int = 10,
        allow_data_bounds: bool = False,
        bounds_epsilon_fraction: float = DEFAULT_FRACTION,
        bounds_quantiles=DEFAULT_QUANTILES,
        secure_mode: bool = False,
        tuned_on: str = "none",
        verbose: bool = True,
        random_state: int | None = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant
        self.grad_sample_mode = grad_sample_mode
        self.n_bins = n_bins
        self.allow_data_bounds = allow_data_bounds
        self.bounds_epsilon_fraction = bounds_epsilon_fraction
        self.bounds_quantiles = bounds_quantiles
        self.secure_mode = secure_mode
        self.tuned_on = tuned_on
        self.verbose = verbose

    # ------------------------------------------------------------ checks
    def _check_settings(self, n_train: int) -> None:
        """Validate the settings and resolve ``epsilon_``, ``delta_``, ``noise_``.

        Raises:
            ConfigError: naming the setting at fault.
        """
        try:
            eps = float(self.epsilon)
        except (TypeError, ValueError):
            raise ConfigError(f"generator.epsilon must be a positive number or inf, got {self.epsilon!r}") from None
        if math.isnan(eps) or eps <= 0:
            raise ConfigError(f"generator.epsilon must be > 0 (or inf for no privacy), got {self.epsilon!r}")
        if self.accountant in ("prv", "rdp"):
            raise ConfigError(
                f"generator.accountant={self.accountant!r}: tailbench states epsilon under replace-one neighbours "
                "(n is public: the synthetic table has n rows), and Opacus' prv/rdp accountants only account "
                "add/remove-one; use accountant=pld (Google dp-accounting's PLD accountant, which takes the "
                "neighbouring relation as a parameter)"
            )
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(f"generator.accountant={self.accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
        if math.isfinite(eps) and eps > PLD_MAX_EPSILON:
            raise ConfigError(
                f"generator.epsilon={eps:g}: the PLD accountant's discretisation grows with epsilon (epsilon 1000 "
                f"took 75 s and 1.9 GB to calibrate, epsilon 10000 needed more than 8 GB); use epsilon <= "
                f"{PLD_MAX_EPSILON:g}, or epsilon=inf for the non-private reference"
            )
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise ConfigError(
                f"generator.grad_sample_mode={self.grad_sample_mode!r}; use one of {', '.join(GRAD_SAMPLE_MODES)}"
            )
        for key in ("epochs", "batch_size"):
            v = getattr(self, key)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"generator.{key} must be a positive integer, got {v!r}")
        try:
            c = float(self.max_grad_norm)
        except (TypeError, ValueError):
            c = float("nan")
        if not (c > 0 and math.isfinite(c)):
            raise ConfigError(f"generator.max_grad_norm must be a positive number, got {self.max_grad_norm!r}")
        if not isinstance(self.secure_mode, bool):
            raise ConfigError(f"generator.secure_mode must be true or false, got {self.secure_mode!r}")
        self.tuned_on_ = check_tuned_on(self.tuned_on)
        self.bounds_fraction_ = check_fraction(self.bounds_epsilon_fraction)
        if n_train < 2:
            raise ConfigError(f"a DP generator needs at least 2 training rows, got {n_train}")
        if self.delta is None:
            delta = default_delta(n_train)
        else:
            try:
                delta = float(self.delta)
            except (TypeError, ValueError):
                raise ConfigError(f"generator.delta must be a number in (0, 1/n_train), got {self.delta!r}") from None
        if not (0 < delta < 1.0 / n_train):
            raise ConfigError(
                f"generator.delta={delta:.3g} must be in (0, 1/n_train) = (0, {1.0 / n_train:.3g}) for "
                f"n_train={n_train} (a delta of 1/n allows releasing a whole record); default is "
                f"1/n_train^2 = {default_delta(n_train):.3g}"
            )
        self.epsilon_ = eps
        self.delta_ = delta
        self.private_ = math.isfinite(eps)
        self.noise_ = NoiseSource(secure=self.secure_mode, seed=self.seed_)

    def _fit_transformer(self, train: pd.DataFrame) -> np.ndarray:
        """Resolve the bounds (public, DP-released or data), build the public encoding, encode ``train``."""
        sch = self.schema_
        check_public_schema(sch, self.name, allow_data_bounds=self.allow_data_bounds)
        eps_b = self.bounds_fraction_ * self.epsilon_ if (self.private_ and needs_release(sch)) else 0.0
        self.bounds_epsilon_ = eps_b
        self.bounds_ = resolve_bounds(
            train,
            sch,
            epsilon=eps_b if self.private_ else math.inf,
            noise=self.noise_,
            quantiles=self.bounds_quantiles,
            allow_data_bounds=self.allow_data_bounds,
        )
        self.transformer_ = PublicTransformer(n_bins=self.n_bins, allow_data_bounds=self.allow_data_bounds)
        self.transformer_.fit(train, sch, bounds=self.bounds_)
        self.id_columns_ = [c for c in train.columns if sch.columns.get(c) == "id"]
        return self.transformer_.transform(train)

    def _pure_epsilons(self) -> tuple[float, ...]:
        """The fit's (epsilon, 0)-DP releases besides DP-SGD (composed with it in the PLD)."""
        return tuple(self.bounds_.epsilons)

    # ---------------------------------------------------------- progress
    def _progress(self, total: int):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.name, unit="epoch", disable=not self.verbose, leave=False)

    def _end_epoch(self, bar, epoch: int, t0: float) -> None:
        """Record the epoch's time; the bar shows the epoch and the epsilon spent so far, nothing read from rows.

        The spent epsilon is recomputed about ten times per fit (it takes up
        to a second with the PLD accountant).
        """
        self.epoch_times_.append(time.perf_counter() - t0)
        if not self.verbose:
            return
        every = max(1, int(self.epochs) // 10)
        if self.private_ and ((epoch + 1) % every == 0 or epoch + 1 == int(self.epochs)):
            self._bar_eps = f"eps {self.training_.epsilon():.3f}/{self.epsilon_:g}"
        elif not self.private_:
            self._bar_eps = "eps inf (no privacy)"
        bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs} {getattr(self, '_bar_eps', '')}".rstrip())
        bar.update(1)

    # ---------------------------------------------------------- privacy
    def _scope(self) -> tuple[list[str], list[str], list[str]]:
        """``(scope, notes, outside)`` shared by both models; subclasses add their parts."""
        scope, notes, outside = [], [], []
        dd = self.transformer_.data_dependent
        if dd:
            scope.append("preprocessing:data-bounds(" + ",".join(dd) + ")")
            outside.append(
                "preprocessing: bounds/domains of " + ", ".join(dd) + " read from the training rows (allow_data_bounds)"
            )
        else:
            scope.append("preprocessing:public-schema")
        if self.bounds_.released:
            scope.append(
                f"bounds:exponential-mechanism({','.join(self.bounds_.released)}; epsilon={self.bounds_epsilon_:.4g})"
            )
        scope += [
            "output-format:public-schema(integers,nullable)",
            "sampling:poisson",
            "stopping:fixed-epochs",
            "selection:none",
        ]
        if self.noise_.kind == "seeded":
            notes.append(
                "seeded noise and Poisson masks: reproducible for benchmarking; the guarantee holds only "
                "for someone who does not know the seed (written to run.json)"
            )
        notes.append("textbook floating-point Gaussian/Laplace/Gumbel samplers (not snapped or discrete, Mironov 2012)")
        outside += tuning_scope(self.tuned_on_, self.schema_.name)[1]
        return scope, notes, outside

    def privacy_spent(self) -> PrivacySpent | None:
        """Epsilon spent, delta and every field of the claim (:class:`~bench.generators.base.PrivacySpent`).

        ``epsilon=inf`` runs report ``epsilon=inf``, no delta, accountant
        ``"none"`` and ``full_scope=False``. Returns None before ``fit``.
        """
        if not hasattr(self, "transformer_"):
            return None
        scope, notes, outside = self._scope()
        tuning, _ = tuning_scope(self.tuned_on_, self.schema_.name)
        common = dict(neighbouring=NEIGHBOURING, bounds_source=self.bounds_.describe(), tuning_source=tuning)
        if not self.private_:
            return PrivacySpent(
                epsilon=math.inf,
                delta=None,
                accountant="none",
                scope=["no-noise: epsilon=inf, no privacy guarantee"],
                full_scope=False,
                notes=[NO_NOISE_NOTE],
                delta_rationale="none: no guarantee is claimed",
                rng="none: no noise",
                outside=["everything: epsilon=inf trains without noise"] + outside,
                **common,
            )
        t = self.training_
        notes.append(
            f"noise multiplier {t.noise_multiplier:.4g}, sample rate {t.sample_rate:.4g}, "
            f"{t.steps_run[0]} steps, max_grad_norm {float(self.max_grad_norm):g}"
        )
        rationale = DELTA_RATIONALE if self.delta is None else f"user-set delta={self.delta_:.3g} (< 1/n)"
        return PrivacySpent(
            epsilon=float(self.spent_epsilon_),
            delta=self.delta_,
            accountant=accountant_label(),
            scope=scope,
            full_scope=not outside,
            notes=notes,
            delta_rationale=rationale,
            rng=self.noise_.describe(),
            outside=outside,
            **common,
        )

    def _finish_accounting(self) -> None:
        t = self.training_
        if t.steps_run[0] != t.total_steps:  # pragma: no cover - guards the training loop
            raise RuntimeError(f"{self.name}: {t.steps_run[0]} noisy steps ran, calibrated for {t.total_steps}")
        self.spent_epsilon_ = t.epsilon()
        if self.spent_epsilon_ > self.epsilon_ * (1 + 1e-9):  # pragma: no cover - guard
            raise RuntimeError(
                f"{self.name}: spent epsilon {self.spent_epsilon_:.4f} exceeds the target "
                f"{self.epsilon_:g}; refusing to report a violated budget"
            )

    # ----------------------------------------------------------- sampling
    def _torch_generator(self) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(int(self.rng_.integers(0, 2**62)))
        return g

    def _decode(self, raw: torch.Tensor, g: torch.Generator, n: int, continuous_noise: float = 0.0) -> pd.DataFrame:
        """Sample one-hot slots from softmax spans and decode ``raw`` logits (``(n, d)``).

        The missing slot of a non-nullable column is never sampled (its logit
        is set to -inf: post-processing on the public schema).
        """
        tr = self.transformer_
        data = raw.clone()
        for pos in tr.tanh_positions():
            v = torch.tanh(raw[:, pos])
            if continuous_noise > 0:
                v = v + continuous_noise * torch.randn(v.shape, generator=g)
            data[:, pos] = v.clamp(-1, 1)
        logits = raw.clone()
        blocked = tr.missing_positions()
        if blocked:
            logits[:, torch.as_tensor(blocked, dtype=torch.long)] = -math.inf
        slots = []
        for _, st, ed in tr.softmax_spans():
            probs = torch.softmax(logits[:, st:ed], dim=1)
            slots.append(torch.multinomial(probs, 1, generator=g).squeeze(1).numpy())
        out = tr.inverse_transform(data.numpy(), slots)
        for c in self.id_columns_:
            out[c] = [f"id_{i}" for i in range(n)]
        return out
