"""Baseline generators: the reference points every comparison needs.

* ``identity``: releases real training rows, the no-privacy upper bound on
  fidelity and the worst case for privacy.
* ``independent``: each column drawn from its own empirical marginal, so
  column shapes are kept and every correlation is broken.
* ``faker``: format-realistic values with Faker (right kinds and ranges, no
  relation to the real distribution), the negative control.
* ``noisy_identity``: training rows with a share of their cells swapped with
  other rows' values, the control between the two: it leaks, but less than
  ``identity``.

Together with ``independent`` (null for record-level privacy: it keeps the
column shapes and forgets who was in the table) these four calibrate every
privacy metric (``tests/test_controls.py``, ``experiment=controls``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.generators.base import BaseGenerator


class IdentityGenerator(BaseGenerator):
    """Returns real training rows (without replacement while ``n <= len(train)``).

    Not a privacy-preserving generator: it is the upper bound for fidelity and
    the lower bound for privacy that every attack must detect.
    """

    name = "identity"

    cacheable = False  # its output is real rows: never written to the synthetic cache

    def _fit(self, train: pd.DataFrame) -> None:
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        replace = n > len(self.train_)
        idx = self.rng_.choice(len(self.train_), size=n, replace=replace)
        return self.train_.iloc[idx]


class NoisyIdentityGenerator(BaseGenerator):
    """Training rows, each released once, with a share of their cells swapped: the in-between control.

    Every cell is replaced independently with probability ``swap_rate`` by the
    same column's value in a training row drawn at random (cell-level data
    swapping, a classic statistical-disclosure-control perturbation). It is a
    mixture, cell by cell, of ``identity`` (``swap_rate = 0``) and
    ``independent`` (``swap_rate = 1``), so every column keeps its marginal
    and swapped cells hold ordinary values (no new unique values that a
    singling-out predicate would latch on to). A row keeps all d cells with
    probability ``(1 - swap_rate)^d``. It is not a privacy mechanism: it is the
    reference every privacy metric must place strictly between ``identity``
    and the null generators (``independent``, ``faker``).

    Args:
        swap_rate: probability that a cell is swapped, in [0, 1].
        random_state: seed.
    Raises (in ``fit``):
        ConfigError: ``swap_rate`` outside [0, 1].
    Source: data swapping, Dalenius & Reiss, "Data-swapping: a technique for
    disclosure control" (J. Statistical Planning and Inference, 1982).
    """

    name = "noisy_identity"

    cacheable = False  # most of its cells are real values: never written to the synthetic cache

    def __init__(self, swap_rate: float = 0.2, random_state: int | None = None) -> None:
        super().__init__(random_state=random_state)
        self.swap_rate = swap_rate

    def _fit(self, train: pd.DataFrame) -> None:
        from bench.errors import ConfigError

        try:
            rate = float(self.swap_rate)
        except (TypeError, ValueError):
            rate = float("nan")
        if not 0 <= rate <= 1:
            raise ConfigError(f"generator.swap_rate must be in [0, 1], got {self.swap_rate!r}")
        self.train_ = train.reset_index(drop=True)

    def _sample(self, n: int) -> pd.DataFrame:
        m = len(self.train_)
        out = self.train_.iloc[self.rng_.choice(m, size=n, replace=n > m)].reset_index(drop=True)
        for col in out.columns:
            hit = self.rng_.random(n) < float(self.swap_rate)
            donor = self.train_[col].to_numpy()[self.rng_.integers(0, m, size=n)]
            out[col] = np.where(hit, donor, out[col].to_numpy())
        return out


class IndependentGenerator(BaseGenerator):
    """Samples each column independently from its empirical marginal (with replacement).

    Keeps every column shape (including missing-value rates) while breaking all
    dependence between columns.
    """

    name = "independent"

    def _fit(self, train: pd.DataFrame) -> None:
        self.values_ = {c: train[c].to_numpy() for c in train.columns}

    def _sample(self, n: int) -> pd.DataFrame:
        return pd.DataFrame({c: v[self.rng_.integers(0, len(v), size=n)] for c, v in self.values_.items()})


class FakerGenerator(BaseGenerator):
    """Format-realistic values per column kind from Faker; the negative control.

    Numerical columns: uniform integers or floats within the schema's public
    bounds (or the training min/max when none are declared); integer columns
    stay integers. Categorical/boolean: a uniform choice from the public domain
    (or the training categories). Datetime: uniform between the training
    extremes. ``id``: UUIDs. No dependence on the real distribution.

    Args:
        locale: Faker locale.
        random_state: seed for Faker.
    """

    name = "faker"

    def __init__(self, locale: str = "en_US", random_state: int | None = None) -> None:
        super().__init__(random_state=random_state)
        self.locale = locale

    def _fit(self, train: pd.DataFrame) -> None:
        from faker import Faker

        self.faker_ = Faker(self.locale)
        self.faker_.seed_instance(self.seed_)
        sch = self.schema_
        self.spec_ = {}
        for col, kind in sch.columns.items():
            s = train[col]
            if kind == "numerical":
                lo, hi = sch.bounds.get(col, (float(s.min()), float(s.max())))
                is_int = pd.api.types.is_integer_dtype(s) or bool(np.all(np.mod(s.dropna().to_numpy(float), 1) == 0))
                self.spec_[col] = ("int", int(np.ceil(lo)), int(np.floor(hi))) if is_int else ("float", lo, hi)
            elif kind in ("categorical", "boolean"):
                dom = sch.domains.get(col) or sorted(s.dropna().astype(str).unique())
                self.spec_[col] = ("choice", list(dom))
            elif kind == "datetime":
                self.spec_[col] = ("datetime", s.min().to_pydatetime(), s.max().to_pydatetime())
            else:
                self.spec_[col] = ("uuid",)

    def _sample(self, n: int) -> pd.DataFrame:
        f = self.faker_
        out = {}
        for col, spec in self.spec_.items():
            if spec[0] == "int":
                out[col] = [f.pyint(min_value=spec[1], max_value=spec[2]) for _ in range(n)]
            elif spec[0] == "float":
                out[col] = [f.pyfloat(min_value=spec[1], max_value=spec[2]) for _ in range(n)]
            elif spec[0] == "choice":
                out[col] = [f.random_element(spec[1]) for _ in range(n)]
            elif spec[0] == "datetime":
                out[col] = [f.date_time_between(start_date=spec[1], end_date=spec[2]) for _ in range(n)]
            else:
                out[col] = [f.uuid4() for _ in range(n)]
        return pd.DataFrame(out)
