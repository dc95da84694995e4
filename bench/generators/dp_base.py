"""Shared machinery of tailbench's DP-SGD generators (``dp_tvae``, ``dp_ctgan``).

Three pieces, each built so that nothing data-dependent escapes the accountant:

* :class:`PublicTransformer`: a reversible encoding of a table built from the
  schema's *public* bounds and category domains only (no Bayesian GMM, no
  min/max, no category list measured on the training rows).
* :func:`make_dp_training`: wraps a module, optimizer and the training rows with
  Opacus (Poisson sampling, per-sample clipping, Gaussian noise) with the noise
  multiplier calibrated on exactly the sample rate and step count that the
  accountant will record.
* :class:`DPGeneratorBase`: argument validation, ``delta`` default, the
  progress bar, and :meth:`privacy_spent` with its scope.

Why not ``PrivacyEngine.make_private_with_epsilon``: it calibrates the noise for
``int(epochs / sample_rate)`` steps at ``sample_rate = 1 / len(loader)``, while
its Poisson loader runs ``int(1 / sample_rate)`` steps per epoch and the
accountant records that rate. Both truncate floats: with 93 batches per epoch
the loader has 92 steps, the accountant counts rate 1/92 and the run spends
epsilon 1.007 for a target of 1.0 (PRV). We call Opacus'
``get_noise_multiplier`` with the rate and the integer step count the
accountant will see, then ``make_private``; the spent epsilon is then never
above the target (tested over a grid).

Source: Abadi et al. 2016, "Deep Learning with Differential Privacy" (DP-SGD);
Opacus 1.6 (Yousefpour et al. 2021); PRV accountant: Gopi et al. 2021.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bench.errors import ConfigError, SchemaError
from bench.generators.base import BaseGenerator, PrivacySpent

ACCOUNTANTS = ("prv", "rdp")
# Opacus' PRV accountant discretises the privacy-loss distribution on a grid that
# grows with epsilon: calibrating epsilon 256 took 74 s and ~5 GB here, epsilon 1000
# was killed for memory. Above this bound, ask for rdp (or inf) instead of crashing.
PRV_MAX_EPSILON = 100.0
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
    """How one column is encoded (all fields are public knowledge)."""

    name: str
    kind: str                       # "numerical" | "categorical"
    low: float = 0.0
    high: float = 1.0
    n_bins: int = 0
    integer: bool = False
    categories: list[str] = field(default_factory=list)
    source: str = "schema"          # "schema" or "data" (the non-private shortcut)

    @property
    def spans(self) -> list:
        if self.kind == "numerical":
            # offset within the bin, then one-hot over [missing, ==low, ==high, bin_0..bin_{k-1}]
            return [SpanInfo(1, "tanh"), SpanInfo(self.n_bins + 3, "softmax")]
        return [SpanInfo(len(self.categories) + 1, "softmax")]  # last slot = missing / unknown

    @property
    def dim(self) -> int:
        return sum(s.dim for s in self.spans)


class PublicTransformer:
    """Reversible table encoding from the schema's public bounds and domains.

    Numerical column with public bounds ``[low, high]``: values are clipped to
    the bounds, then encoded as a one-hot over ``[missing, ==low, ==high,
    bin_0 .. bin_{k-1}]`` (``k = n_bins`` equal-width bins over the bounds; the
    two point masses keep the spikes at a bound such as capital-gain = 0 or a
    top code) plus a scalar offset within the bin in ``[-1, 1]`` (a tanh span).
    This is CTGAN's mode-specific normalisation with public, data-independent
    "modes" in place of a Bayesian GMM fitted to the rows.

    Categorical or boolean column with a public domain: one-hot over the domain
    plus one slot for missing values and values outside the domain (both decode
    to NaN). Boolean columns default to the domain ``["False", "True"]``.

    ``id`` columns are not modelled (the generator writes ``id_<i>``). Whether a
    numerical column is written back as integers follows its dtype after schema
    coercion (int64), which is part of the table's format, not its values.

    Args:
        n_bins: equal-width bins per numerical column.
        allow_data_bounds: the non-private shortcut: take a missing bound from
            the training min/max and a missing domain from the training
            categories. The columns it touched are listed in
            :attr:`data_dependent` (and in the generator's privacy scope).
    Raises (in :meth:`fit`):
        SchemaError: a numerical column without public bounds or a categorical
            column without a public domain (unless ``allow_data_bounds``), or a
            datetime column (not modelled by the DP generators).
    """

    def __init__(self, n_bins: int = 10, allow_data_bounds: bool = False) -> None:
        self.n_bins = n_bins
        self.allow_data_bounds = allow_data_bounds

    # ------------------------------------------------------------------ fit
    def fit(self, train: pd.DataFrame, schema: Any) -> "PublicTransformer":
        """Build the encoding from ``schema`` (and only the dtypes of ``train``).

        ``train``'s values are read only for columns without public knowledge
        and only when ``allow_data_bounds`` is True.
        """
        if int(self.n_bins) < 1:
            raise ConfigError(f"generator.n_bins must be >= 1, got {self.n_bins}")
        codes: list[_ColumnCode] = []
        self.data_dependent: list[str] = []
        for col, kind in schema.columns.items():
            if kind == "id":
                continue
            if kind == "datetime":
                raise SchemaError(
                    f"column {col!r} is a datetime; the DP generators model numerical and categorical "
                    "columns only (declare it numerical with public bounds, or drop it)")
            if kind == "numerical":
                integer = pd.api.types.is_integer_dtype(train[col].dtype)
                if col in schema.bounds:
                    lo, hi = schema.bounds[col]
                    codes.append(_ColumnCode(col, "numerical", float(lo), float(hi), int(self.n_bins), integer))
                elif self.allow_data_bounds:
                    vals = pd.to_numeric(train[col], errors="coerce").dropna()
                    lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
                    hi = hi if hi > lo else lo + 1.0
                    codes.append(_ColumnCode(col, "numerical", lo, hi, int(self.n_bins), integer, source="data"))
                    self.data_dependent.append(col)
                else:
                    raise SchemaError(
                        f"numerical column {col!r} has no public bounds in the schema "
                        f"(dataset.schema.bounds.{col}: [low, high]); a DP generator cannot take them "
                        "from the training rows without spending budget. Declare them, or pass "
                        "generator.allow_data_bounds=true (non-private: the run's scope will say so)")
            else:  # categorical / boolean
                if col in schema.domains:
                    cats = list(schema.domains[col])
                    codes.append(_ColumnCode(col, "categorical", categories=cats))
                elif kind == "boolean":
                    codes.append(_ColumnCode(col, "categorical", categories=["False", "True"]))
                elif self.allow_data_bounds:
                    cats = sorted(train[col].dropna().astype(str).unique().tolist())
                    codes.append(_ColumnCode(col, "categorical", categories=cats, source="data"))
                    self.data_dependent.append(col)
                else:
                    raise SchemaError(
                        f"categorical column {col!r} has no public domain in the schema "
                        f"(dataset.schema.domains.{col}: [...]); a DP generator cannot list its "
                        "categories from the training rows without spending budget. Declare it, or pass "
                        "generator.allow_data_bounds=true (non-private: the run's scope will say so)")
        if not codes:
            raise SchemaError("the schema has no numerical or categorical column to model")
        self.codes_ = codes
        self.output_info_list = [c.spans for c in codes]
        self.output_dimensions = sum(c.dim for c in codes)
        return self

    def state(self) -> list[dict[str, Any]]:
        """Everything the fitted encoding holds, as plain data (for audits and tests)."""
        return [dict(name=c.name, kind=c.kind, low=c.low, high=c.high, n_bins=c.n_bins,
                     integer=c.integer, categories=list(c.categories), source=c.source)
                for c in self.codes_]

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
                codes = np.array([index.get(x, unknown) if isinstance(x, str) else unknown
                                  for x in s.to_numpy()], dtype=int)
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
                if c.integer:
                    v = np.round(v)
                v = np.clip(v, c.low, c.high).astype(float)
                v[slot == 0] = np.nan
                out[c.name] = v.astype(np.int64) if (c.integer and not np.isnan(v).any()) else v
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


def row_loader(x: torch.Tensor, batch_size: int) -> DataLoader:
    """A DataLoader over encoded rows yielding ``(batch,)`` tuples (no per-row collate)."""
    return DataLoader(RowTensor(x), batch_size=int(batch_size), shuffle=True, collate_fn=_identity_collate)


def shuffled_batches(n: int, batch_size: int, steps: int):
    """Index tensors for non-private training: reshuffle every pass, ``steps`` batches in all."""
    done = 0
    while done < steps:
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            if done >= steps:
                return
            yield perm[i:i + batch_size]
            done += 1


@functools.lru_cache(maxsize=256)
def noise_multiplier(target_epsilon: float, target_delta: float, sample_rate: float, steps: int,
                     accountant: str) -> float:
    """Opacus' ``get_noise_multiplier`` for these arguments, computed once per process.

    It is a pure function of its arguments and, with the PRV accountant, takes
    seconds per call; shadow-model games (attacks/shadow.py) refit the same DP
    generator hundreds of times with a handful of distinct argument sets.

    Raises:
        ValueError: Opacus' "privacy budget is too low" (not cached).
    """
    from opacus.accountants.utils import get_noise_multiplier

    return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=target_delta,
                                      sample_rate=sample_rate, steps=steps, accountant=accountant))


@dataclass
class DPTraining:
    """What :func:`make_dp_training` returns."""

    module: nn.Module
    optimizer: Any
    loader: DataLoader
    engine: Any
    criterion: Any
    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    total_steps: int


def make_dp_training(*, module: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                     batch_size: int, epochs: int, target_epsilon: float, target_delta: float,
                     max_grad_norm: float, accountant: str, grad_sample_mode: str,
                     secure_mode: bool = False, criterion: Any = None) -> DPTraining:
    """Make ``module``/``optimizer`` private with Opacus, calibrated to a budget.

    The Poisson sample rate is ``q = 1 / len(loader)`` as Opacus computes it
    from the DataLoader (about ``batch_size / n``); training runs exactly
    ``epochs * steps_per_epoch`` optimizer steps, and the noise multiplier is
    Opacus' ``get_noise_multiplier`` for that rate and step count with the named
    accountant.

    Args:
        x: ``(n, d)`` encoded training rows.
        criterion: loss with a ``reduction`` attribute (ghost mode only).
    Returns:
        :class:`DPTraining`.
    Raises:
        ConfigError: if the budget cannot be reached (Opacus: "privacy budget
            is too low") or a setting is out of range.
    """
    from opacus import PrivacyEngine

    loader = row_loader(x, batch_size)
    batches = len(loader)
    # Opacus' DPDataLoader runs int(1 / (1 / batches)) steps per epoch and the
    # accountant records rate 1 / that; calibrate on the same numbers.
    steps_per_epoch = int(1 / (1 / batches))
    sample_rate = 1 / steps_per_epoch
    total_steps = int(epochs) * steps_per_epoch
    try:
        sigma = noise_multiplier(float(target_epsilon), float(target_delta), sample_rate, total_steps, accountant)
    except ValueError as exc:
        raise ConfigError(
            f"generator.epsilon={target_epsilon} cannot be reached with delta={target_delta:.3g}, "
            f"{epochs} epochs and sample rate {sample_rate:.4g} ({exc})") from None
    try:
        engine = PrivacyEngine(accountant=accountant, secure_mode=bool(secure_mode))
    except ImportError as exc:
        raise ConfigError(f"generator.secure_mode=true needs the torchcsprng package, which is not part of "
                          f"tailbench's dependencies ({exc}); use secure_mode=false") from None
    kw: dict[str, Any] = dict(module=module, optimizer=optimizer, data_loader=loader, noise_multiplier=sigma,
                              max_grad_norm=float(max_grad_norm), poisson_sampling=True,
                              grad_sample_mode="hooks" if grad_sample_mode == "functorch" else grad_sample_mode)
    if grad_sample_mode == "functorch":
        kw["force_functorch"] = True
    if grad_sample_mode == "ghost":
        kw["criterion"] = criterion
        module, optimizer, criterion, dp_loader = engine.make_private(**kw)
    else:
        module, optimizer, dp_loader = engine.make_private(**kw)
        criterion = None
    if len(dp_loader) != steps_per_epoch:  # pragma: no cover - guards an Opacus change
        raise RuntimeError(f"Opacus' Poisson loader has {len(dp_loader)} steps per epoch, "
                           f"expected {steps_per_epoch}; the calibration would not match the accountant")
    return DPTraining(module, optimizer, dp_loader, engine, criterion, float(sigma), sample_rate,
                      steps_per_epoch, total_steps)


def dp_batches(training: DPTraining):
    """Yield ``(epoch, step_in_epoch, batch)`` for exactly ``training.total_steps`` Poisson batches."""
    step = 0
    epoch = 0
    while step < training.total_steps:
        for i, (xb,) in enumerate(training.loader):
            if step >= training.total_steps:
                return
            yield epoch, i, xb
            step += 1
        epoch += 1


# --------------------------------------------------------------- generator
class DPGeneratorBase(BaseGenerator):
    """Common arguments, validation and accounting of the DP-SGD generators.

    Args:
        epsilon: target epsilon of the (epsilon, delta)-DP guarantee;
            ``float("inf")`` trains the same architecture without clipping,
            noise or Poisson sampling (a matched non-private reference).
        delta: target delta; None means ``1 / (10 * n_train)``. Must be
            in ``(0, 1 / n_train)``.
        epochs: passes over the data (Poisson steps: ``epochs * n / batch_size``).
        batch_size: expected rows per Poisson batch.
        max_grad_norm: per-sample gradient clipping norm C.
        accountant: Opacus accountant for calibration and reporting
            (``"prv"``, default, or ``"rdp"``).
        grad_sample_mode: how Opacus computes per-sample gradients
            (``"hooks"``, ``"functorch"``, ``"ew"``, ``"ghost"``; see
            ``benchmarks/dp_overhead.py`` for their cost).
        n_bins: equal-width bins per numerical column in the public encoding.
        allow_data_bounds: opt-in non-private shortcut (see
            :class:`PublicTransformer`); the run's scope then says the
            guarantee is partial.
        secure_mode: Opacus' cryptographically secure noise (not reproducible
            from ``random_state``; needs the ``torchcsprng`` package, else
            ConfigError).
        verbose: progress bar with epoch, loss and epsilon spent so far.
        random_state: seed for initialisation, batches, noise and sampling.
    """

    def __init__(self, epsilon: float = 1.0, delta: float | None = None, epochs: int = 50,
                 batch_size: int = 500, max_grad_norm: float = 1.0, accountant: str = "prv",
                 grad_sample_mode: str = "ghost", n_bins: int = 10, allow_data_bounds: bool = False,
                 secure_mode: bool = False, verbose: bool = True, random_state: int | None = None) -> None:
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
        self.secure_mode = secure_mode
        self.verbose = verbose

    # ------------------------------------------------------------ checks
    def _check_settings(self, n_train: int) -> None:
        """Validate the settings and resolve ``epsilon_``, ``delta_``.

        Raises:
            ConfigError: naming the setting at fault.
        """
        try:
            eps = float(self.epsilon)
        except (TypeError, ValueError):
            raise ConfigError(f"generator.epsilon must be a positive number or inf, got {self.epsilon!r}") from None
        if math.isnan(eps) or eps <= 0:
            raise ConfigError(f"generator.epsilon must be > 0 (or inf for no privacy), got {self.epsilon!r}")
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(f"generator.accountant={self.accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
        if self.accountant == "prv" and math.isfinite(eps) and eps > PRV_MAX_EPSILON:
            raise ConfigError(
                f"generator.epsilon={eps:g} with generator.accountant=prv: Opacus' PRV accountant needs "
                f"memory that grows with epsilon (epsilon 1000 exhausted 24 GB); above {PRV_MAX_EPSILON:g} "
                "use generator.accountant=rdp, or epsilon=inf for the non-private reference")
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise ConfigError(f"generator.grad_sample_mode={self.grad_sample_mode!r}; "
                              f"use one of {', '.join(GRAD_SAMPLE_MODES)}")
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
        if n_train < 2:
            raise ConfigError(f"a DP generator needs at least 2 training rows, got {n_train}")
        if self.delta is None:
            delta = 1.0 / (10.0 * n_train)
        else:
            try:
                delta = float(self.delta)
            except (TypeError, ValueError):
                raise ConfigError(f"generator.delta must be a number in (0, 1/n_train), got {self.delta!r}") from None
        if not (0 < delta < 1.0 / n_train):
            raise ConfigError(
                f"generator.delta={delta:.3g} must be in (0, 1/n_train) = (0, {1.0 / n_train:.3g}) for "
                f"n_train={n_train} (a delta of 1/n allows releasing a whole record); default is "
                f"1/(10 n_train) = {1.0 / (10 * n_train):.3g}")
        self.epsilon_ = eps
        self.delta_ = delta
        self.private_ = math.isfinite(eps)

    def _fit_transformer(self, train: pd.DataFrame) -> np.ndarray:
        sch = self.schema_
        self.transformer_ = PublicTransformer(n_bins=self.n_bins, allow_data_bounds=self.allow_data_bounds)
        self.transformer_.fit(train, sch)
        self.id_columns_ = [c for c in train.columns if sch.columns.get(c) == "id"]
        return self.transformer_.transform(train)

    # ---------------------------------------------------------- progress
    def _progress(self, total: int):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.name, unit="epoch", disable=not self.verbose, leave=False)

    def _epsilon_so_far(self) -> float:
        if not self.private_:
            return math.inf
        return float(self.training_.engine.accountant.get_epsilon(delta=self.delta_))

    def _end_epoch(self, bar, epoch: int, loss: float, t0: float) -> None:
        self.epoch_times_.append(time.perf_counter() - t0)
        if self.verbose:
            eps = self._epsilon_so_far()
            bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs} loss {loss:.3f} "
                                f"eps {eps:.3f}/{self.epsilon_:g}")
            bar.update(1)

    # ---------------------------------------------------------- privacy
    def _scope(self) -> tuple[list[str], list[str]]:
        """(scope, notes) shared by both models; subclasses add their parts."""
        scope, notes = [], []
        dd = self.transformer_.data_dependent
        if dd:
            scope.append("preprocessing:data-bounds(" + ",".join(dd) + ")")
            notes.append("allow_data_bounds: bounds/domains of " + ", ".join(dd) +
                         " were read from the training rows without privacy; epsilon does not cover them")
        else:
            scope.append("preprocessing:public-schema")
        scope += ["sampling:poisson", "stopping:fixed-epochs", "selection:none"]
        if not self.secure_mode:
            notes.append("noise and Poisson sampling use torch's seeded PRNG (secure_mode=false): "
                         "reproducible for benchmarking, not a production-grade release")
        notes.append("integer rounding of numerical columns follows the table's dtypes (format, not values)")
        return scope, notes

    def privacy_spent(self) -> PrivacySpent | None:
        """Epsilon spent (the accountant's value), delta, accountant and scope.

        ``epsilon=inf`` runs report ``epsilon=inf`` and accountant ``"none"``.
        Returns None before ``fit``.
        """
        if not hasattr(self, "transformer_"):
            return None
        scope, notes = self._scope()
        full = not self.transformer_.data_dependent
        if not self.private_:
            return PrivacySpent(epsilon=math.inf, delta=self.delta_, accountant="none",
                                scope=["no-noise: epsilon=inf, no privacy guarantee"],
                                full_scope=full, notes=["trained without clipping, noise or Poisson sampling "
                                                        "(matched non-private reference)"])
        notes.append(f"noise multiplier {self.training_.noise_multiplier:.4g}, sample rate "
                     f"{self.training_.sample_rate:.4g}, {self.training_.total_steps} steps, "
                     f"max_grad_norm {float(self.max_grad_norm):g}")
        return PrivacySpent(epsilon=float(self.spent_epsilon_), delta=self.delta_, accountant=self.accountant,
                            scope=scope, full_scope=full, notes=notes)

    def _finish_accounting(self) -> None:
        self.spent_epsilon_ = self._epsilon_so_far()
        if self.private_ and self.spent_epsilon_ > self.epsilon_ * (1 + 1e-9):  # pragma: no cover - guard
            raise RuntimeError(f"{self.name}: spent epsilon {self.spent_epsilon_:.4f} exceeds the target "
                               f"{self.epsilon_:g}; refusing to report a violated budget")

    # ----------------------------------------------------------- sampling
    def _torch_generator(self) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(int(self.rng_.integers(0, 2**62)))
        return g

    def _decode(self, raw: torch.Tensor, g: torch.Generator, n: int, continuous_noise: float = 0.0) -> pd.DataFrame:
        """Sample one-hot slots from softmax spans and decode ``raw`` logits (``(n, d)``)."""
        tr = self.transformer_
        data = raw.clone()
        for pos in tr.tanh_positions():
            v = torch.tanh(raw[:, pos])
            if continuous_noise > 0:
                v = v + continuous_noise * torch.randn(v.shape, generator=g)
            data[:, pos] = v.clamp(-1, 1)
        slots = []
        for _, st, ed in tr.softmax_spans():
            probs = torch.softmax(raw[:, st:ed], dim=1)
            slots.append(torch.multinomial(probs, 1, generator=g).squeeze(1).numpy())
        out = tr.inverse_transform(data.numpy(), slots)
        for c in self.id_columns_:
            out[c] = [f"id_{i}" for i in range(n)]
        return out
