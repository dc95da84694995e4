"""Generator protocol, privacy accounting record and the base class.

Every generator follows scikit-learn conventions: ``__init__`` only stores its
keyword arguments, ``fit(train, schema)`` returns ``self``, fitted state ends in
``_``, ``random_state`` is resolved in ``fit``, and :meth:`BaseGenerator.get_params`
returns the constructor's arguments. Generators are built from Hydra configs
(``_target_``) or by name through :func:`bench.generators.registry.make_generator`,
which also finds generators that outside packages register under the
entry-point group ``tailbench.generators``.
"""

from __future__ import annotations

import inspect
import random
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.errors import GeneratorOutputError


@dataclass
class PrivacySpent:
    """What a differentially private generator's guarantee covers.

    Attributes:
        epsilon: epsilon spent (the accountant's value), ``inf`` for none.
        delta: delta of the (epsilon, delta)-DP guarantee; None when no
            guarantee is claimed (epsilon = inf).
        accountant: accountant that computed epsilon, with its library
            (e.g. ``"pld (dp-accounting 0.6.0)"``, ``"laplace-basic-composition"``).
        scope: the parts of training the epsilon covers, e.g.
            ``["sgd", "preprocessing:public", "sampling:poisson"]``.
        full_scope: True only when nothing data-dependent escapes the accountant.
        notes: anything that weakens the guarantee, in words.
        neighbouring: the neighbouring relation the epsilon is stated for:
            ``"replace-one"`` (n is public; the synthetic table has a known
            number of rows) or ``"add/remove-one"``.
        delta_rationale: why this delta (e.g. ``"1/n^2: n*delta = 1/n"``).
        rng: where the mechanism's noise and sampling come from:
            ``"seeded"`` (reproducible; the guarantee assumes the seed is
            secret) or ``"secure"`` (os.urandom, not reproducible).
        bounds_source: where the preprocessing's bounds and domains come from
            (``"public schema (cited in the dataset config)"``, a DP release
            with its budget share, or ``"training rows (not covered)"``).
        tuning_source: the dataset the hyperparameters were chosen on, and
            whether that is the dataset being released.
        outside: what the claimed epsilon does not cover, in words (empty when
            nothing data-dependent escapes it).
    """

    epsilon: float
    delta: float | None
    accountant: str
    scope: list[str] = field(default_factory=list)
    full_scope: bool = False
    notes: list[str] = field(default_factory=list)
    neighbouring: str = "unstated"
    delta_rationale: str = ""
    rng: str = "unstated"
    bounds_source: str = ""
    tuning_source: str = ""
    outside: list[str] = field(default_factory=list)

    @property
    def seeded(self) -> bool:
        """True when the noise follows a seed (the guarantee then assumes the seed is secret)."""
        return self.rng.startswith("seeded")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Generator(Protocol):
    """What tailbench needs from a synthetic-data generator."""

    name: ClassVar[str]
    epsilon: float | None
    delta: float | None
    random_state: int | None

    def fit(self, train: pd.DataFrame, schema: Schema) -> Generator: ...

    def sample(self, n: int) -> pd.DataFrame: ...

    def privacy_spent(self) -> PrivacySpent | None: ...


class BaseGenerator:
    """Convenience base for tailbench's own generators (non-DP by default).

    Subclasses implement ``_fit(train)`` and ``_sample(n, rng)``; this class
    stores the schema, resolves the seed and checks the output contract.
    """

    name: ClassVar[str] = "base"
    epsilon: float | None = None
    delta: float | None = None

    def __init__(self, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, train: pd.DataFrame, schema: Schema) -> BaseGenerator:
        """Fit on the training split.

        Args:
            train: (n, d) table coerced to ``schema``.
            schema: the table's schema.
        Returns:
            self.
        """
        self.schema_ = schema
        self.columns_ = list(train.columns)
        self.dtypes_ = train.dtypes
        self.seed_ = resolve_seed(self.random_state)
        self.rng_ = np.random.default_rng(self.seed_)
        seed_everything(self.seed_)
        self._fit(train)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        """Draw ``n`` synthetic rows with the training table's columns.

        Raises:
            ValueError: if ``n`` is not a positive integer.
            RuntimeError: if called before ``fit``.
        """
        if not hasattr(self, "rng_"):
            raise RuntimeError(f"{type(self).__name__}.sample called before fit")
        if int(n) < 1:
            raise ValueError(f"sample(n) needs n >= 1, got {n}")
        out = self._sample(int(n))
        return out[self.columns_].reset_index(drop=True)

    def privacy_spent(self) -> PrivacySpent | None:
        return None

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """The constructor's arguments as stored on the instance (scikit-learn's ``get_params``).

        Args:
            deep: accepted for scikit-learn compatibility; generators hold no
                nested estimators, so it changes nothing.
        Returns:
            ``{argument: value}`` for every named ``__init__`` argument.
        """
        return {k: getattr(self, k) for k in _init_arguments(type(self))}

    def _fit(self, train: pd.DataFrame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, n: int) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError


def resolve_seed(random_state: int | None) -> int:
    """An int seed: ``random_state`` itself, or a fresh one when it is None."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    return int(random_state)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's legacy global RNG and torch (if imported)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def check_output(synthetic: pd.DataFrame, n: int, schema: Schema, generator: str) -> pd.DataFrame:
    """Validate a generator's output against the contract and coerce its dtypes.

    Raises:
        GeneratorOutputError: wrong row count, missing or extra columns, or a
            column that is entirely NaN while the schema expects values.
    """
    if not isinstance(synthetic, pd.DataFrame):
        raise GeneratorOutputError(
            f"generator {generator!r} returned {type(synthetic).__name__}, expected a pandas DataFrame"
        )
    if len(synthetic) != n:
        raise GeneratorOutputError(f"generator {generator!r} returned {len(synthetic)} rows, asked for {n}")
    missing = [c for c in schema.columns if c not in synthetic.columns]
    extra = [c for c in synthetic.columns if c not in schema.columns]
    if missing or extra:
        raise GeneratorOutputError(
            f"generator {generator!r} returned the wrong columns: missing {missing}, unexpected {extra}"
        )
    try:
        return schema.coerce(synthetic, check_target=False)
    except Exception as exc:  # noqa: BLE001 - re-raised with the generator named
        raise GeneratorOutputError(f"generator {generator!r} output breaks the schema: {exc}") from exc


def _init_arguments(cls: type) -> list[str]:
    """Names of ``cls.__init__``'s explicit arguments (``self`` and ``*args``/``**kwargs`` excluded)."""
    sig = inspect.signature(cls.__init__)
    return [
        p.name for p in sig.parameters.values() if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
